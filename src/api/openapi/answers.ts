import { z } from 'zod';
import { DeploymentStatus, Operation } from '../../shared/deployment';
import { settingsFields } from '../../shared/settings';

// The shapes of the API's answers, for the OpenAPI description (requests are described by the
// schemas the routes validate with). They follow Pulumi Deployments' answers.

/** Pulumi's error body, plus one entry per bad field on a 400. */
export const ErrorAnswer = z.object({
  code: z.number().int(),
  message: z.string(),
  errors: z.array(z.object({ field: z.string(), message: z.string() })).optional(),
});

const PulumiTime = z.string().describe('"2022-10-17 22:12:34.834" (UTC)');
const Step = z.object({ name: z.string(), status: z.string(), started: z.string(), lastUpdated: z.string() });

export const Deployment = z.object({
  id: z.string(),
  created: PulumiTime,
  modified: PulumiTime,
  status: DeploymentStatus,
  version: z.number().int(),
  latestVersion: z.number().int(),
  message: z.string().optional(),
  requestedBy: z.object({ name: z.string(), githubLogin: z.string(), avatarUrl: z.string() }),
  projectName: z.string(),
  stackName: z.string(),
  pulumiOperation: Operation,
  initiator: z.string(),
  inheritSettings: z.boolean(),
  jobs: z.array(z.object({ status: DeploymentStatus, started: z.string(), lastUpdated: z.string(), steps: z.array(Step) })),
  configuration: z.object({
    environmentVariables: z.array(z.object({ name: z.string(), value: z.string().optional(), secret: z.boolean() })),
    source: z.object({ git: z.object({ repoURL: z.string().optional(), branch: z.string().optional(), commit: z.string().optional(), repoDir: z.string().optional() }).optional() }),
  }),
  updates: z.array(z.object({}).passthrough()),
  approval: z
    .object({ changeSummary: z.unknown(), previewLogs: z.string(), requiredApprovals: z.number().int(), approvers: z.array(z.string()), deadline: z.string().optional() })
    .optional(),
  approvals: z.array(z.object({}).passthrough()).optional(),
});

export const DeploymentList = z.object({ deployments: z.array(Deployment), itemsPerPage: z.number().int(), total: z.number().int() });

export const CreatedDeployment = z.object({ id: z.string(), version: z.number().int(), consoleUrl: z.string() });

/** Stored settings: secrets come back as {ciphertext}, which a later request may send unchanged. */
export const StoredSettings = z.object({ ...settingsFields, version: z.number().int() }).strict();

export const StackQueueMetadata = z.object({ paused: z.boolean(), stackPaused: z.boolean(), organizationPaused: z.boolean(), hasSchedules: z.boolean() });

export const OrgQueueMetadata = z.object({
  paused: z.boolean(),
  pausedStacks: z.array(z.string()),
  concurrency: z.number().int(),
  deploymentCounts: z.object({
    notStarted: z.number().int(),
    accepted: z.number().int(),
    running: z.number().int(),
    failed: z.number().int(),
    succeeded: z.number().int(),
    skipped: z.number().int(),
    total: z.number().int(),
  }),
});

export const CancelAnswer = z.object({ id: z.string(), version: z.number().int(), cancelRequested: z.literal(true) });

export const User = z.object({
  id: z.string(),
  name: z.string(),
  githubLogin: z.string(),
  email: z.string(),
  avatarUrl: z.string(),
  organizations: z.array(z.object({ name: z.string(), githubLogin: z.string(), avatarUrl: z.string(), role: z.enum(['admin', 'member']) })),
  tokenInfo: z.object({ name: z.string(), organization: z.string(), team: z.string(), role: z.enum(['viewer', 'deployer', 'admin']) }),
}).passthrough();

export const Stack = z.object({
  id: z.string(),
  orgName: z.string(),
  projectName: z.string(),
  stackName: z.string(),
  activeUpdate: z.string(),
  tags: z.record(z.string(), z.string()),
  version: z.number().int(),
});

export const DriftStatusAnswer = z.object({ latestDriftRun: z.string() }).passthrough();

export const Schedule = z.object({
  id: z.string(),
  orgID: z.string(),
  scheduleCron: z.string().optional(),
  scheduleOnce: z.string().optional(),
  nextExecution: z.string(),
  paused: z.boolean(),
  kind: z.literal('deployment'),
  definition: z.object({ request: z.object({}).passthrough() }),
  created: PulumiTime,
  modified: PulumiTime,
  lastExecuted: z.string(),
});

export const ScheduleList = z.object({ schedules: z.array(Schedule) });

export const LogAnswer = z.object({}).passthrough().describe('Pulumi\'s deployment log: lines with a continuation token, or one step\'s lines');

export const ReviewStackList = z.object({ reviewStacks: z.array(z.object({}).passthrough()), itemsPerPage: z.number().int(), total: z.number().int() });
