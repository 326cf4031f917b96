import { timingSafeEqual } from 'node:crypto';
import { Hono, type Context } from 'hono';
import { cors } from 'hono/cors';
import type { Payload } from '@temporalio/common';
import { EncryptionCodec } from './payload-codec';
import { apiError } from '../api/errors';

export interface CodecRouteDeps {
  codec: EncryptionCodec;
  /** Whether an API token (Authorization: token|Bearer) may use the codec: an admin's (the same tokens and roles as the API). */
  allows: (token: string) => Promise<boolean>;
  /** Alternative credential in the path, /codec/<pathToken>/decode, for the Temporal UI (it sends no token of ours). */
  pathToken: string;
  /** Origin of the Temporal Web UI, allowed by CORS. */
  uiOrigin?: string;
}

interface JsonPayload {
  metadata?: Record<string, string>;
  data?: string;
}

const same = (a: string, b: string) => a.length === b.length && timingSafeEqual(Buffer.from(a), Buffer.from(b));
const fromJson = (p: JsonPayload): Payload => ({
  metadata: Object.fromEntries(Object.entries(p.metadata ?? {}).map(([k, v]) => [k, Buffer.from(v, 'base64')])),
  data: Buffer.from(p.data ?? '', 'base64'),
});
const toJson = (p: Payload): JsonPayload => ({
  metadata: Object.fromEntries(Object.entries(p.metadata ?? {}).map(([k, v]) => [k, Buffer.from(v ?? []).toString('base64')])),
  data: Buffer.from(p.data ?? []).toString('base64'),
});

/** Temporal's remote codec protocol (POST {payloads} → {payloads}), so the UI and CLI can show readable payloads to an operator. */
export function codecRoutes(d: CodecRouteDeps) {
  const handle = (op: 'encode' | 'decode') => async (c: Context) => {
    const auth = c.req.header('Authorization')?.replace(/^(token|Bearer)\s+/i, '');
    const path = c.req.param('pathToken');
    if (!(path && same(path, d.pathToken)) && !(auth && (await d.allows(auth)))) return apiError(c, 401, 'missing or invalid token (the codec needs an admin token)');
    const body = (await c.req.json().catch(() => undefined)) as { payloads?: unknown } | undefined;
    if (!body || !Array.isArray(body.payloads)) return c.json({ code: 400, message: 'payloads: must be an array', errors: [{ field: 'payloads', message: 'must be an array' }] }, 400);
    try {
      const out = await d.codec[op]((body.payloads as JsonPayload[]).map(fromJson));
      return c.json({ payloads: out.map(toJson) });
    } catch (err) {
      return c.json({ code: 400, message: `payloads: ${(err as Error).message}`, errors: [{ field: 'payloads', message: (err as Error).message }] }, 400);
    }
  };
  return new Hono()
    .use('*', cors({ origin: d.uiOrigin ?? '', allowHeaders: ['Content-Type', 'Authorization', 'X-Namespace'], allowMethods: ['POST', 'OPTIONS'], credentials: true }))
    .post('/decode', handle('decode'))
    .post('/encode', handle('encode'))
    .post('/:pathToken/decode', handle('decode'))
    .post('/:pathToken/encode', handle('encode'));
}
