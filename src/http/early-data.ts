/**
 * TLS 1.3 early data (0-RTT) at the HTTP edge (RFC 8470). Early data can
 * be replayed, so a request that arrived in it carries `Early-Data: 1`
 * (§5.1), and only the idempotent, side-effect-free reads are served from
 * it; anything else is answered 425 Too Early (§5.2), and the client sends
 * it again once the handshake is done.
 */
import type { Server as HttpServer, IncomingMessage } from 'node:http';
import type { FastifyInstance } from 'fastify';
import { TlsSocket } from '../tls/index.js';
import { problemOf, sendProblem } from './problem.js';

/** Per connection that accepted 0-RTT: where the reader is in the plaintext, and whether the chunk being parsed was early. */
interface EarlyReading {
  offset: number;
  isChunkEarly: boolean;
}

const readings = new WeakMap<TlsSocket, EarlyReading>();

/**
 * Follows the plaintext node:http reads from a socket that accepted 0-RTT.
 * Early bytes come first (`socket.earlyDataBytes` of them), and node:http
 * parses each chunk in its 'data' listener, emitting 'request' as a head
 * ends: a listener ahead of it knows which chunk is being parsed. Call
 * before the socket is handed to node:http.
 */
export function followEarlyData(socket: TlsSocket): void {
  if (!socket.earlyDataAccepted) return;
  const reading: EarlyReading = { offset: 0, isChunkEarly: false };
  readings.set(socket, reading);
  socket.on('data', (chunk: Buffer) => {
    // A chunk that starts in early data counts as early, even if it runs past its end (RFC 8470: when in doubt, early).
    reading.isChunkEarly = reading.offset < socket.earlyDataBytes;
    reading.offset += chunk.length;
  });
}

/**
 * Marks requests whose head ended in early data with `Early-Data: 1`
 * (RFC 8470 §5.1) before the app sees them. A head that ends only in 1-RTT
 * data cannot be replayed on its own: a replayer never completes the
 * handshake, so nothing after the early data ever arrives.
 */
export function markEarlyRequests(http: HttpServer): void {
  http.prependListener('request', (request: IncomingMessage) => {
    const socket = request.socket;
    const reading = socket instanceof TlsSocket ? readings.get(socket) : undefined;
    if (reading?.isChunkEarly === true) request.headers['early-data'] = '1';
  });
}

/** Reads with no side effect, safe to serve from replayable early data: GET/HEAD on these paths. */
const EARLY_SAFE_PATHS = new Set(['/healthz', '/v1/bundle', '/ca.crt', '/crl']);
const EARLY_SAFE_PREFIXES = ['/crl/', '/ocsp/'];

export function isEarlySafe(method: string, url: string): boolean {
  if (method !== 'GET' && method !== 'HEAD') return false;
  const query = url.indexOf('?');
  const path = query < 0 ? url : url.slice(0, query);
  return EARLY_SAFE_PATHS.has(path) || EARLY_SAFE_PREFIXES.some((prefix) => path.startsWith(prefix));
}

/**
 * RFC 8470 §5.2: a request marked as early data that is not a safe read is
 * refused with 425 before any other hook (authentication, access policy)
 * or the route runs. Install it first among the onRequest hooks.
 */
export function installTooEarly(app: FastifyInstance): void {
  app.addHook('onRequest', async (request, reply) => {
    if (request.headers['early-data'] !== '1' || isEarlySafe(request.method, request.url)) return;
    const detail = 'This request arrived in TLS early data (0-RTT), which can be replayed; send it again after the handshake.';
    return sendProblem(reply, problemOf('tooEarly', detail, request.url.split('?')[0]));
  });
}
