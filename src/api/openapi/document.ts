import { z } from 'zod';
import { OpenAPIRegistry, OpenApiGeneratorV31, type RouteConfig } from '@asteasolutions/zod-to-openapi';
import { StackRef } from '../../shared/names';
import { ErrorAnswer } from './answers';
import { OPERATIONS, type Operation } from './operations';

// Path parameters by name; any other is a string.
const PARAMS: Record<string, z.ZodType> = {
  ...StackRef.shape,
  version: z.number().int().min(1),
  id: z.string(),
};

/** Hono's `/a/:b` as OpenAPI's `/a/{b}`. */
export const openApiPath = (path: string) => path.replace(/:(\w+)/g, '{$1}');

function route(op: Operation): RouteConfig {
  const names = [...op.path.matchAll(/:(\w+)/g)].map((m) => m[1]);
  const ok = op.ok ?? 200;
  const content = op.contentType
    ? { [op.contentType]: { schema: z.string() } }
    : {
        'application/json': { schema: op.answer ?? z.unknown() },
        ...(op.sse && { 'text/event-stream': { schema: z.string().describe('`header` and `line` events, then `end` with the status') } }),
      };
  const error = (description: string) => ({ description, content: { 'application/json': { schema: ErrorAnswer } } });
  return {
    method: op.method,
    path: openApiPath(op.path),
    summary: op.summary,
    tags: [op.tag],
    ...(op.public && { security: [] }),
    request: {
      ...(names.length && { params: z.object(Object.fromEntries(names.map((n) => [n, PARAMS[n] ?? z.string()]))) }),
      ...(op.query && { query: op.query }),
      ...(op.body && { body: { required: !(op.body instanceof z.ZodOptional), content: { 'application/json': { schema: op.body } } } }),
    },
    responses: {
      [ok]: ok === 204 ? { description: 'done' } : { description: 'success', content },
      ...(op.body || op.query ? { 400: error('a field is invalid; `errors` names each') } : {}),
      ...(!op.public && { 401: error('no valid API token'), 403: error("the token's role is not enough") }),
      ...(names.length && { 404: error('not found (or in another organization than the token\'s)') }),
    },
  };
}

/** The OpenAPI 3.1 description of the whole API, from the schemas the routes validate with. */
export function openApiDocument(serverUrl?: string) {
  const registry = new OpenAPIRegistry();
  registry.registerComponent('securitySchemes', 'token', {
    type: 'apiKey',
    in: 'header',
    name: 'Authorization',
    description: 'Pulumi\'s form: `Authorization: token <token>`',
  });
  for (const op of OPERATIONS) registry.registerPath(route(op));
  return new OpenApiGeneratorV31(registry.definitions).generateDocument({
    openapi: '3.1.0',
    info: { title: 'Stackwright', version: '0.1.0', description: "Pulumi Deployments' REST API, self-hosted on Temporal" },
    ...(serverUrl && { servers: [{ url: serverUrl }] }),
    security: [{ token: [] }],
  });
}
