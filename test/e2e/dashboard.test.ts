import { copyFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { createProgramRepo, type TestRepo } from '../helpers/repo';
import { newOutDir, startStackwright, waitForDeployment, type Stackwright } from '../helpers/stackwright';
import { chromiumPath } from '../helpers/chromium';

// The dashboard in a real browser (Debian's chromium through playwright-core) against the real
// API, Temporal, git and pulumi: log in, deploy and follow the log, cancel, pause, approve.
const org = `dash${Date.now().toString(36)}`;
const stackPath = (stack: string) => `/api/stacks/${org}/website/${stack}`;
const linkDependencies = `ln -s ${join(__dirname, '..', '..', 'node_modules')} node_modules`;
const ARTIFACTS = join(__dirname, '..', '..', 'test-artifacts');
const DOCS = join(__dirname, '..', '..', 'docs', 'screenshots');
const TEMPORAL_UI = 'http://temporal-ui.example';

let sw: Stackwright;
let repo: TestRepo;
let browser: Browser;
let context: BrowserContext;
let page: Page;
/** Every URL the pages asked for: none may leave Stackwright's origin. */
const requested: string[] = [];

async function configure(stack: string, options: object = {}) {
  const res = await sw.api(`${stackPath(stack)}/deployments/settings`, {
    method: 'POST',
    body: {
      sourceContext: { git: { repoURL: repo.url, branch: 'main' } },
      operationContext: { preRunCommands: [linkDependencies], environmentVariables: { OUT_DIR: newOutDir() }, options: { skipInstallDependencies: true, ...options } },
    },
  });
  expect(res.status).toBe(200);
}

async function shot(name: string, publish = false) {
  mkdirSync(ARTIFACTS, { recursive: true });
  const file = join(ARTIFACTS, `dashboard-${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  if (publish) {
    mkdirSync(DOCS, { recursive: true });
    copyFileSync(file, join(DOCS, `${name}.png`));
  }
}

beforeAll(async () => {
  sw = await startStackwright({ STACKWRIGHT_TEMPORAL_UI_URL: TEMPORAL_UI });
  repo = createProgramRepo('website');
  await configure('web');
  await configure('gated', { requireApproval: { allowSelfApproval: true } });
  browser = await chromium.launch({ executablePath: chromiumPath(), args: ['--no-sandbox'] });
  context = await browser.newContext({ viewport: { width: 1200, height: 900 } });
  page = await context.newPage();
  page.on('request', (r) => requested.push(r.url()));
});

afterAll(async () => {
  await browser?.close();
  await sw?.stop();
});

const idFromUrl = (url: string) => new URL(url).pathname.split('/').pop()!;
const apiStatus = async (stack: string, id: string) => (await sw.api(`${stackPath(stack)}/deployments/${id}`)).body.status;

test('a wrong token is refused; the right one logs in, in an HttpOnly SameSite=Strict cookie', async () => {
  await page.goto(sw.url);
  expect(new URL(page.url()).pathname).toBe('/login');
  const field = page.getByLabel('API token');
  expect(await field.getAttribute('type')).toBe('password');
  await field.fill('not-a-token');
  const refused = page.waitForResponse((r) => r.url().endsWith('/login') && r.request().method() === 'POST');
  await page.getByRole('button', { name: 'Log in' }).click();
  expect((await refused).status()).toBe(401);
  await expect(page.getByRole('alert').textContent()).resolves.toContain('not valid');
  await shot('login');

  await page.getByLabel('API token').fill(sw.token);
  await page.getByRole('button', { name: 'Log in' }).click();
  await page.waitForURL(`${sw.url}/`);
  const [cookie] = await context.cookies();
  expect(cookie).toMatchObject({ name: 'stackwright_session', httpOnly: true, sameSite: 'Strict', secure: false });
  await page.getByRole('link', { name: 'website/web' }).waitFor();
  await page.getByRole('link', { name: 'website/gated' }).waitFor();
});

test('deploy from the stack page and watch the log stream to the end', async () => {
  await page.getByRole('link', { name: 'website/web' }).click();
  await page.getByLabel('Operation').selectOption('update');
  await page.getByRole('button', { name: 'Start the deployment' }).click();
  await page.waitForURL(/\/deployments\/[^/?]+\?done=/);
  const id = idFromUrl(page.url().split('?')[0]);
  // The log fills while it runs and says how it ended; the steps table catches up.
  await page.locator('#log-end').filter({ hasText: 'The deployment ended: succeeded' }).waitFor({ timeout: 240_000 });
  const log = await page.locator('#log').textContent();
  expect(log).toContain('== Get source');
  expect(log).toContain('== Pulumi operation');
  expect(log).toMatch(/Resources:|created|\+ /);
  expect(await apiStatus('web', id)).toBe('succeeded');
  await page.locator('#steps .status-succeeded').first().waitFor();
  await page.locator('#steps-title .status-succeeded').waitFor({ timeout: 15_000 });
  // Links into the Temporal UI for the deployment's workflow and the stack's queue.
  const links = await page.locator('a[href^="http://temporal-ui.example"]').evaluateAll((as) => as.map((a) => a.getAttribute('href')));
  expect(links).toContain(`${TEMPORAL_UI}/namespaces/default/workflows/${encodeURIComponent(`deployment/${org}/website/web/1`)}`);
  expect(links).toContain(`${TEMPORAL_UI}/namespaces/default/workflows/${encodeURIComponent(`stack/${org}/website/web`)}`);
  await shot('deployment', true);
});

test('pause the stack, cancel a queued deployment, resume', async () => {
  await page.goto(`${sw.url}/stacks/${org}/website/web`);
  await page.getByRole('button', { name: "Pause the stack's queue" }).click();
  await page.getByRole('status').filter({ hasText: 'Paused the stack' }).waitFor();
  expect((await sw.api(`${stackPath('web')}/deployments/metadata`)).body.stackPaused).toBe(true);

  await page.getByRole('button', { name: 'Start the deployment' }).click();
  await page.waitForURL(/\/deployments\/[^/?]+\?done=/);
  const id = idFromUrl(page.url().split('?')[0]);
  expect(await apiStatus('web', id)).toBe('not-started');
  await page.getByRole('button', { name: /^Cancel deployment/ }).click();
  await page.getByRole('status').filter({ hasText: 'Cancel requested' }).waitFor();
  const ended = await waitForDeployment(sw, stackPath('web'), id, 60_000);
  expect(ended.status).not.toBe('succeeded');
  expect(ended.jobs[0].steps.every((s: any) => s.started.startsWith('0001-'))).toBe(true); // never ran

  await page.goto(`${sw.url}/stacks/${org}/website/web`);
  await shot('stack', true);
  await page.getByRole('button', { name: "Resume the stack's queue" }).click();
  await page.getByRole('status').filter({ hasText: 'Resumed the stack' }).waitFor();
  expect((await sw.api(`${stackPath('web')}/deployments/metadata`)).body.stackPaused).toBe(false);

  // The organization too, from the overview.
  await page.goto(sw.url);
  await page.getByRole('button', { name: `Pause every queue of ${org}` }).click();
  await page.getByRole('status').filter({ hasText: 'paused' }).waitFor();
  expect((await sw.api(`/api/orgs/${org}/deployments/metadata`)).body.paused).toBe(true);
  await page.getByRole('button', { name: `Resume every queue of ${org}` }).click();
  expect((await sw.api(`/api/orgs/${org}/deployments/metadata`)).body.paused).toBe(false);
  const audit = (await sw.api(`/api/orgs/${org}/auditlogs?pageSize=50`)).body.auditLogEvents.map((e: any) => e.event);
  expect(audit).toEqual(expect.arrayContaining(['stack.pause', 'stack.resume', 'deployment.cancel', 'organization.pause', 'organization.resume']));
});

test('approve a deployment waiting for approval', async () => {
  await page.goto(`${sw.url}/stacks/${org}/website/gated`);
  await page.getByRole('button', { name: 'Start the deployment' }).click();
  await page.waitForURL(/\/deployments\/[^/?]+\?done=/);
  const id = idFromUrl(page.url().split('?')[0]);
  // The steps table refreshes itself; the buttons come with a reload once it waits.
  await page.locator('#steps-title .status-waiting-for-approval').waitFor({ timeout: 240_000 });
  await page.reload();
  await page.getByLabel('Comment').fill('looks right');
  await page.getByRole('button', { name: /^Approve deployment/ }).click();
  await page.getByRole('status').filter({ hasText: 'Approved' }).waitFor();
  const done = await waitForDeployment(sw, stackPath('gated'), id);
  expect(done.status).toBe('succeeded');
  expect(done.approvals).toEqual([expect.objectContaining({ name: 'bootstrap-admin', decision: 'approve', comment: 'looks right' })]);
});

test('an action without the session CSRF token, or from another origin, is refused and changes nothing', async () => {
  const action = `${sw.url}/stacks/${org}/website/web/pause`;
  const csrf = await page.locator('input[name="_csrf"]').first().inputValue();
  const noToken = await page.request.post(action, { form: { other: 'x' }, headers: { Origin: sw.url }, maxRedirects: 0 });
  expect(noToken.status()).toBe(403);
  const wrongToken = await page.request.post(action, { form: { _csrf: 'f'.repeat(64) }, headers: { Origin: sw.url }, maxRedirects: 0 });
  expect(wrongToken.status()).toBe(403);
  const otherOrigin = await page.request.post(action, { form: { _csrf: csrf }, headers: { Origin: 'http://evil.example' }, maxRedirects: 0 });
  expect(otherOrigin.status()).toBe(403);
  expect((await sw.api(`${stackPath('web')}/deployments/metadata`)).body.stackPaused).toBe(false);
  // With both, the same request works.
  const ok = await page.request.post(`${sw.url}/stacks/${org}/website/web/resume`, { form: { _csrf: csrf }, headers: { Origin: sw.url }, maxRedirects: 0 });
  expect(ok.status()).toBe(303);
});

test('a viewer sees the stacks but cannot act', async () => {
  const made = await sw.api('/api/tokens', { method: 'POST', body: { name: `viewer-${org}`, role: 'viewer', organization: org } });
  expect(made.status).toBe(201);
  const viewer = await (await browser.newContext()).newPage();
  await viewer.goto(`${sw.url}/login`);
  await viewer.getByLabel('API token').fill(made.body.token);
  await viewer.getByRole('button', { name: 'Log in' }).click();
  await viewer.getByRole('link', { name: 'website/web' }).click();
  await viewer.locator('#deployments').waitFor();
  expect(await viewer.getByRole('button', { name: 'Start the deployment' }).count()).toBe(0);
  // Sent anyway, the API's role check refuses it.
  const csrf = await viewer.locator('input[name="_csrf"]').first().inputValue();
  const res = await viewer.request.post(`${sw.url}/stacks/${org}/website/web/deploy`, { form: { _csrf: csrf, operation: 'update' }, headers: { Origin: sw.url }, maxRedirects: 0 });
  expect(res.status()).toBe(303);
  expect(decodeURIComponent(res.headers().location)).toContain('needs the deployer role');
  expect((await sw.api(`${stackPath('web')}/deployments?pageSize=100`)).body.total).toBe(2);
  await viewer.context().close();
});

test('edit settings: secrets are write-only', async () => {
  await page.goto(`${sw.url}/stacks/${org}/website/web`);
  const variables = page.getByLabel(/^Environment variables/);
  await variables.fill(`${await variables.inputValue()}\nSTAGE=dev`);
  await page.getByLabel(/^Set secret variables/).fill('API_KEY=hunter2');
  await page.getByRole('button', { name: 'Save settings' }).click();
  await page.getByRole('status').filter({ hasText: 'Saved the settings' }).waitFor();
  const html = await page.content();
  expect(html).toContain('API_KEY');
  expect(html).not.toContain('hunter2');
  const stored = (await sw.api(`${stackPath('web')}/deployments/settings`)).body;
  expect(stored.operationContext.environmentVariables).toEqual({ OUT_DIR: expect.any(String), STAGE: 'dev', API_KEY: { ciphertext: expect.any(String) } });
  expect(stored.operationContext.preRunCommands).toEqual([linkDependencies]);
  expect(stored.sourceContext.git).toEqual({ repoURL: repo.url, branch: 'main' });

  // What the API refuses is shown with its reason, and nothing changes.
  await page.getByLabel(/^Environment variables/).fill('not a variable');
  await page.getByRole('button', { name: 'Save settings' }).click();
  await page.getByRole('alert').filter({ hasText: 'is not NAME=value' }).waitFor();
  expect((await sw.api(`${stackPath('web')}/deployments/settings`)).body.operationContext.environmentVariables.STAGE).toBe('dev');
  // The overview lists each stack's schedules and TTL.
  const ttl = await sw.api(`${stackPath('gated')}/deployments/ttl/schedules`, { method: 'POST', body: { timestamp: '2030-01-01T00:00:00Z' } });
  expect(ttl.status).toBe(200);
  await page.goto(sw.url);
  await page.getByText('TTL: destroy, once at 2030-01-01').waitFor();
  await shot('overview', true);
});

test('usable at a phone\'s width; every control has an accessible name; nothing loaded from elsewhere', async () => {
  await page.setViewportSize({ width: 390, height: 844 });
  for (const path of ['/', `/stacks/${org}/website/web`]) {
    await page.goto(sw.url + path);
    // Browser-side code as strings: the test's TypeScript has no DOM types.
    const overflow = await page.evaluate<number>('document.documentElement.scrollWidth - window.innerWidth');
    expect(overflow).toBeLessThanOrEqual(0);
    // A control without a name would be announced as just "button" or "edit text".
    const unnamed = await page.evaluate<string[]>(`[...document.querySelectorAll('button, select, textarea, input:not([type=hidden])')]
      .filter((e) => !(e.getAttribute('aria-label') || (e.labels && e.labels.length) || e.textContent.trim()))
      .map((e) => e.outerHTML)`);
    expect(unnamed).toEqual([]);
  }
  await shot('phone', true);
  const origin = new URL(sw.url).origin;
  expect(requested.filter((u) => new URL(u).origin !== origin)).toEqual([]);
  expect(requested.some((u) => u.endsWith('/assets/htmx.min.js'))).toBe(true);
});
