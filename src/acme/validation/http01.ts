import { timingSafeEqual } from 'node:crypto';
import { request, type IncomingMessage } from 'node:http';
import type { Deadline } from './deadline.js';
import { errorCode, failed, PASSED, quote } from './outcome.js';
import type { ChallengeAttempt, ValidationOutcome } from './types.js';

/*
 * http-01 (RFC 8555 §8.3): GET http://<identifier>/.well-known/acme-challenge/<token>
 * over plain TCP to a checked target address and the configured port. The
 * Host header is the identifier alone, as the real port-80 request would
 * carry it: the port option only moves where we connect (closed networks, tests).
 */

/** A key authorization is under 200 bytes; this bounds what a target can make us buffer. */
export const MAX_BODY_BYTES = 8 * 1024;
/** RFC 8555 §8.3 allows redirects; Boulder follows up to 10. */
export const MAX_REDIRECTS = 10;
const MAX_HEADER_BYTES = 16 * 1024;
const REDIRECT_STATUSES: ReadonlySet<number> = new Set([301, 302, 303, 307, 308]);
/** Boulder trims this set from the end of the body. */
const TRAILING_WHITESPACE: ReadonlySet<number> = new Set([0x20, 0x09, 0x0a, 0x0d]);

export interface Http01Context {
  readonly addresses: readonly string[];
  readonly port: number;
  readonly deadline: Deadline;
}

type Fetched =
  | { readonly kind: 'response'; readonly status: number; readonly location: string | undefined; readonly body: Buffer | undefined }
  | { readonly kind: 'oversized' }
  | { readonly kind: 'failed'; readonly outcome: ValidationOutcome; readonly isConnectFailure: boolean };

export async function validateHttp01(attempt: ChallengeAttempt, context: Http01Context): Promise<ValidationOutcome> {
  const host =
    attempt.identifier.type === 'ip' && attempt.identifier.value.includes(':') ? `[${attempt.identifier.value}]` : attempt.identifier.value;
  let path = `/.well-known/acme-challenge/${attempt.token}`;
  for (let redirects = 0; ; redirects++) {
    const url = `http://${host}${path}`;
    const fetched = await fetchFromAny(context, host, path, url);
    if (fetched.kind === 'failed') return fetched.outcome;
    if (fetched.kind === 'oversized') return failed('unauthorized', `Response from ${url} exceeds ${MAX_BODY_BYTES} bytes`);
    if (REDIRECT_STATUSES.has(fetched.status)) {
      if (redirects >= MAX_REDIRECTS) return failed('unauthorized', `Too many redirects (more than ${MAX_REDIRECTS}) fetching ${url}`);
      const next = followRedirect(url, host, fetched.location, context.port);
      if (!next.ok) return failed('unauthorized', `Redirect from ${url} refused: ${next.reason}`);
      path = next.path;
      continue;
    }
    // RFC 8555 §8.3: the response must be a 200 whose body is the key authorization.
    if (fetched.status !== 200) return failed('unauthorized', `Invalid response from ${url}: HTTP ${fetched.status}`);
    return checkBody(fetched.body ?? Buffer.alloc(0), attempt.keyAuthorization, url);
  }
}

function checkBody(body: Buffer, keyAuthorization: string, url: string): ValidationOutcome {
  let end = body.length;
  while (end > 0 && TRAILING_WHITESPACE.has(body[end - 1] ?? 0)) end--;
  const received = body.subarray(0, end);
  const expected = Buffer.from(keyAuthorization, 'utf8');
  if (received.length === expected.length && timingSafeEqual(received, expected)) return PASSED;
  return failed(
    'incorrectResponse',
    `The key authorization file from ${url} does not match this challenge: expected ${quote(keyAuthorization, 256)}, got ${quote(received.toString('utf8'))}`,
  );
}

type RedirectCheck = { readonly ok: true; readonly path: string } | { readonly ok: false; readonly reason: string };

/**
 * Only redirects back to the same host over http on the http-01 port are
 * followed (no port given means 80, which maps to the configured port as
 * the first request did). Anything else would let the client point us at
 * a target the address policy never saw.
 */
function followRedirect(from: string, host: string, location: string | undefined, port: number): RedirectCheck {
  if (location === undefined || location.length === 0) return { ok: false, reason: 'no Location header' };
  let target: URL;
  try {
    target = new URL(location, from);
  } catch {
    return { ok: false, reason: `Location ${quote(location)} is not a URL` };
  }
  if (target.protocol !== 'http:') return { ok: false, reason: `only http redirects are followed, not ${quote(target.protocol)}` };
  if (target.username !== '' || target.password !== '') return { ok: false, reason: 'redirect URL carries credentials' };
  if (target.hostname !== host.toLowerCase()) {
    return { ok: false, reason: `redirect to another host (${quote(target.hostname)}): only the identifier itself is followed` };
  }
  if (target.port !== '' && target.port !== String(port)) {
    return { ok: false, reason: `redirect to port ${target.port}: only the http-01 port is used` };
  }
  return { ok: true, path: `${target.pathname}${target.search}` };
}

