/**
 * The listener: our TLS engine accepts TCP, runs the handshake, and hands
 * each secure socket to the node:http server inside the fastify app
 * (DESIGN, Transport). No node:tls or node:https anywhere.
 */
import { Server as HttpServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Server as NetServer } from 'node:net';
import type { FastifyInstance } from 'fastify';
import {
  createServer,
  TlsAlertError,
  TlsSocket,
  type EarlyDataOutcome,
  type TlsServer,
  type TlsServerOptions,
  type VerifyPeer,
} from '../tls/index.js';
import { followEarlyData } from './early-data.js';
import type { KeysmithMetrics } from './metrics.js';

/** How long close() lets in-flight requests finish before cutting connections. */
export const DEFAULT_DRAIN_MS = 10_000;
/** How often idle keep-alive connections are reaped while draining. */
const REAP_INTERVAL_MS = 50;
/**
 * Requests parsed and not yet answered on one connection past which its
 * further pipelined requests are not read (their answers would wait in
 * memory, in order, behind the first: RFC 9112 §9.3.2).
 */
export const MAX_REQUESTS_IN_FLIGHT = 4;
/**
 * How often node:http checks header and request timeouts (its default, 30 s,
 * let a 20 s header timeout hold a connection ~45 s); a timeout fires within
 * this much of its setting.
 */
export const TIMEOUT_CHECK_INTERVAL_MS = 1_000;

/** HTTP timeouts on the listener, in ms (node:http's headersTimeout, requestTimeout, keepAliveTimeout). */
export interface HttpTimeouts {
  /** From a request's first byte (or the connection's start) to the end of its head. */
  readonly headersMs: number;
  /** From a request's first byte to its last. */
  readonly requestMs: number;
  /** An idle keep-alive connection is closed after this. */
  readonly keepAliveMs: number;
}

const CRLF_CRLF = Buffer.from('\r\n\r\n', 'latin1');
const LF_LF = Buffer.from('\n\n', 'latin1');

/**
 * The length of `data` up to and including the first empty line, the end of
 * an HTTP/1.1 message head (RFC 9112 §2.1; bare LF tolerated as §2.2
 * allows), or all of it: the TLS socket hands node:http one request head per
 * piece, so node:http's pause and our cap on requests in flight take effect
 * between pipelined requests.
 */
export function endOfFirstHead(data: Buffer): number {
  const crlf = data.indexOf(CRLF_CRLF);
  const lf = data.indexOf(LF_LF);
  const afterCrlf = crlf < 0 ? data.length : crlf + 4;
  const afterLf = lf < 0 ? data.length : lf + 2;
  return afterCrlf < afterLf ? afterCrlf : afterLf;
}

export interface HttpsServerOptions {
  /** The engine's options; client authentication and ALPN follow from mtlsMode and HTTP/1.1. */
  readonly tls: Omit<TlsServerOptions, 'clientAuth' | 'ALPNProtocols'>;
  /** standard: ask for a client certificate, let route groups decide; strict: require one at the handshake. */
  readonly mtlsMode: 'standard' | 'strict';
  /** Built by buildApp, so `app.server` is a node:http server that never listens itself. */
  readonly app: FastifyInstance;
  /** Policy on a verified client chain (ledger revocation); runs after `tls.verifyPeer` when both are given. */
  readonly verifyPeer?: VerifyPeer;
  readonly metrics?: Pick<KeysmithMetrics, 'countHandshake' | 'countNegotiated' | 'countRefusedConnection' | 'countEarlyData'>;
  /** Default: node:http's own values as buildApp set them, checked every TIMEOUT_CHECK_INTERVAL_MS. */
  readonly timeouts?: HttpTimeouts;
}

export interface HttpsServer {
  readonly tls: TlsServer;
  /** Binds `port` on `host`, or takes over a listener already bound (see TlsServer.adopt). */
  listen(port: number | NetServer, host?: string): Promise<void>;
  /** Stops accepting, lets in-flight requests finish for up to `graceMs`, then closes every connection. */
  close(graceMs?: number): Promise<void>;
  address(): AddressInfo | string | null;
}

