import { timingSafeEqual } from 'node:crypto';
import type { Context, MiddlewareHandler } from 'hono';
import { deleteCookie, getCookie, setCookie } from 'hono/cookie';
import { callApi, type ApiFetch, type User } from './api-client';

export const COOKIE = 'stackwright_session';

declare module 'hono' {
  interface ContextVariableMap {
    /** Set by `session` on every dashboard page: the token from the cookie and who it is. */
    dashboard: { token: string; user: User; csrf: string };
  }
}

/** Sent over https (directly, or behind a proxy that says so), the cookie is Secure. */
const overHttps = (c: Context) => new URL(c.req.url).protocol === 'https:' || c.req.header('X-Forwarded-Proto') === 'https';

export function startSession(c: Context, token: string) {
  setCookie(c, COOKIE, token, { httpOnly: true, sameSite: 'Strict', secure: overHttps(c), path: '/' });
}

export const endSession = (c: Context) => deleteCookie(c, COOKIE, { path: '/' });

/** Who a token is, through GET /api/user; undefined for a token the API refuses. */
export async function whoIs(api: ApiFetch, token: string): Promise<User | undefined> {
  const res = await callApi<User>(api, token, 'GET', '/api/user');
  return res.status === 200 ? res.body : undefined;
}

/**
 * Every page but the login form: a valid token in the cookie, or the way to the login form. The
 * per-session CSRF token is a keyed digest of the session's token, so it needs no storage and
 * changes with each token.
 */
export function session(api: ApiFetch, mac: (text: string) => string): MiddlewareHandler {
  return async (c, next) => {
    const token = getCookie(c, COOKIE);
    const user = token ? await whoIs(api, token) : undefined;
    if (!token || !user) {
      if (token) endSession(c);
      return c.redirect('/login', 303);
    }
    c.set('dashboard', { token, user, csrf: mac(`dashboard-csrf:${token}`) });
    await next();
  };
}

/** After `session`, on every action: the form's CSRF token must be the session's (403 otherwise). */
export const requireCsrfToken: MiddlewareHandler = async (c, next) => {
  const form = await c.req.parseBody();
  const sent = Buffer.from(typeof form._csrf === 'string' ? form._csrf : '');
  const want = Buffer.from(c.get('dashboard').csrf);
  if (sent.length !== want.length || !timingSafeEqual(sent, want)) return c.text('Forbidden: the form is missing its CSRF token or it is not this session\'s', 403);
  await next();
};
