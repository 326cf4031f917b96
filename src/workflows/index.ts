// The worker's workflowsPath: every workflow type is exported from here.
export { deployment } from './deployment';
export { stackQueue } from './stack-queue';
export { webhookDelivery } from './webhook-delivery';
export { scheduledDeployment } from './scheduled-deployment';
export { ttlStack } from './ttl-stack';
export { reviewStack } from './review-stack';
export { hookDelivery } from './hook-delivery';
export { chain, chainLink } from './chain';
export { poolGateway } from './pool-gateway';