/** Tries the addresses in order; only a failure to connect moves on to the next. */
async function fetchFromAny(context: Http01Context, host: string, path: string, url: string): Promise<Fetched> {
  let last: Fetched | undefined;
  for (const address of context.addresses) {
    last = await fetchOnce(address, context, host, path, url);
    if (last.kind !== 'failed' || !last.isConnectFailure || context.deadline.isExpired) return last;
  }
  return last ?? { kind: 'failed', outcome: failed('connection', `No address to connect to for ${url}`), isConnectFailure: false };
}

function fetchOnce(address: string, context: Http01Context, host: string, path: string, url: string): Promise<Fetched> {
  const where = `${address.includes(':') ? `[${address}]` : address}:${context.port}`;
  return new Promise<Fetched>((resolve) => {
    let isConnected = false;
    const finish = (result: Fetched): void => {
      resolve(result);
      outgoing.destroy();
    };
    const outgoing = request({
      host: address,
      port: context.port,
      method: 'GET',
      path,
      headers: { Host: host, 'User-Agent': 'keysmith-acme-validator', Accept: '*/*', Connection: 'close' },
      agent: false,
      maxHeaderSize: MAX_HEADER_BYTES,
      signal: context.deadline.signal,
    });
    outgoing.once('socket', (socket) => socket.once('connect', () => (isConnected = true)));
    outgoing.on('error', (error) => {
      const detail = context.deadline.isExpired
        ? `Timeout after ${context.deadline.timeoutMs} ms fetching ${url} (connected to ${where})`
        : `Error fetching ${url} (connected to ${where}): ${describeNetError(error)}`;
      finish({ kind: 'failed', outcome: failed('connection', detail), isConnectFailure: !isConnected });
    });
    outgoing.on('response', (response) =>
      readResponse(response, finish, (received) =>
        context.deadline.isExpired
          ? `Timeout after ${context.deadline.timeoutMs} ms fetching ${url} (connected to ${where})`
          : `Error fetching ${url} (connected to ${where}): the connection closed after ${received} bytes of the body, before the end its headers declared (an incomplete response, RFC 9112 §8)`,
      ),
    );
    outgoing.end();
  });
}

/**
 * Reads a 200's body to its end. A body delimited by the connection's close
 * (no Content-Length, no chunked coding: RFC 9112 §6.3 rule 8) ends with
 * 'end' as soon as the target closes, and is judged then. A close before a
 * declared Content-Length or the last chunk leaves the message incomplete
 * (RFC 9112 §8): node emits no 'end' then, only 'close', and that is judged
 * at once as a connection failure instead of waiting out the deadline.
 */
function readResponse(response: IncomingMessage, finish: (result: Fetched) => void, incomplete: (received: number) => string): void {
  const status = response.statusCode ?? 0;
  const location = response.headers.location;
  if (status !== 200) {
    // Only a 200's body matters; the rest is not read.
    finish({ kind: 'response', status, location, body: undefined });
    return;
  }
  const chunks: Buffer[] = [];
  let size = 0;
  let isDone = false;
  response.on('data', (chunk: Buffer) => {
    if (isDone) return;
    size += chunk.length;
    if (size > MAX_BODY_BYTES) {
      isDone = true;
      finish({ kind: 'oversized' });
      return;
    }
    chunks.push(chunk);
  });
  response.on('end', () => {
    if (isDone) return;
    isDone = true;
    finish({ kind: 'response', status, location, body: Buffer.concat(chunks) });
  });
  response.on('close', () => {
    if (isDone) return;
    isDone = true;
    finish({ kind: 'failed', outcome: failed('connection', incomplete(size)), isConnectFailure: false });
  });
  // An aborted body also emits 'error' (ECONNRESET "aborted") before 'close', which reports it.
  response.on('error', () => {});
}

function describeNetError(error: Error): string {
  const code = errorCode(error);
  switch (code) {
    case 'ECONNREFUSED':
      return 'connection refused';
    case 'ECONNRESET':
      return 'connection reset by peer';
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
      return 'host unreachable';
    case 'HPE_HEADER_OVERFLOW':
      return `response headers exceed ${MAX_HEADER_BYTES} bytes`;
    case undefined:
      return 'the connection failed';
    default:
      return code.startsWith('HPE_') ? 'malformed HTTP response' : code;
  }
}
