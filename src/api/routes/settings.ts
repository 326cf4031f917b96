import { Hono, type Context } from 'hono';
import { zValidator } from '@hono/zod-validator';
import { StackRef, stackKey } from '../../shared/names';
import { DeploymentSettingsInput, type DeploymentSettings } from '../../shared/settings';
import { sealSecrets } from '../../shared/secrets';
import { mergeSettings, stripNulls } from '../../shared/merge';
import { apiError, onInvalid } from '../errors';
import { requireJson } from '../json-body';
import { audit } from '../audit';
import type { AuditEvent } from '../../store/audit';
import type { ApiDeps } from '../deps';

const body = () => zValidator('json', DeploymentSettingsInput, onInvalid());
const params = zValidator('param', StackRef, onInvalid());

/** GET | POST (merge) | PUT (replace) | DELETE .../deployments/settings */
export function settingsRoutes(deps: ApiDeps) {
  const seal = (s: object) => sealSecrets(s, deps.box.encrypt) as DeploymentSettings;
  const show = (s: { settings: DeploymentSettings; version: number }) => ({ ...s.settings, version: s.version });
  const changed = (c: Context, ref: StackRef, event: Extract<AuditEvent, `settings.${string}`>, description: string) =>
    audit(c, deps, { org: ref.org, event, target: stackKey(ref), description });

  return new Hono()
    .get('/', params, async (c) => {
      const found = await deps.store.getSettings(c.req.valid('param'));
      return found ? c.json(show(found)) : apiError(c, 404, 'no deployment settings for this stack');
    })
    .post('/', params, requireJson, body(), async (c) => {
      const ref = c.req.valid('param');
      const current = await deps.store.getSettings(ref);
      const merged = mergeSettings<DeploymentSettings>(current?.settings, seal(c.req.valid('json')));
      const saved = await deps.store.saveSettings(ref, merged);
      await changed(c, ref, 'settings.update', `Updated the deployment settings (version ${saved.version})`);
      return c.json(show(saved));
    })
    .put('/', params, requireJson, body(), async (c) => {
      const ref = c.req.valid('param');
      const saved = await deps.store.saveSettings(ref, stripNulls(seal(c.req.valid('json'))));
      await changed(c, ref, 'settings.replace', `Replaced the deployment settings (version ${saved.version})`);
      return c.json(show(saved));
    })
    .delete('/', params, async (c) => {
      const ref = c.req.valid('param');
      if (!(await deps.store.deleteSettings(ref))) return apiError(c, 404, 'no deployment settings for this stack');
      await changed(c, ref, 'settings.delete', 'Deleted the deployment settings');
      return c.body(null, 204);
    });
}
