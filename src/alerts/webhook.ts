/**
 * The webhook channel: one HTTP(S) POST per message, signed with
 * HMAC-SHA256 over the exact body bytes, bounded by one timeout for the
 * whole exchange. Anything but a 2xx answer is a failed attempt; the
 * notifier decides whether and when to try again.
 */
import { createHmac } from 'node:crypto';
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';

export const SIGNATURE_HEADER = 'x-keysmith-signature-256';
export const IDEMPOTENCY_HEADER = 'idempotency-key';
export const ATTEMPT_HEADER = 'x-keysmith-delivery-attempt';

/** How much of an error response is kept as the attempt's last error. */
const ERROR_BODY_CHARS = 200;

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

export interface WebhookDelivery {
  readonly body: string;
  readonly idempotencyKey: string;
  /** 1 for the first attempt. */
  readonly attempt: number;
}

/** Resolves on a 2xx answer; rejects with WebhookError otherwise (status, network error or timeout). */
export function postWebhook(settings: WebhookSettings, delivery: WebhookDelivery): Promise<void> {
  const url = new URL(settings.url);
  const send = url.protocol === 'https:' ? httpsRequest : url.protocol === 'http:' ? httpRequest : undefined;
  if (send === undefined) return Promise.reject(new WebhookError(`unsupported webhook scheme ${url.protocol}`));
  const body = Buffer.from(delivery.body, 'utf8');
  return new Promise<void>((resolve, reject) => {
    let settled = false;
    const finish = (error?: WebhookError): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (error === undefined) resolve();
      else reject(error);
    };
    const req = send(url, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'content-length': String(body.byteLength),
        'user-agent': 'keysmith-alerts',
        [IDEMPOTENCY_HEADER]: delivery.idempotencyKey,
        [SIGNATURE_HEADER]: signBody(settings.secret, body),
        [ATTEMPT_HEADER]: String(delivery.attempt),
      },
      // One connection per delivery: a pooled socket the receiver closed while idle would fail the next attempt.
      agent: false,
    });
    // One deadline for connect, request and response together.
    const timer = setTimeout(() => {
      finish(new WebhookError(`no answer within ${settings.timeoutMs} ms`));
      req.destroy();
    }, settings.timeoutMs);
    req.on('error', (error: NodeJS.ErrnoException) => {
      finish(new WebhookError(error.code === undefined ? error.message : `${error.code}: ${error.message}`, { cause: error }));
    });
    req.on('response', (res: IncomingMessage) => {
      const status = res.statusCode ?? 0;
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        if (text.length < ERROR_BODY_CHARS) text += chunk;
      });
      res.on('error', (error) => finish(new WebhookError(`reading the answer: ${error.message}`, { cause: error })));
      res.on('end', () => {
        if (status >= 200 && status < 300) finish();
        else finish(new WebhookError(`HTTP ${status}${text === '' ? '' : `: ${text.slice(0, ERROR_BODY_CHARS).replace(/\s+/g, ' ').trim()}`}`));
      });
    });
    req.end(body);
  });
}