function composeVerifiers(first: VerifyPeer | undefined, second: VerifyPeer | undefined): VerifyPeer | undefined {
  if (first === undefined) return second;
  if (second === undefined) return first;
  return (peer) => {
    first(peer);
    second(peer);
  };
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}

/** What the listener, the request bookkeeping and close() share. */
interface ConnectionState {
  readonly sockets: Set<TlsSocket>;
  /** Responses not yet finished, so close() can mark them as the last on their connection. */
  readonly inFlight: Set<ServerResponse>;
  isClosing: boolean;
}

export function createHttpsServer(options: HttpsServerOptions): HttpsServer {
  const { app, metrics } = options;
  const http = app.server;
  if (!(http instanceof HttpServer)) throw new Error('createHttpsServer needs an app from buildApp, whose server is a node:http server');

  const state: ConnectionState = { sockets: new Set(), inFlight: new Set(), isClosing: false };
  let closed: Promise<void> | undefined;
  const tls = createTlsListener(options, http, state);
  // RFC 8446 §6.1: the peer's close_notify closes only its write side. node:http then marks its last
  // response as the last and ends the socket after it, instead of dropping the requests still in flight.
  // httpAllowHalfOpen and connectionsCheckingInterval are node:http Server fields that @types/node does not declare.
  Object.assign(http, { httpAllowHalfOpen: true, connectionsCheckingInterval: TIMEOUT_CHECK_INTERVAL_MS });
  if (options.timeouts !== undefined) {
    http.headersTimeout = options.timeouts.headersMs;
    http.requestTimeout = options.timeouts.requestMs;
    http.keepAliveTimeout = options.timeouts.keepAliveMs;
  }
  trackRequests(http, state);
  tls.on('drop', () => metrics?.countRefusedConnection());
  tls.on('earlyData', (outcome: EarlyDataOutcome) => metrics?.countEarlyData(outcome));
  tls.on('tlsClientError', (err: Error) => {
    metrics?.countHandshake('failed');
    // Refusals we decided (unknown CA, missing certificate) matter to operators; peers hanging up are noise.
    const isOurs = err instanceof TlsAlertError && !err.isRemote;
    if (isOurs) app.log.info({ err }, 'TLS handshake refused');
    else app.log.debug({ err }, 'TLS handshake failed');
  });

  return {
    tls,
    listen: (port, host) => listenOn(tls, http, port, host),
    close(graceMs = DEFAULT_DRAIN_MS) {
      closed ??= closeGracefully(app, http, tls, state, graceMs);
      return closed;
    },
    address() {
      return tls.address();
    },
  };
}

/** The engine's server: each finished handshake's socket goes to node:http, unless close() began. */
function createTlsListener(options: HttpsServerOptions, http: HttpServer, state: ConnectionState): TlsServer {
  const { metrics } = options;
  const verifyPeer = composeVerifiers(options.tls.verifyPeer, options.verifyPeer);
  return createServer(
    {
      ...options.tls,
      ...(verifyPeer === undefined ? {} : { verifyPeer }),
      clientAuth: options.mtlsMode === 'strict' ? 'require' : 'request',
      ALPNProtocols: ['http/1.1'],
      allowHalfOpen: true,
      splitInbound: endOfFirstHead,
    },
    (socket) => {
      countCompletedHandshake(socket, metrics);
      // A handshake that finishes after close() began gets no HTTP service.
      if (state.isClosing) {
        socket.destroy();
        return;
      }
      state.sockets.add(socket);
      socket.once('close', () => state.sockets.delete(socket));
      // With accepted 0-RTT the socket comes before its handshake ends; early requests get Early-Data: 1 (RFC 8470).
      followEarlyData(socket);
      http.emit('connection', socket);
    },
  );
}

/**
 * Counts each connection's requests in flight (stops reading its further
 * requests while MAX_REQUESTS_IN_FLIGHT are unanswered) and keeps the
 * unfinished responses for close().
 */
