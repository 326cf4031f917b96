import type { Client } from '@temporalio/client';
import type { Logger } from 'pino';
import type { Store } from '../store/store';
import { SecretBox } from '../secret-box';
import type { Config } from '../config';
import type { StackRef } from '../shared/names';
import type { LogStreamTiming } from './log-stream';
import { stateBackendUrl } from '../state/backend-url';
import { passphraseFor } from '../state/stack-passphrase';
import { passphraseScheme } from '../store/stack-keys';
import type { CodecRouteDeps } from '../codec/codec-routes';
import { codecKeys, codecPathToken, EncryptionCodec } from '../codec/payload-codec';
import { hookRetry, type HookSettings } from '../deployments/hook-events';
import { oidcIssuer, type OidcIssuer } from '../state/oidc-issuer';

export interface ApiDeps {
  store: Store;
  box: SecretBox;
  temporal: Client;
  token: string;
  taskQueue: string;
  namespace: string;
  /** Base URL of this API, used in links. */
  publicUrl: string;
  /** Temporal Web UI base URL; deployments link to their workflow there when set. */
  temporalUiUrl?: string;
  log: Logger;
  /** Inbound git webhooks: a route without its secret refuses every request. */
  webhooks?: {
    githubSecret?: string;
    gitlabToken?: string;
    genericVcsSecret?: string;
    maxBytes: number;
    /** Lists a pull request's files for path filters (GitHub's webhook does not). */
    github?: { apiUrl: string; token?: string };
    /** Checks a merge request commenter's access and answers them. */
    gitlab?: { apiUrl: string; token?: string };
  };
  /** The Pulumi backend URL of a stack (stack reads, exports and history come from it). */
  stateBackendUrl: (ref: StackRef) => string;
  /** The passphrase of a stack's Pulumi secrets: the API decrypts for `pulumi stack output --show-secrets`. */
  pulumiPassphrase: (ref: StackRef) => Promise<string>;
  /** file:// and local repository paths are accepted (STACKWRIGHT_ALLOW_LOCAL_REPOS). */
  allowLocalRepos?: boolean;
  /** The remote codec endpoint (/codec/encode, /codec/decode). */
  codec?: Omit<CodecRouteDeps, 'allows'>;
  /** Lead times of deployment_ttl_warning before a TTL stack's deadline (ms). */
  ttlWarningLeadsMs?: number[];
  /** Outgoing webhooks: delivery retries, private targets. */
  hooks?: HookSettings;
  /** How log streams poll the store; the defaults suit production. */
  logStream?: LogStreamTiming;
  /** Bearer token /metrics requires (STACKWRIGHT_METRICS_TOKEN); unset: the metrics are public. */
  metricsToken?: string;
  /** Publishes the keys of deployments' OIDC tokens (discovery document and JWKS). */
  oidc?: OidcIssuer;
}

/** The API's dependencies as configured. */
export function apiDeps(config: Config, store: Store, temporal: Client, log: Logger): ApiDeps {
  return {
    store,
    box: new SecretBox(config.secretsKey),
    temporal,
    token: config.token,
    taskQueue: config.STACKWRIGHT_TASK_QUEUE,
    namespace: config.TEMPORAL_NAMESPACE,
    publicUrl: config.publicUrl,
    temporalUiUrl: config.STACKWRIGHT_TEMPORAL_UI_URL,
    log,
    stateBackendUrl: (ref) => stateBackendUrl(config.dataDir, config.PULUMI_BACKEND_URL, ref),
    pulumiPassphrase: async (ref) => passphraseFor(await passphraseScheme(store.db, ref), config.pulumiPassphrase, config.secretsKey, ref),
    allowLocalRepos: config.STACKWRIGHT_ALLOW_LOCAL_REPOS,
    ttlWarningLeadsMs: config.STACKWRIGHT_TTL_WARNINGS,
    hooks: { retry: hookRetry(config.STACKWRIGHT_HOOK_RETRY_SECONDS), allowPrivate: config.STACKWRIGHT_WEBHOOK_ALLOW_PRIVATE },
    metricsToken: config.STACKWRIGHT_METRICS_TOKEN,
    oidc: oidcIssuer(config, store),
    codec: {
      codec: new EncryptionCodec(codecKeys(config.secretsKey, config.STACKWRIGHT_CODEC_KEYS)),
      pathToken: codecPathToken(config.secretsKey),
      uiOrigin: config.STACKWRIGHT_TEMPORAL_UI_URL ? new URL(config.STACKWRIGHT_TEMPORAL_UI_URL).origin : undefined,
    },
    webhooks: {
      githubSecret: config.STACKWRIGHT_GITHUB_WEBHOOK_SECRET,
      gitlabToken: config.STACKWRIGHT_GITLAB_WEBHOOK_TOKEN,
      genericVcsSecret: config.STACKWRIGHT_GENERIC_VCS_SECRET,
      maxBytes: config.STACKWRIGHT_WEBHOOK_MAX_BYTES,
      github: { apiUrl: config.STACKWRIGHT_GITHUB_API_URL, token: config.STACKWRIGHT_GITHUB_TOKEN },
      gitlab: { apiUrl: config.STACKWRIGHT_GITLAB_API_URL, token: config.STACKWRIGHT_GITLAB_TOKEN },
    },
  };
}
