import { Hono, type Context } from 'hono';
import { zValidator } from '@hono/zod-validator';
import { z } from 'zod';
import { StackRef, stackKey } from '../../shared/names';
import { DeploymentSettingsInput, type DeploymentSettings } from '../../shared/settings';
import { foreignCiphertexts, sealSecrets } from '../../shared/secrets';
import { mergeSettings, stripNulls } from '../../shared/merge';
import { apiError, badRequest, onInvalid } from '../errors';
import { moveUrlCredentials, repoUrlIssues } from '../../shared/repo-url';
import { requireJson } from '../json-body';
import { audit } from '../audit';
import type { AuditEvent } from '../../store/audit';
import type { ApiDeps } from '../deps';

const body = () => zValidator('json', DeploymentSettingsInput, onInvalid());
const params = zValidator('param', StackRef, onInvalid());

/** Pulumi's CLI sends the value as a bare JSON string; the spec's form is `{secret}`. */
export const SecretToEncrypt = z.union([z.string(), z.object({ secret: z.string() }).strict()]).transform((v) => (typeof v === 'string' ? v : v.secret));

/** GET | POST (merge) | PUT (replace) | DELETE .../deployments/settings, and POST .../settings/encrypt */
export function settingsRoutes(deps: ApiDeps) {
  const seal = (s: DeploymentSettingsInput) => sealSecrets(moveUrlCredentials(s), deps.box.encrypt) as DeploymentSettings;
  const urlIssues = (s: DeploymentSettingsInput) => repoUrlIssues(s.sourceContext?.git?.repoURL, deps.allowLocalRepos ?? false);
  const show = (s: { settings: DeploymentSettings; version: number }) => ({ ...s.settings, version: s.version });
  // A {ciphertext} the client sends back must be one this server made.
  const foreign = (c: Context, input: object) => {
    const issues = foreignCiphertexts(input, deps.box.decrypt);
    return issues.length ? badRequest(c, issues) : undefined;
  };
  const changed = (c: Context, ref: StackRef, event: Extract<AuditEvent, `settings.${string}`>, description: string) =>
    audit(c, deps, { org: ref.org, event, target: stackKey(ref), description });

  return new Hono()
    .get('/', params, async (c) => {
      const found = await deps.store.getSettings(c.req.valid('param'));
      return found ? c.json(show(found)) : apiError(c, 404, 'no deployment settings for this stack');
    })
    .post('/', params, requireJson, body(), async (c) => {
      const ref = c.req.valid('param');
      const input = c.req.valid('json');
      const refused = foreign(c, input);
      if (refused) return refused;
      const urls = urlIssues(input);
      if (urls.length) return badRequest(c, urls);
      const current = await deps.store.getSettings(ref);
      const saved = await deps.store.saveSettings(ref, mergeSettings<DeploymentSettings>(current?.settings, seal(input)));
      await changed(c, ref, 'settings.update', `Updated the deployment settings (version ${saved.version})`);
      return c.json(show(saved));
    })
    .put('/', params, requireJson, body(), async (c) => {
      const ref = c.req.valid('param');
      const input = c.req.valid('json');
      const refused = foreign(c, input);
      if (refused) return refused;
      const urls = urlIssues(input);
      if (urls.length) return badRequest(c, urls);
      const saved = await deps.store.saveSettings(ref, stripNulls(seal(input)));
      await changed(c, ref, 'settings.replace', `Replaced the deployment settings (version ${saved.version})`);
      return c.json(show(saved));
    })
    .delete('/', params, async (c) => {
      const ref = c.req.valid('param');
      if (!(await deps.store.deleteSettings(ref))) return apiError(c, 404, 'no deployment settings for this stack');
      await changed(c, ref, 'settings.delete', 'Deleted the deployment settings');
      return c.json(true);
    })
    .post('/encrypt', params, requireJson, zValidator('json', SecretToEncrypt, onInvalid()), async (c) => {
      const plain = c.req.valid('json');
      if (plain === '') return badRequest(c, [{ path: [], message: 'the value to encrypt is empty' }]);
      return c.json({ ciphertext: deps.box.encrypt(plain) });
    });
}
