import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { Hono } from 'hono';
import { openApiDocument } from './document';

const DIST = dirname(require.resolve('swagger-ui-dist/package.json'));
// The files the page loads, read once; nothing comes from another origin.
const ASSETS: Record<string, { type: string; body?: string }> = {
  'swagger-ui.css': { type: 'text/css; charset=utf-8' },
  'swagger-ui-bundle.js': { type: 'text/javascript; charset=utf-8' },
  'init.js': {
    type: 'text/javascript; charset=utf-8',
    // Relative to the page (/api/docs): /api/openapi.json, wherever the API is mounted.
    body: "window.ui = SwaggerUIBundle({ url: 'openapi.json', dom_id: '#ui', deepLinking: true });\n",
  },
};

const PAGE = `<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Stackwright API</title><link rel="stylesheet" href="docs/swagger-ui.css"></head>
<body><div id="ui"></div><script src="docs/swagger-ui-bundle.js"></script><script src="docs/init.js"></script></body>
</html>
`;

/** GET /api/openapi.json and the interactive documentation at /api/docs (Swagger UI, served from the package). */
export function docsRoutes(publicUrl: string) {
  let doc: object | undefined;
  const cache = new Map<string, string>();
  return new Hono()
    .get('/api/openapi.json', (c) => c.json((doc ??= openApiDocument(publicUrl))))
    .get('/api/docs', (c) => {
      c.header('Content-Security-Policy', "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'");
      return c.html(PAGE);
    })
    .get('/api/docs/:file', (c) => {
      const name = c.req.param('file');
      const asset = Object.hasOwn(ASSETS, name) ? ASSETS[name] : undefined;
      if (!asset) return c.json({ code: 404, message: 'not found' }, 404);
      let body = cache.get(name);
      if (body === undefined) cache.set(name, (body = asset.body ?? readFileSync(join(DIST, name), 'utf8')));
      c.header('Cache-Control', 'public, max-age=3600');
      return c.body(body, 200, { 'Content-Type': asset.type });
    });
}
