/**
 * The webhook channel: one HTTP(S) POST per message, signed with
 * HMAC-SHA256 over the exact body bytes, bounded by one overall deadline
 * for the whole exchange (src/alerts/deadline.ts). Anything but a 2xx
 * answer is a failed attempt; the notifier decides whether and when to try
 * again.
 */
import { createHmac } from 'node:crypto';
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { withDeadline } from './deadline.js';

export const SIGNATURE_HEADER = 'x-keysmith-signature-256';
export const IDEMPOTENCY_HEADER = 'idempotency-key';
export const ATTEMPT_HEADER = 'x-keysmith-delivery-attempt';

/** Bytes of an error answer read at most; the rest is never read. */
export const ERROR_BODY_BYTES = 4_096;
/** Characters of that detail kept as the attempt's last error. */
const ERROR_DETAIL_CHARS = 200;

export interface WebhookSettings {
  readonly url: string;
  readonly secret: string;
  readonly timeoutMs: number;
}

/** A failed attempt, with a message fit for the outbox's last_error. */
export class WebhookError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'WebhookError';
  }
}

/** `sha256=<hex>` of HMAC-SHA256(secret, body), GitHub's header form so existing verifiers fit. */
export function signBody(secret: string, body: string | Uint8Array): string {
  return `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;
}

/** The URL as shown in listings and logs: no user info, query or fragment (they may carry tokens). */
export function webhookDisplayName(url: string): string {
  const parsed = new URL(url);
  return `${parsed.protocol}//${parsed.host}${parsed.pathname}`;
}

/**
 * The webhook as written to logs: scheme and host only. The path may carry
 * the token itself (Slack-style https://hooks.example/services/T0/B0/SECRET),
 * and logs travel further than the ledger and the admin API.
 */
export function webhookLogName(url: string): string {
  const parsed = new URL(url);
  return `${parsed.protocol}//${parsed.host}${parsed.pathname === '/' ? '/' : '/...'}`;
}

export interface WebhookDelivery {
  readonly body: string;
  readonly idempotencyKey: string;
  /** 1 for the first attempt. */
  readonly attempt: number;
}

/**
 * Resolves on a 2xx answer; rejects with WebhookError otherwise (status,
 * network error) or with the deadline's error. The status is judged from the
 * head: a 2xx body is never read, an error body only up to ERROR_BODY_BYTES
 * (for the attempt's last error), and the connection is destroyed after, so a
 * receiver that streams a gigabyte costs what the socket buffers hold.
 */
export function postWebhook(settings: WebhookSettings, delivery: WebhookDelivery, outer?: AbortSignal): Promise<void> {
  const url = new URL(settings.url);
  const send = url.protocol === 'https:' ? httpsRequest : url.protocol === 'http:' ? httpRequest : undefined;
  if (send === undefined) return Promise.reject(new WebhookError(`unsupported webhook scheme ${url.protocol}`));
  const body = Buffer.from(delivery.body, 'utf8');
  // One overall deadline for DNS, connect, request and the head of the answer (not an idle timeout).
  return withDeadline(
    settings.timeoutMs,
    `no answer within ${settings.timeoutMs} ms`,
    (signal) => exchange(send, url, settings.secret, body, delivery, signal),
    outer,
  );
}

type Send = typeof httpRequest;

function exchange(send: Send, url: URL, secret: string, body: Buffer, delivery: WebhookDelivery, signal: AbortSignal): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const req = send(url, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'content-length': String(body.byteLength),
        'user-agent': 'keysmith-alerts',
        [IDEMPOTENCY_HEADER]: delivery.idempotencyKey,
        [SIGNATURE_HEADER]: signBody(secret, body),
        [ATTEMPT_HEADER]: String(delivery.attempt),
      },
      // One connection per delivery: a pooled socket the receiver closed while idle would fail the next attempt.
      agent: false,
      // The deadline's abort destroys the request and its socket, wherever the exchange stands.
      signal,
    });
    req.on('error', (error: NodeJS.ErrnoException) => {
      reject(new WebhookError(error.code === undefined ? error.message : `${error.code}: ${error.message}`, { cause: error }));
    });
    req.on('response', (res: IncomingMessage) => {
      const status = res.statusCode ?? 0;
      if (status >= 200 && status < 300) {
        // Judged from the head: whatever body follows is not ours to read.
        res.destroy();
        resolve();
        return;
      }
      readErrorDetail(res, (text) => {
        const detail = redact(text, secretsOf(url, secret));
        reject(new WebhookError(`HTTP ${status}${detail === '' ? '' : `: ${detail}`}`));
      });
    });
    req.end(body);
  });
}

/** What a receiver might echo back that must not reach the outbox or the log: the signing key, the URL's credentials, query values and long path segments (tokens). */
function secretsOf(url: URL, secret: string): string[] {
  const pathTokens = url.pathname.split('/').filter((segment) => segment.length >= 8);
  const values = [secret, url.username, url.password, ...url.searchParams.values(), ...pathTokens].map((value) => {
    try {
      return decodeURIComponent(value);
    } catch {
      return value;
    }
  });
  return values.filter((value) => value.length >= 4);
}

function redact(text: string, secrets: readonly string[]): string {
  let result = text;
  for (const secret of secrets) result = result.split(secret).join('[redacted]');
  return result;
}

/** At most ERROR_BODY_BYTES of an error answer, as one line of text; the connection is destroyed once they are in. */
function readErrorDetail(res: IncomingMessage, done: (detail: string) => void): void {
  const chunks: Buffer[] = [];
  let kept = 0;
  let isDone = false;
  const finish = (): void => {
    if (isDone) return;
    isDone = true;
    res.destroy();
    const text = Buffer.concat(chunks).toString('utf8');
    done(text.replace(/\s+/g, ' ').trim().slice(0, ERROR_DETAIL_CHARS));
  };
  res.on('data', (chunk: Buffer) => {
    const room = ERROR_BODY_BYTES - kept;
    if (room > 0) {
      const piece = chunk.subarray(0, room);
      chunks.push(piece);
      kept += piece.byteLength;
    }
    if (kept >= ERROR_BODY_BYTES) finish();
  });
  res.on('end', finish);
  // An answer cut off mid-body still has a status; what arrived is the detail.
  res.on('error', finish);
  res.on('close', finish);
}
