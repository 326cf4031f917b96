import type { Child } from 'hono/jsx';
import type { StackRef } from '../shared/names';

/** /stacks/{org}/{project}/{stack}: the dashboard's page of a stack. */
export const stackPage = (r: StackRef) => `/stacks/${encodeURIComponent(r.org)}/${encodeURIComponent(r.project)}/${encodeURIComponent(r.stack)}`;
export const deploymentPage = (r: StackRef, id: string) => `${stackPage(r)}/deployments/${encodeURIComponent(id)}`;

export function Layout(props: { title: string; user?: { name: string; role: string }; csrf?: string; children: Child }) {
  return (
    <html lang="en">
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <meta name="htmx-config" content='{"includeIndicatorStyles":false,"allowEval":false}' />
        <title>{`${props.title} · Stackwright`}</title>
        <link rel="stylesheet" href="/assets/dashboard.css" />
        <script src="/assets/htmx.min.js" defer></script>
        <script src="/assets/dashboard.js" defer></script>
      </head>
      <body>
        <header class="top">
          <a href="/" class="brand">
            Stackwright
          </a>
          {props.user && (
            <nav aria-label="Account">
              <span class="who">
                {props.user.name} ({props.user.role})
              </span>{' '}
              <a href="/api/docs">API docs</a>
              <form method="post" action="/logout" class="inline">
                <input type="hidden" name="_csrf" value={props.csrf} />
                <button type="submit">Log out</button>
              </form>
            </nav>
          )}
        </header>
        <main>{props.children}</main>
      </body>
    </html>
  );
}

/** A button that POSTs an action with the session's CSRF token. */
export function Action(props: { action: string; label: string; csrf: string; name?: string; danger?: boolean; children?: Child }) {
  return (
    <form method="post" action={props.action} class="inline">
      <input type="hidden" name="_csrf" value={props.csrf} />
      {props.children}
      <button type="submit" class={props.danger ? 'danger' : undefined} aria-label={props.name ?? props.label}>
        {props.label}
      </button>
    </form>
  );
}

export const Status = (props: { status: string }) => <span class={`status status-${props.status}`}>{props.status}</span>;

/** "2m 05s" between two times (Pulumi's "2022-10-17 22:12:34.834" or ISO); empty if it has not started. */
export function duration(start: string | null | undefined, end: string | null | undefined, now = Date.now()): string {
  const t0 = parseTime(start);
  if (t0 === undefined) return '';
  const t1 = parseTime(end) ?? now;
  const s = Math.max(0, Math.round((t1 - t0) / 1000));
  return s >= 60 ? `${Math.floor(s / 60)}m ${String(s % 60).padStart(2, '0')}s` : `${s}s`;
}

function parseTime(t: string | null | undefined): number | undefined {
  if (!t || t.startsWith('0001-')) return undefined;
  const ms = Date.parse(t.includes('T') ? t : `${t.replace(' ', 'T')}Z`);
  return Number.isNaN(ms) ? undefined : ms;
}

/** A link into the Temporal UI for a workflow, when its URL is configured. */
export function TemporalLink(props: { base?: string; namespace: string; workflowId: string; label: string }) {
  if (!props.base) return <></>;
  const href = `${props.base.replace(/\/$/, '')}/namespaces/${encodeURIComponent(props.namespace)}/workflows/${encodeURIComponent(props.workflowId)}`;
  return (
    <a href={href} rel="noopener" target="_blank">
      {props.label}
    </a>
  );
}

export function Notice(props: { error?: string; done?: string }) {
  if (props.error) return <p class="notice error" role="alert">{props.error}</p>;
  if (props.done) return <p class="notice done" role="status">{props.done}</p>;
  return <></>;
}
