import { Hono } from 'hono';
import { zValidator } from '@hono/zod-validator';
import { z } from 'zod';
import { StackName, StackRef, stackKey } from '../../shared/names';
import { audit } from '../audit';
import { PulumiState, type UpdateRecord } from '../../state/pulumi-state';
import { stackHistory, updatesOf } from '../stack-updates';
import { apiError, badRequest, onInvalid } from '../errors';
import { PassphraseCrypter } from '../../state/passphrase-crypter';
import { asServiceSecrets } from '../../state/service-secrets';
import { requireJson } from '../json-body';
import { stackExists } from '../paging';
import type { ApiDeps } from '../deps';

const params = zValidator('param', StackRef, onInvalid());
const projectParams = zValidator('param', StackRef.pick({ org: true, project: true }), onInvalid());

/** `pulumi stack init`'s request. A stack here is its settings: tags, teams, state and config are not kept. */
export const CreateStackRequest = z
  .object({
    stackName: StackName,
    tags: z.record(z.string(), z.string()).nullish(),
    teams: z.array(z.string()).nullish(),
    state: z.null().optional(),
    config: z.null().optional(),
  })
  .strict();
const withVersion = zValidator('param', StackRef.extend({ version: z.coerce.number().int().min(1) }), onInvalid());
const withId = zValidator('param', StackRef.extend({ id: z.string() }), onInvalid());
const Base64 = z.string().regex(/^[A-Za-z0-9+/]*={0,2}$/, 'expected base64');
export const DecryptRequest = z.object({ ciphertext: Base64 }).strict();
export const BatchDecryptRequest = z.object({ ciphertexts: z.array(Base64).max(10_000) }).strict();
const crypter = new PassphraseCrypter();

export const HistoryQuery = z.object({
  page: z.coerce.number().int().min(0).default(0),
  pageSize: z.coerce.number().int().min(0).default(10),
  'output-type': z.string().optional(),
});

/** Pulumi's flat UpdateInfo, as `pulumi stack history` reads it. */
const flat = (u: UpdateRecord) => ({
  kind: u.kind,
  startTime: u.startTime,
  endTime: u.endTime,
  message: u.message ?? '',
  environment: u.environment ?? {},
  config: u.config ?? {},
  result: u.result,
  version: u.version,
  resourceChanges: u.resourceChanges ?? {},
  ...(u.resourceCount !== undefined && { resourceCount: u.resourceCount }),
});

/** The nested form (`{info, updateID, version, latestVersion, requestedBy}`) of one update. */
const nested = (u: UpdateRecord, latestVersion: number) => ({
  info: flat(u),
  updateID: u.updateID,
  version: u.version,
  latestVersion,
  requestedBy: { name: 'stackwright', githubLogin: 'stackwright', avatarUrl: '' },
});

/**
 * The stack itself, as Pulumi's clients read it: `GET /api/stacks/{org}/{project}/{stack}` (the CLI
 * builds every later URL from its answer), its checkpoint (`/export`) and update history
 * (`/updates`), read from the Pulumi backend that deployments write to. Pulumi runs `pulumi stack
 * output` and `pulumi stack history` from these.
 */
