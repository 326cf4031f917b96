import type { MiddlewareHandler } from 'hono';
import { apiError, badRequest } from './errors';

const JSON_TYPE = /^application\/([\w.-]+\+)?json$/i;

/**
 * Goes before a zValidator('json') check. Hono's json validator reads a body not labelled JSON as
 * `{}` (a PUT of settings sent without the header would wipe them), and answers bad JSON with a
 * bare 400: refuse the first (415) and report the second like any other invalid field.
 */
export const requireJson: MiddlewareHandler = async (c, next) => {
  const type = (c.req.header('Content-Type') ?? '').split(';')[0].trim();
  if (!JSON_TYPE.test(type)) return apiError(c, 415, 'the request body must be JSON, sent with Content-Type: application/json');
  try {
    await c.req.json(); // cached: the validator reuses it
  } catch {
    return badRequest(c, [{ path: [], message: 'the request body is not valid JSON' }]);
  }
  await next();
};
