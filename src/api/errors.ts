import type { Context, ErrorHandler } from 'hono';
import { HTTPException } from 'hono/http-exception';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import type { Logger } from 'pino';

export interface FieldIssue {
  path: PropertyKey[];
  message: string;
  /** zod's unrecognized_keys: the path is the parent object; name each unknown key instead. */
  keys?: string[];
}

/** Pulumi's error body ({code, message}) plus one entry per bad field. */
export function badRequest(c: Context, issues: FieldIssue[], prefix: PropertyKey[] = []) {
  const fields = issues.flatMap((i) =>
    i.keys?.length ? i.keys.map((k) => ({ path: [...i.path, k], message: 'unknown field' })) : [i],
  );
  const errors = fields.map((i) => ({ field: [...prefix, ...i.path].map(String).join('.') || '(body)', message: i.message }));
  return c.json({ code: 400, message: `invalid request: ${errors.map((e) => `${e.field}: ${e.message}`).join('; ')}`, errors }, 400);
}

export const apiError = (c: Context, status: ContentfulStatusCode, message: string) => c.json({ code: status, message }, status);

/** zValidator hook: every validation failure becomes a 400 naming the fields. */
export const onInvalid =
  (prefix: PropertyKey[] = []) =>
  (result: { success: boolean; error?: { issues: FieldIssue[] } }, c: Context) => {
    if (!result.success && result.error) return badRequest(c, result.error.issues, prefix);
  };

export function errorHandler(log: Logger): ErrorHandler {
  return (err, c) => {
    if (err instanceof HTTPException) {
      const res = err.getResponse();
      // Keep the WWW-Authenticate challenge of Hono's auth responses.
      const challenge = res.headers.get('WWW-Authenticate');
      if (challenge) c.header('WWW-Authenticate', challenge);
      const fallback = err.status === 401 ? 'missing or invalid API token (send "Authorization: token <token>")' : 'request failed';
      return apiError(c, err.status, err.message || fallback);
    }
    log.error({ err, path: c.req.path }, 'unhandled error');
    return apiError(c, 500, 'internal error');
  };
}
