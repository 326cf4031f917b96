import { Hono } from 'hono';
import { zValidator } from '@hono/zod-validator';
import { StackRef } from '../../shared/names';
import { DeploymentSettingsInput, type DeploymentSettings } from '../../shared/settings';
import { sealSecrets } from '../../shared/secrets';
import { mergeSettings, stripNulls } from '../../shared/merge';
import { apiError, badRequest, onInvalid } from '../errors';
import { moveUrlCredentials, repoUrlIssues } from '../../shared/repo-url';
import { requireJson } from '../json-body';
import type { ApiDeps } from '../deps';

const body = () => zValidator('json', DeploymentSettingsInput, onInvalid());
const params = zValidator('param', StackRef, onInvalid());

/** GET | POST (merge) | PUT (replace) | DELETE .../deployments/settings */
export function settingsRoutes(deps: ApiDeps) {
  const seal = (s: DeploymentSettingsInput) => sealSecrets(moveUrlCredentials(s), deps.box.encrypt) as DeploymentSettings;
  const urlIssues = (s: DeploymentSettingsInput) => repoUrlIssues(s.sourceContext?.git?.repoURL, deps.allowLocalRepos ?? false);
  const show = (s: { settings: DeploymentSettings; version: number }) => ({ ...s.settings, version: s.version });

  return new Hono()
    .get('/', params, async (c) => {
      const found = await deps.store.getSettings(c.req.valid('param'));
      return found ? c.json(show(found)) : apiError(c, 404, 'no deployment settings for this stack');
    })
    .post('/', params, requireJson, body(), async (c) => {
      const ref = c.req.valid('param');
      if (urlIssues(c.req.valid('json')).length) return badRequest(c, urlIssues(c.req.valid('json')));
      const current = await deps.store.getSettings(ref);
      const merged = mergeSettings<DeploymentSettings>(current?.settings, seal(c.req.valid('json')));
      return c.json(show(await deps.store.saveSettings(ref, merged)));
    })
    .put('/', params, requireJson, body(), async (c) => {
      if (urlIssues(c.req.valid('json')).length) return badRequest(c, urlIssues(c.req.valid('json')));
      const saved = await deps.store.saveSettings(c.req.valid('param'), stripNulls(seal(c.req.valid('json'))));
      return c.json(show(saved));
    })
    .delete('/', params, async (c) => {
      const deleted = await deps.store.deleteSettings(c.req.valid('param'));
      return deleted ? c.body(null, 204) : apiError(c, 404, 'no deployment settings for this stack');
    });
}
