import { randomUUID } from 'node:crypto';
import { calculateJwkThumbprint, exportJWK, generateKeyPair, importJWK, SignJWT, type JWK } from 'jose';
import { SecretBox } from '../secret-box';
import type { Config } from '../config';
import { OidcKeyStore, type OidcKeyRow } from '../store/oidc-keys';
import { oidcSubject } from '../shared/oidc';

/** RS256: the one algorithm AWS STS, Microsoft Entra and Google STS all accept. */
const ALG = 'RS256';

export interface OidcIssuerOptions {
  /** Public base URL of Stackwright; the issuer is `<publicUrl>/oidc`, as Pulumi Cloud's is `https://api.pulumi.com/oidc`. */
  publicUrl: string;
  /** Lifetime of a deployment's token. */
  tokenSeconds: number;
  /** A new signing key after this age; older keys stay published while their tokens may be valid. */
  rotationSeconds: number;
  now?: () => Date;
}

export interface DeploymentClaims {
  org: string;
  project: string;
  stack: string;
  operation: string;
  /** Deployment id and number (PULUMI_CI_BUILD_ID, PULUMI_CI_BUILD_NUMBER). */
  deploymentId: string;
  version: number;
}

export const issuerUrl = (publicUrl: string): string => `${publicUrl.replace(/\/+$/, '')}/oidc`;

/**
 * Stackwright as an OpenID Connect issuer of short-lived deployment tokens. Keys live in the store
 * (the data dir's database, or the shared PostgreSQL), private halves sealed with the secrets key:
 * every API process publishes what every worker signs with.
 */
export class OidcIssuer {
  readonly issuer: string;
  /** Lifetime of the tokens it mints. */
  readonly tokenSeconds: number;
  private readonly keys: OidcKeyStore;
  private readonly now: () => Date;

  constructor(
    store: { db: ConstructorParameters<typeof OidcKeyStore>[0] },
    private readonly box: SecretBox,
    private readonly o: OidcIssuerOptions,
  ) {
    this.issuer = issuerUrl(o.publicUrl);
    this.tokenSeconds = o.tokenSeconds;
    this.keys = new OidcKeyStore(store.db);
    this.now = o.now ?? (() => new Date());
  }

  /** The discovery document (`/.well-known/openid-configuration`). */
  discovery() {
    return {
      issuer: this.issuer,
      jwks_uri: `${this.issuer}/.well-known/jwks`,
      response_types_supported: ['id_token'],
      subject_types_supported: ['public'],
      id_token_signing_alg_values_supported: [ALG],
      scopes_supported: ['openid'],
      claims_supported: ['iss', 'sub', 'aud', 'exp', 'iat', 'nbf', 'jti', 'org', 'project', 'stack', 'operation', 'deployment', 'deploymentId', 'scope'],
    };
  }

  /** The public keys a verifier may meet. */
  async jwks(): Promise<{ keys: JWK[] }> {
    const rows = await this.keys.published(this.now().toISOString());
    return { keys: rows.map((r) => ({ ...(r.publicJwk as unknown as JWK), kid: r.kid, alg: r.alg, use: 'sig' })) };
  }

  /** A token for one deployment, signed with the current key (made or rotated here when due). */
  async mint(d: DeploymentClaims): Promise<{ token: string; expires: Date; kid: string }> {
    const key = await this.signingKey();
    const now = this.now();
    const iat = Math.floor(now.getTime() / 1000);
    const exp = iat + this.o.tokenSeconds;
    const expires = new Date(exp * 1000);
    // Published before the token exists, so a verifier never meets an unknown key.
    await this.keys.publishUntil(key.kid, expires.toISOString());
    const priv = await importJWK(JSON.parse(this.box.decrypt(key.sealedPrivateJwk)) as JWK, ALG);
    const token = await new SignJWT({
      org: d.org,
      project: d.project,
      stack: d.stack,
      operation: d.operation,
      deployment: d.version,
      deploymentId: d.deploymentId,
      scope: 'write',
    })
      .setProtectedHeader({ alg: ALG, kid: key.kid, typ: 'JWT' })
      .setIssuer(this.issuer)
      .setSubject(oidcSubject(d))
      .setAudience(d.org)
      .setIssuedAt(iat)
      .setNotBefore(iat)
      .setExpirationTime(exp)
      .setJti(randomUUID())
      .sign(priv);
    return { token, expires, kid: key.kid };
  }

  private async signingKey(): Promise<OidcKeyRow> {
    const now = this.now();
    const newest = await this.keys.newest();
    if (newest && now.getTime() - Date.parse(newest.created) < this.o.rotationSeconds * 1000) return newest;
    const { publicKey, privateKey } = await generateKeyPair(ALG, { modulusLength: 2048, extractable: true });
    const publicJwk = await exportJWK(publicKey);
    const row: OidcKeyRow = {
      kid: await calculateJwkThumbprint(publicJwk),
      alg: ALG,
      publicJwk: { ...publicJwk },
      sealedPrivateJwk: this.box.encrypt(JSON.stringify(await exportJWK(privateKey))),
      created: now.toISOString(),
      publishUntil: now.toISOString(),
    };
    await this.keys.add(row);
    await this.keys.prune(now.toISOString(), row.kid);
    return row;
  }
}

/** The issuer as configured: workers sign with it, API processes publish its keys. */
export const oidcIssuer = (config: Config, store: { db: ConstructorParameters<typeof OidcKeyStore>[0] }): OidcIssuer =>
  new OidcIssuer(store, new SecretBox(config.secretsKey), {
    publicUrl: config.publicUrl,
    tokenSeconds: config.STACKWRIGHT_OIDC_TOKEN_SECONDS,
    rotationSeconds: config.STACKWRIGHT_OIDC_KEY_ROTATION_SECONDS,
  });
