import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Duplex } from 'node:stream';
import * as tls from 'node:tls';
import { createServer, TlsAlertError, type TlsServer, type TlsServerOptions, type TlsSocket } from '../../src/tls/index.js';
import { DEFAULT_WAIT_MS, hasCommand, nextEvent, portOf, withTimeout, type ThirdPartyProcess } from '../helpers/processes.js';

/**
 * Shared pieces of the interop tests: fixture paths, an echo server on our
 * engine, a cleanup scope for afterEach, and a reader for OpenSSL's `-msg`
 * trace so tests can check the bytes a peer saw, not only its summary lines.
 */

/** test/fixtures, found from this file (dist/test/interop/harness.js) so the cwd does not matter. */
const FIXTURES = fileURLToPath(new URL('../../../test/fixtures/', import.meta.url));

export function fixturePath(name: string): string {
  return join(FIXTURES, name);
}

export function fixture(name: string): Buffer {
  return readFileSync(fixturePath(name));
}

/** RFC 8446 §4.1.3: the ServerHello.random that marks a HelloRetryRequest. */
export const HELLO_RETRY_REQUEST_RANDOM = Buffer.from('CF21AD74E59A6111BE1D8C021E65B891C2A211167ABB8C5E079E09E2C8A8339C', 'hex');

/** The spiffe ID in client.pem (make-fixtures.sh, [client_ext]). */
export const CLIENT_SPIFFE_ID = 'spiffe://keysmith.local/workload/test';

/**
 * Whether a tool-based suite runs. A missing tool skips its tests locally,
 * but fails them when KEYSMITH_REQUIRE_INTEROP=1 (set by .ci/run), so CI can
 * never pass by skipping.
 */
export function skipUnlessTool(command: string): { skip?: string } {
  if (hasCommand(command) || process.env['KEYSMITH_REQUIRE_INTEROP'] === '1') return {};
  return { skip: `${command} is not installed` };
}

// ---- cleanup ----

/** Things to undo after each test, undone last-in first-out (processes before the servers they talk to). */
export class Scope {
  private cleanups: (() => unknown)[] = [];

  defer(cleanup: () => unknown): void {
    this.cleanups.push(cleanup);
  }

  /** Registers a process to be killed by PID; returns it for chaining. */
  process(child: ThirdPartyProcess): ThirdPartyProcess {
    this.defer(() => child.kill());
    return child;
  }

  /** Registers a socket (ours or node's) to be destroyed. */
  socket<S extends Duplex>(socket: S): S {
    // An error after the test is over has nowhere to go; keep it from crashing the file.
    socket.on('error', () => {});
    this.defer(() => socket.destroy());
    return socket;
  }

  async tempDir(): Promise<string> {
    const dir = await mkdtemp(join(tmpdir(), 'keysmith-interop-'));
    this.defer(() => rm(dir, { recursive: true, force: true }));
    return dir;
  }

  async close(): Promise<void> {
    const cleanups = this.cleanups.reverse();
    this.cleanups = [];
    const failures: unknown[] = [];
    for (const cleanup of cleanups) {
      try {
        await cleanup();
      } catch (err) {
        failures.push(err);
      }
    }
    // The first failure, as it was thrown; every cleanup ran.
    if (failures.length > 0) throw failures[0];
  }
}

// ---- a queue with bounded waits, for server events ----

class Waiters<T> {
  private readonly items: T[] = [];
  private readonly pending: ((item: T) => void)[] = [];

  push(item: T): void {
    const waiter = this.pending.shift();
    if (waiter !== undefined) waiter(item);
    else this.items.push(item);
  }

  next(ms: number, what: string): Promise<T> {
    const item = this.items.shift();
    if (item !== undefined) return Promise.resolve(item);
    let resolveFn: ((item: T) => void) | undefined;
    const promise = new Promise<T>((resolve) => {
      resolveFn = resolve;
      this.pending.push(resolve);
    });
    return withTimeout(promise, ms, what).catch((err: unknown) => {
      const at = this.pending.indexOf(resolveFn!);
      if (at >= 0) this.pending.splice(at, 1);
      throw err;
    });
  }

  get queued(): number {
    return this.items.length;
  }
}

// ---- our server, echoing ----

export interface EchoServer {
  readonly server: TlsServer;
  readonly port: number;
  /** Every connection that completed its handshake, in order. */
  readonly connections: readonly TlsSocket[];
  /** Every handshake failure the server reported through 'tlsClientError'. */
  readonly clientErrors: readonly Error[];
  /** The next connection to complete its handshake (one already seen counts). */
  nextConnection(ms?: number): Promise<TlsSocket>;
  /** The next 'tlsClientError'. */
  nextClientError(ms?: number): Promise<Error>;
  /** The plaintext the server has read on a connection, as latin1 text. */
  received(socket: TlsSocket): string;
  close(): Promise<void>;
}

