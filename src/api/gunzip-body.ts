import type { MiddlewareHandler } from 'hono';
import { gunzipSync } from 'node:zlib';
import { apiError } from './errors';

/** Pulumi's CLI gzips some request bodies (`Content-Encoding: gzip`); handlers read them plain. */
export const gunzipBody: MiddlewareHandler = async (c, next) => {
  if (c.req.header('Content-Encoding')?.toLowerCase() !== 'gzip') return next();
  let plain: Buffer;
  try {
    plain = gunzipSync(Buffer.from(await c.req.raw.arrayBuffer()), { maxOutputLength: 16 * 1024 * 1024 });
  } catch {
    return apiError(c, 400, 'the request body is not valid gzip, or unpacks to more than 16 MiB');
  }
  const headers = new Headers(c.req.raw.headers);
  headers.delete('Content-Encoding');
  headers.set('Content-Length', String(plain.length));
  c.req.raw = new Request(c.req.raw.url, { method: c.req.method, headers, body: new Uint8Array(plain) });
  await next();
};
