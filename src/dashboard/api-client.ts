/** Sends a request through the HTTP API in-process: the same validation, role checks and audit as any client. */
export type ApiFetch = (req: Request) => Promise<Response>;

export interface ApiAnswer<T> {
  status: number;
  body: T;
}

/** One API call with the session's token. */
export async function callApi<T>(fetch: ApiFetch, token: string, method: string, path: string, body?: unknown): Promise<ApiAnswer<T>> {
  const headers: Record<string, string> = { Authorization: `token ${token}` };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const res = await fetch(new Request(`http://api.internal${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) }));
  const text = await res.text();
  return { status: res.status, body: (text ? JSON.parse(text) : undefined) as T };
}

/** /api/stacks/{org}/{project}/{stack}, each part encoded. */
export const stackApiPath = (r: { org: string; project: string; stack: string }) =>
  `/api/stacks/${encodeURIComponent(r.org)}/${encodeURIComponent(r.project)}/${encodeURIComponent(r.stack)}`;

/** The parts of the API's answers the pages show. */
export interface Step {
  name: string;
  status: string;
  started: string;
  lastUpdated: string;
}

export interface Deployment {
  id: string;
  created: string;
  modified: string;
  status: string;
  version: number;
  message?: string;
  requestedBy: { name: string };
  projectName: string;
  stackName: string;
  pulumiOperation: string;
  initiator: string;
  jobs: { status: string; started: string; steps: Step[] }[];
  configuration: { source: { git?: { repoURL?: string; branch?: string; commit?: string } } };
  approval?: { requiredApprovals: number; approvers: string[]; deadline?: string; changeSummary?: unknown };
  approvals?: { name: string; decision?: string; comment?: string }[];
}

export interface User {
  name: string;
  organizations: { name: string }[];
  tokenInfo: { name: string; organization: string; role: 'viewer' | 'deployer' | 'admin' };
}

/** An API error body. */
export interface ApiError {
  code: number;
  message: string;
}