/**
 * Our TLS server on 127.0.0.1 and an ephemeral port. Each connection echoes
 * what it reads and half-closes when the peer does.
 */
export async function startEchoServer(options: TlsServerOptions): Promise<EchoServer> {
  const connections: TlsSocket[] = [];
  const clientErrors: Error[] = [];
  const secureQueue = new Waiters<TlsSocket>();
  const errorQueue = new Waiters<Error>();
  const receivedBy = new Map<TlsSocket, Buffer[]>();
  const server = createServer(options, (socket) => {
    connections.push(socket);
    receivedBy.set(socket, []);
    // After 'secure' the errors are the socket's; tests read them from the peer's side.
    socket.on('error', () => {});
    socket.on('data', (chunk: Buffer) => {
      receivedBy.get(socket)!.push(chunk);
      if (!socket.writableEnded) socket.write(chunk);
    });
    socket.on('end', () => socket.end());
    secureQueue.push(socket);
  });
  server.on('tlsClientError', (err: unknown) => {
    const error = err instanceof Error ? err : new Error(String(err));
    clientErrors.push(error);
    errorQueue.push(error);
  });
  server.listen(0, '127.0.0.1');
  await nextEvent(server, 'listening');
  const port = portOf(server.address());
  return {
    server,
    port,
    connections,
    clientErrors,
    nextConnection: (ms = DEFAULT_WAIT_MS) => secureQueue.next(ms, `a secure connection on port ${port}`),
    nextClientError: (ms = DEFAULT_WAIT_MS) => errorQueue.next(ms, `a tlsClientError on port ${port}`),
    received: (socket) => Buffer.concat(receivedBy.get(socket) ?? []).toString('latin1'),
    close: async () => {
      for (const socket of connections) socket.destroy();
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      await withTimeout(closed, DEFAULT_WAIT_MS, `closing the server on port ${port}`);
    },
  };
}

/** The alert a TlsAlertError carries, or a description of what else was thrown (for assert messages). */
/**
 * The echo server most interop tests run: our ECDSA identity, the test CA,
 * client certificates required; `options` override; closed with `scope`.
 */
export async function serveEcho(scope: Scope, options: Partial<TlsServerOptions> = {}): Promise<EchoServer> {
  const server = await startEchoServer({
    key: fixture('server.key'),
    cert: fixture('server-chain.pem'),
    ca: fixture('ca.pem'),
    clientAuth: 'require',
    ...options,
  });
  scope.defer(() => server.close());
  return server;
}

/** A node:tls server for our client to talk to, and the server side of each connection. */
export interface NodeEchoServer {
  readonly port: number;
  readonly server: tls.Server;
  readonly sockets: tls.TLSSocket[];
}

/** node:tls's server with our ECDSA identity (`options` add to it), echoing until the client ends; closed with `scope`. */
export async function serveNodeEcho(scope: Scope, options: tls.TlsOptions): Promise<NodeEchoServer> {
  const sockets: tls.TLSSocket[] = [];
  const server = tls.createServer({ key: fixture('server.key'), cert: fixture('server-chain.pem'), ...options }, (socket) => {
    sockets.push(socket);
    socket.on('error', () => {});
    socket.on('data', (chunk: Buffer) => socket.write(chunk));
    socket.on('end', () => socket.end());
  });
  server.on('tlsClientError', () => {});
  server.listen(0, '127.0.0.1');
  await nextEvent(server, 'listening');
  scope.defer(async () => {
    for (const socket of sockets) socket.destroy();
    await withTimeout(new Promise<void>((resolve) => server.close(() => resolve())), 10_000, 'closing the node:tls server');
  });
  return { port: portOf(server.address()), server, sockets };
}

/** Ends a third-party client's input (it sends close_notify and exits) and expects a clean exit. */
export async function finishClient(client: ThirdPartyProcess): Promise<void> {
  client.endInput();
  const result = await client.waitForExit();
  assert.equal(result.code, 0, client.describeOutput());
}

export function alertOf(err: unknown): string {
  if (err instanceof TlsAlertError) return err.alert;
  return `not a TlsAlertError: ${String(err)}`;
}

