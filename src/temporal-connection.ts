import { readFileSync } from 'node:fs';
import type { TLSConfig } from '@temporalio/client';
import { ConfigError, type EnvConfig } from './config';

/** How to reach Temporal beyond its address: mTLS (TEMPORAL_TLS_*) and/or an API key (Temporal Cloud). */
export interface TemporalAccess {
  tls?: TLSConfig | boolean;
  apiKey?: string;
}

type AccessEnv = Pick<EnvConfig, 'TEMPORAL_TLS_CERT' | 'TEMPORAL_TLS_KEY' | 'TEMPORAL_TLS_CA' | 'TEMPORAL_TLS_SERVER_NAME' | 'TEMPORAL_API_KEY'>;

/** Reads the certificate files once at start-up, so a missing file stops the role with its name. */
export function temporalAccess(e: AccessEnv): TemporalAccess {
  if (!e.TEMPORAL_TLS_CERT !== !e.TEMPORAL_TLS_KEY) throw new ConfigError('invalid configuration:\n  TEMPORAL_TLS_CERT and TEMPORAL_TLS_KEY go together (a client certificate and its key)');
  const read = (name: keyof AccessEnv) => {
    const file = e[name]!;
    try {
      return readFileSync(file);
    } catch (err) {
      throw new ConfigError(`invalid configuration:\n  ${name}: cannot read ${file}: ${(err as Error).message}`);
    }
  };
  const wantsTls = e.TEMPORAL_TLS_CERT || e.TEMPORAL_TLS_CA || e.TEMPORAL_TLS_SERVER_NAME;
  const tls = wantsTls
    ? {
        ...(e.TEMPORAL_TLS_CERT && { clientCertPair: { crt: read('TEMPORAL_TLS_CERT'), key: read('TEMPORAL_TLS_KEY') } }),
        ...(e.TEMPORAL_TLS_CA && { serverRootCACertificate: read('TEMPORAL_TLS_CA') }),
        ...(e.TEMPORAL_TLS_SERVER_NAME && { serverNameOverride: e.TEMPORAL_TLS_SERVER_NAME }),
      }
    : // An API key travels only over TLS (Temporal Cloud's endpoints require it).
      e.TEMPORAL_API_KEY
      ? true
      : undefined;
  return { ...(tls && { tls }), ...(e.TEMPORAL_API_KEY && { apiKey: e.TEMPORAL_API_KEY }) };
}