export function stackRoutes(deps: ApiDeps) {
  const state = (ref: StackRef) => PulumiState.open(deps.stateBackendUrl(ref));
  const history = (ref: StackRef) => stackHistory(deps, ref);

  // Decrypts a base64 ciphertext of the export with the stack's passphrase and the checkpoint's salt.
  const opener = async (ref: StackRef) => {
    const salt = ((await state(ref)?.checkpoint(ref))?.checkpoint.latest?.secrets_providers as { state?: { salt?: string } } | undefined)?.state?.salt;
    if (!salt) return undefined;
    const passphrase = await deps.pulumiPassphrase(ref);
    return (b64: string) => crypter.decrypt(passphrase, salt, Buffer.from(b64, 'base64').toString('utf8'));
  };

  return new Hono()
    .get('/', params, async (c) => {
      const ref = c.req.valid('param');
      const checkpoint = await state(ref)?.checkpoint(ref);
      if (!checkpoint && !(await stackExists(deps.store, ref))) return apiError(c, 404, 'stack not found');
      const updates = await history(ref);
      const last = updates.at(-1);
      return c.json({
        id: `${ref.org}/${ref.project}/${ref.stack}`,
        orgName: ref.org,
        projectName: ref.project,
        stackName: ref.stack,
        activeUpdate: last?.updateID ?? '',
        tags: {},
        version: last?.version ?? 0,
      });
    })
    .get('/export', params, async (c) => {
      const ref = c.req.valid('param');
      const checkpoint = await state(ref)?.checkpoint(ref);
      if (!checkpoint) {
        if (!(await stackExists(deps.store, ref))) return apiError(c, 404, 'stack not found');
        return c.json({ version: 3, deployment: { manifest: { time: new Date(0).toISOString(), magic: '', version: '' } } });
      }
      const { deployment } = asServiceSecrets(checkpoint.checkpoint.latest ?? {}, ref, new URL(c.req.url).origin);
      return c.json({ version: checkpoint.version, deployment });
    })
    // The "service" secrets provider of the export above: values are base64 of passphrase ciphertexts.
    .post('/decrypt', params, requireJson, zValidator('json', DecryptRequest, onInvalid()), async (c) => {
      const open = await opener(c.req.valid('param'));
      if (!open) return apiError(c, 404, 'this stack has no secrets');
      const plain = await open(c.req.valid('json').ciphertext).catch(() => undefined);
      return plain === undefined ? badRequest(c, [{ path: ['ciphertext'], message: 'cannot be decrypted with this stack\'s key' }]) : c.json({ plaintext: Buffer.from(plain).toString('base64') });
    })
    .post('/batch-decrypt', params, requireJson, zValidator('json', BatchDecryptRequest, onInvalid()), async (c) => {
      const open = await opener(c.req.valid('param'));
      if (!open) return apiError(c, 404, 'this stack has no secrets');
      const plaintexts: Record<string, string> = {};
      for (const [i, ct] of c.req.valid('json').ciphertexts.entries()) {
        const plain = await open(ct).catch(() => undefined);
        if (plain === undefined) return badRequest(c, [{ path: ['ciphertexts', i], message: 'cannot be decrypted with this stack\'s key' }]);
        plaintexts[ct] = Buffer.from(plain).toString('base64');
      }
      return c.json({ plaintexts });
    })
    .get('/updates', params, zValidator('query', HistoryQuery, onInvalid(['query'])), async (c) => {
      const ref = c.req.valid('param');
      const { page, pageSize } = c.req.valid('query');
      const all = (await history(ref)).reverse(); // newest first, as Pulumi lists them
      if (!all.length && !(await stackExists(deps.store, ref))) return apiError(c, 404, 'stack not found');
      const shown = page === 0 ? all : all.slice((page - 1) * pageSize, page * pageSize);
      return c.json({ updates: shown.map(flat), itemsPerPage: page === 0 ? all.length : pageSize, total: all.length });
    })
    .get('/updates/latest', params, async (c) => {
      const ref = c.req.valid('param');
      const all = await history(ref);
      const last = all.at(-1);
      return last ? c.json(nested(last, last.version)) : apiError(c, 404, 'this stack has no updates');
    })
    .get('/updates/:version', withVersion, async (c) => {
      const { version, ...ref } = c.req.valid('param');
      const all = await history(ref);
      const found = all.find((u) => u.version === version);
      return found ? c.json(nested(found, all.length)) : apiError(c, 404, `this stack has no update ${version}`);
    })
    .get('/deployments/:id/updates', withId, async (c) => {
      const { id, ...ref } = c.req.valid('param');
      const d = await deps.store.getDeployment(ref, id);
      if (!d) return apiError(c, 404, 'deployment not found');
      const all = await history(ref);
      return c.json(updatesOf(all, d.id).map((u) => nested(u, all.length)));
    });
}

/**
 * `POST /api/stacks/{org}/{project}` (`pulumi stack init org/project/stack`): registers the stack
 * with empty deployment settings, so that `pulumi deployment settings edit` can fill them in.
 */
export function projectRoutes(deps: ApiDeps) {
  return new Hono().post('/', projectParams, requireJson, zValidator('json', CreateStackRequest, onInvalid()), async (c) => {
    const ref = { ...c.req.valid('param'), stack: c.req.valid('json').stackName };
    if (await stackExists(deps.store, ref)) return apiError(c, 409, `stack ${ref.org}/${ref.project}/${ref.stack} already exists`);
    await deps.store.saveSettings(ref, {});
    await audit(c, deps, { org: ref.org, event: 'stack.create', target: stackKey(ref), description: 'Created the stack' });
    return c.json({ messages: [] });
  });
}