/** Reads from a socket until `pattern` shows up in what was read (latin1), bounded; rejects on end or error first. */
export function readUntil(socket: Duplex, pattern: RegExp, ms = DEFAULT_WAIT_MS): Promise<string> {
  let text = '';
  let cleanup = (): void => {};
  const promise = new Promise<string>((resolve, reject) => {
    const onData = (chunk: Buffer | string): void => {
      text += typeof chunk === 'string' ? chunk : chunk.toString('latin1');
      if (pattern.test(text)) resolve(text);
    };
    const onEnd = (): void => reject(new Error(`stream ended before ${String(pattern)}; read: ${JSON.stringify(text.slice(-500))}`));
    const onError = (err: Error): void => reject(err);
    socket.on('data', onData);
    socket.once('end', onEnd);
    socket.once('error', onError);
    cleanup = () => {
      socket.off('data', onData);
      socket.off('end', onEnd);
      socket.off('error', onError);
    };
  });
  return withTimeout(promise, ms, `reading ${String(pattern)}`).finally(() => cleanup());
}

/** Reads everything until the stream ends (bounded). */
export function readToEnd(socket: Duplex, ms = DEFAULT_WAIT_MS): Promise<string> {
  let text = '';
  const promise = new Promise<string>((resolve, reject) => {
    socket.on('data', (chunk: Buffer | string) => {
      text += typeof chunk === 'string' ? chunk : chunk.toString('latin1');
    });
    socket.once('end', () => resolve(text));
    socket.once('error', reject);
  });
  return withTimeout(promise, ms, 'reading to the end of the stream');
}

// ---- openssl s_client ----

/** s_client against 127.0.0.1:port, verifying the server as "localhost" under ca.pem; the handshake must verify. */
export function sClientArgs(port: number, ...extra: string[]): string[] {
  return [
    's_client',
    '-connect',
    `127.0.0.1:${port}`,
    '-servername',
    'localhost',
    '-verify_hostname',
    'localhost',
    '-verify_return_error',
    '-CAfile',
    fixturePath('ca.pem'),
    ...extra,
  ];
}

/** The client.pem identity with the intermediate, as s_client options. */
export function clientCertArgs(name = 'client'): string[] {
  return ['-cert', fixturePath(`${name}.pem`), '-key', fixturePath(`${name}.key`), '-cert_chain', fixturePath('intermediate.pem')];
}

/** s_client's summary line after a TLS 1.3 handshake: "New, TLSv1.3, Cipher is X" or "Reused, ...". */
export const S_CLIENT_HANDSHAKE_DONE = /^(New|Reused), TLSv1\.3, Cipher is (\S+)$/m;

/**
 * Writes a line to an interactive s_client and waits until the same line
 * comes back on its stdout (our echo server), bounded.
 */
export async function echoThrough(client: ThirdPartyProcess, token: string): Promise<void> {
  // s_client reads a line starting with Q, R, K or k as a command (quit, renegotiate, key update), not data.
  if (/^[QRKk]/.test(token)) throw new Error(`token ${token} would be read by s_client as a command`);
  // Tokens use letters outside a-f, so they can never match a -msg hex dump. s_client writes
  // received data with a raw write() but its own reports through buffered stdio, so the echo
  // can land in the middle of a report line: match it anywhere, not at a line start.
  const from = client.offset('stdout');
  await client.write(`${token}\n`);
  await client.waitFor(`${token}\n`, { stream: 'stdout', from });
}

// ---- OpenSSL -msg traces ----

export interface TraceMessage {
  /** '>>>' is sent by the traced program, '<<<' received by it. */
  readonly direction: 'sent' | 'received';
  /** "Handshake", "Alert", "InnerContent", "ChangeCipherSpec", "RecordHeader", ... */
  readonly kind: string;
  /** The message name after the comma, e.g. "ClientHello", "KeyUpdate", "fatal unknown_ca". */
  readonly name: string;
  readonly bytes: Buffer;
}

const TRACE_HEADER = /^(<<<|>>>) [^,]+, (\w+) \[length [0-9a-f]+\](?:, (.*))?$/;
const TRACE_HEX = /^ {4}([0-9a-f]{2}(?: [0-9a-f]{2})*)$/;

/** Parses the `-msg` output of s_client or s_server into messages, in order. */
export function parseMsgTrace(text: string): TraceMessage[] {
  const messages: { direction: 'sent' | 'received'; kind: string; name: string; hex: string[] }[] = [];
  let current: (typeof messages)[number] | undefined;
  for (const line of text.split('\n')) {
    const header = TRACE_HEADER.exec(line);
    if (header !== null) {
      current = { direction: header[1] === '>>>' ? 'sent' : 'received', kind: header[2]!, name: header[3] ?? '', hex: [] };
      messages.push(current);
      continue;
    }
    const hex = TRACE_HEX.exec(line);
    if (hex !== null && current !== undefined) {
      current.hex.push(hex[1]!.replace(/ /g, ''));
      continue;
    }
    current = undefined;
  }
  return messages.map((m) => ({ direction: m.direction, kind: m.kind, name: m.name, bytes: Buffer.from(m.hex.join(''), 'hex') }));
}

