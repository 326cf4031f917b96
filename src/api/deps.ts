import type { Client } from '@temporalio/client';
import type { Logger } from 'pino';
import type { Store } from '../store/store';
import type { SecretBox } from '../secret-box';

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
}