function trackRequests(http: HttpServer, state: ConnectionState): void {
  /** Requests parsed and not yet answered, per connection. */
  const inFlightBySocket = new WeakMap<TlsSocket, number>();
  const countRequestIn = (socket: TlsSocket): void => {
    const count = (inFlightBySocket.get(socket) ?? 0) + 1;
    inFlightBySocket.set(socket, count);
    if (count === MAX_REQUESTS_IN_FLIGHT) socket.holdInbound();
  };
  const countRequestOut = (socket: TlsSocket): void => {
    const left = (inFlightBySocket.get(socket) ?? 1) - 1;
    inFlightBySocket.set(socket, left);
    if (left === MAX_REQUESTS_IN_FLIGHT - 1) socket.releaseInbound();
  };
  // Runs after fastify's own 'request' listener, before any response is written. One 'close' listener per
  // response does both bookkeeping steps.
  http.on('request', (request: IncomingMessage, response: ServerResponse) => {
    const socket = request.socket instanceof TlsSocket ? request.socket : undefined;
    if (socket !== undefined) countRequestIn(socket);
    if (state.isClosing) response.shouldKeepAlive = false;
    else state.inFlight.add(response);
    response.once('close', () => {
      state.inFlight.delete(response);
      if (socket !== undefined) countRequestOut(socket);
    });
  });
}

function listenOn(tls: TlsServer, http: HttpServer, port: number | NetServer, host: string | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (err: Error): void => reject(err);
    tls.once('error', onError);
    const onListening = (): void => {
      tls.off('error', onError);
      // node:http starts its connection tracking (request and header timeouts, idle reaping) on 'listening';
      // this server never binds itself, so tell it the listener is up.
      http.emit('listening');
      resolve();
    };
    if (typeof port === 'number') tls.listen(port, host, onListening);
    else tls.adopt(port, onListening);
  });
}

/** Stops accepting, lets in-flight requests finish for up to `graceMs`, then closes every connection. */
async function closeGracefully(
  app: FastifyInstance,
  http: HttpServer,
  tls: TlsServer,
  state: ConnectionState,
  graceMs: number,
): Promise<void> {
  state.isClosing = true;
  // Monotonic time: the drain bound must not move with the wall clock.
  const deadline = performance.now() + graceMs;
  const tlsClosed = new Promise<void>((resolve) => tls.close(() => resolve()));
  // Responses still to be written tell their clients not to reuse the connection (Connection: close).
  for (const response of state.inFlight) if (!response.headersSent) response.shouldKeepAlive = false;
  // Fastify does the same for requests it starts from now on, and runs its onClose hooks.
  const appClosed = app.close();
  http.closeIdleConnections();
  const reaper = setInterval(() => http.closeIdleConnections(), REAP_INTERVAL_MS);
  try {
    while (state.sockets.size > 0 && performance.now() < deadline) await delay(REAP_INTERVAL_MS);
  } finally {
    clearInterval(reaper);
  }
  // The grace period is over: whatever is still open is cut.
  http.closeAllConnections();
  for (const socket of state.sockets) socket.destroy();
  // Stops node:http's connection-checking timer; it was never bound, so "not running" is expected.
  await new Promise<void>((resolve) => http.close(() => resolve()));
  await appClosed;
  // Connections still in their handshake end by the engine's handshake timeout; do not wait past the grace period.
  await Promise.race([tlsClosed, delay(Math.max(0, deadline - performance.now()))]);
}

/**
 * Counts a handshake once it has completed. A socket that accepted 0-RTT is
 * handed on before its handshake ends (the client's Finished is still to
 * come), so it is counted at 'secure': one whose Finished then fails is
 * counted once, as failed, by 'tlsClientError'.
 */
function countCompletedHandshake(socket: TlsSocket, metrics: HttpsServerOptions['metrics']): void {
  if (metrics === undefined) return;
  const count = (): void => {
    metrics.countHandshake(socket.isResumed ? 'resumed' : 'ok');
    if (socket.protocol !== null && socket.cipher !== undefined) metrics.countNegotiated(socket.protocol, socket.cipher.standardName);
  };
  if (socket.isSecure) count();
  else socket.once('secure', count);
}