export function handshakeMessages(trace: readonly TraceMessage[], name: string, direction: 'sent' | 'received'): TraceMessage[] {
  return trace.filter((m) => m.kind === 'Handshake' && m.name === name && m.direction === direction);
}

/** Whether a ServerHello message (with its 4-byte handshake header) is a HelloRetryRequest (RFC 8446 §4.1.3). */
export function isHelloRetryRequest(serverHello: Buffer): boolean {
  return serverHello.subarray(6, 38).equals(HELLO_RETRY_REQUEST_RANDOM);
}

/** The extensions of a ServerHello or HelloRetryRequest message (RFC 8446 §4.1.3), by type. */
export function serverHelloExtensions(message: Buffer): Map<number, Buffer> {
  let at = 4 + 2 + 32; // handshake header, legacy_version, random
  const sessionIdLength = message[at]!;
  at += 1 + sessionIdLength + 2 + 1; // session id, cipher_suite, legacy_compression_method
  const end = at + 2 + message.readUInt16BE(at);
  at += 2;
  const extensions = new Map<number, Buffer>();
  while (at < end) {
    const type = message.readUInt16BE(at);
    const length = message.readUInt16BE(at + 2);
    extensions.set(type, message.subarray(at + 4, at + 4 + length));
    at += 4 + length;
  }
  return extensions;
}

// ---- OpenSSL session files ----

/**
 * Returns an OpenSSL session PEM ("SSL SESSION PARAMETERS") with
 * max_early_data set, so s_client offers 0-RTT with it. OpenSSL only sends
 * early data when the ticket allowed it (RFC 8446 §4.6.1, the ticket's
 * early_data extension); our tickets carry none, so without this s_client
 * would never exercise the server's early-data skipping.
 *
 * The session is OpenSSL's SSL_SESSION_ASN1 SEQUENCE (ssl/ssl_asn1.c), where
 * max_early_data is `[15] EXPLICIT INTEGER`; fields are in tag order, so the
 * new field goes before the first tag above 15.
 */
export function withMaxEarlyData(sessionPem: string, maxEarlyData: number): string {
  const body = sessionPem.replace(/-----[^-]+-----/g, '').replace(/\s+/g, '');
  const der = Buffer.from(body, 'base64');
  if (der[0] !== 0x30) throw new Error('session PEM is not a DER SEQUENCE');
  const [length, start] = readDerLength(der, 1);
  const fields: { tag: number; raw: Buffer }[] = [];
  for (let at = start; at < start + length;) {
    const [fieldLength, contentStart] = readDerLength(der, at + 1);
    fields.push({ tag: der[at]!, raw: der.subarray(at, contentStart + fieldLength) });
    at = contentStart + fieldLength;
  }
  const isContextTag = (tag: number): boolean => (tag & 0xe0) === 0xa0;
  const kept = fields.filter((f) => f.tag !== 0xaf);
  const insertAt = kept.findIndex((f) => isContextTag(f.tag) && (f.tag & 0x1f) > 15);
  const integer = derInteger(maxEarlyData);
  const field = Buffer.concat([Buffer.of(0xaf), encodeDerLength(integer.length), integer]);
  const raws = kept.map((f) => f.raw);
  raws.splice(insertAt < 0 ? raws.length : insertAt, 0, field);
  const content = Buffer.concat(raws);
  const out = Buffer.concat([Buffer.of(0x30), encodeDerLength(content.length), content]);
  const lines = out.toString('base64').match(/.{1,64}/g) ?? [];
  return `-----BEGIN SSL SESSION PARAMETERS-----\n${lines.join('\n')}\n-----END SSL SESSION PARAMETERS-----\n`;
}

function readDerLength(der: Buffer, at: number): [length: number, contentStart: number] {
  const first = der[at]!;
  if (first < 0x80) return [first, at + 1];
  const count = first & 0x7f;
  let length = 0;
  for (let i = 0; i < count; i++) length = length * 256 + der[at + 1 + i]!;
  return [length, at + 1 + count];
}

function encodeDerLength(length: number): Buffer {
  if (length < 0x80) return Buffer.of(length);
  const bytes: number[] = [];
  for (let n = length; n > 0; n = Math.floor(n / 256)) bytes.unshift(n & 0xff);
  return Buffer.of(0x80 | bytes.length, ...bytes);
}

function derInteger(value: number): Buffer {
  const bytes: number[] = [];
  for (let n = value; n > 0; n = Math.floor(n / 256)) bytes.unshift(n & 0xff);
  if (bytes.length === 0 || bytes[0]! >= 0x80) bytes.unshift(0);
  return Buffer.concat([Buffer.of(0x02, bytes.length), Buffer.from(bytes)]);
}
