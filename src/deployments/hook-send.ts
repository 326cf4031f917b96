import { createHmac } from 'node:crypto';
import { lookup } from 'node:dns/promises';
import { Webhook } from 'standardwebhooks';
import { isPrivateAddress } from '../shared/hooks';
import type { DeliveryOutcome } from '../store/hooks';

export interface HookRequest {
  url: string;
  /** The body exactly as sent (and signed). */
  body: string;
  kind: string;
  deliveryId: string;
  /** Stays the same when a message is sent again (Standard Webhooks' webhook-id). */
  messageId: string;
  secret?: string;
  attempt: number;
  allowPrivate: boolean;
  timeoutMs?: number;
}

/** A target Stackwright refuses to send to; retrying will not help. */
export class RefusedTarget extends Error {}

const MAX_RESPONSE = 4096;

/**
 * The Standard Webhooks key: a `whsec_` secret is the base64 key its spec defines; any other secret is
 * used as it is (its UTF-8 bytes), as Pulumi's HMAC does, so verify it with the library's `format: "raw"`.
 */
export function standardWebhook(secret: string): Webhook {
  return secret.startsWith('whsec_') ? new Webhook(secret) : new Webhook(secret, { format: 'raw' });
}

/** Loopback, private, link-local and metadata targets are refused unless allowed (by name and by every address it resolves to). */
export async function refusedTarget(url: string, allowPrivate: boolean): Promise<string | undefined> {
  if (allowPrivate) return undefined;
  const host = new URL(url).hostname;
  if (isPrivateAddress(host)) return `${host} is a loopback, private, link-local or metadata address (STACKWRIGHT_WEBHOOK_ALLOW_PRIVATE=true allows it)`;
  const addresses = await lookup(host.replace(/^\[|\]$/g, ''), { all: true }).catch(() => []);
  const bad = addresses.find((a) => isPrivateAddress(a.address));
  return bad ? `${host} resolves to ${bad.address}, a loopback, private, link-local or metadata address (STACKWRIGHT_WEBHOOK_ALLOW_PRIVATE=true allows it)` : undefined;
}

/** The headers of a delivery: Pulumi's, and Standard Webhooks'. Signatures only when the hook has a secret. */
export function hookHeaders(r: Pick<HookRequest, 'body' | 'kind' | 'deliveryId' | 'messageId' | 'secret'>, now: Date): Record<string, string> {
  const headers: Record<string, string> = {
    'Content-Type': 'application/json',
    'User-Agent': 'Stackwright-Webhooks',
    'Pulumi-Webhook-ID': r.deliveryId,
    'Pulumi-Webhook-Kind': r.kind,
    'webhook-id': r.messageId,
    'webhook-timestamp': String(Math.floor(now.getTime() / 1000)),
  };
  if (r.secret) {
    headers['Pulumi-Webhook-Signature'] = createHmac('sha256', r.secret).update(r.body).digest('hex');
    headers['webhook-signature'] = standardWebhook(r.secret).sign(r.messageId, now, r.body);
  }
  return headers;
}

const SIGNATURES = new Set(['pulumi-webhook-signature', 'webhook-signature']);
const headerText = (h: Iterable<[string, string]>) =>
  [...h].map(([k, v]) => `${k}: ${SIGNATURES.has(k.toLowerCase()) ? '(signature)' : v}\r\n`).join('');

/** One attempt: POSTs the body and records what came back. Never throws for the receiver's answer. */
export async function sendHook(r: HookRequest): Promise<DeliveryOutcome> {
  const started = Date.now();
  const now = new Date(started);
  const headers = hookHeaders(r, now);
  const base = { timestamp: Math.floor(started / 1000), attempt: r.attempt, requestUrl: r.url, requestHeaders: headerText(Object.entries(headers)) };
  const refused = await refusedTarget(r.url, r.allowPrivate);
  if (refused) throw new RefusedTarget(refused);
  try {
    // No redirects: a public URL must not lead to a private one.
    const res = await fetch(r.url, { method: 'POST', headers, body: r.body, redirect: 'manual', signal: AbortSignal.timeout(r.timeoutMs ?? 30_000) });
    const text = await res.text().catch(() => '');
    return { ...base, duration: Date.now() - started, responseCode: res.status, responseHeaders: headerText(res.headers), responseBody: text.slice(0, MAX_RESPONSE) };
  } catch (err) {
    const why = err instanceof Error ? ((err.cause as Error | undefined)?.message ?? err.message) : String(err);
    return { ...base, duration: Date.now() - started, responseCode: 0, responseHeaders: '', responseBody: `no response: ${why}` };
  }
}

export const delivered = (o: DeliveryOutcome): boolean => o.responseCode >= 200 && o.responseCode < 300;
