import type { Server as HttpServer } from 'node:http';
import type { Duplex } from 'node:stream';

/**
 * The request-target of a request node:http could not parse. Its
 * 'clientError' (a head over the size limit, a timeout, bad syntax) comes
 * with no request object, yet the answer depends on the path: under /ocsp
 * it must be an OCSPResponse, elsewhere a problem document. node:http hands
 * over the chunk it was parsing (`rawPacket`), which for a head larger than
 * one TLS record is not the chunk the request line was in; so each socket
 * remembers the target of the last chunk that began with a request line.
 */

/** A method token and an origin-form target (RFC 9112 §3); only the path's first characters are kept. */
const REQUEST_LINE = /^[A-Z][A-Z-]{0,19} (\/[^ \r\n?#]{0,63})/;
/** Enough bytes for the method, a space and the kept part of the path. */
const PEEK_BYTES = 96;
const A = 0x41;
const Z = 0x5a;

const lastTargets = new WeakMap<Duplex, string>();

/** The path at the start of `bytes`, when they begin with a request line; cheap on every other chunk (one byte compared). */
export function requestTargetIn(bytes: Uint8Array | undefined): string | undefined {
  if (bytes === undefined || bytes.byteLength === 0) return undefined;
  const first = bytes[0] ?? 0;
  if (first < A || first > Z) return undefined;
  const head = Buffer.from(bytes.buffer, bytes.byteOffset, Math.min(bytes.byteLength, PEEK_BYTES)).toString('latin1');
  return REQUEST_LINE.exec(head)?.[1];
}

/**
 * Watches the plaintext each connection feeds node:http. Sockets node:http
 * consumes natively (the plain-HTTP listener) emit no 'data' events; there
 * `rawPacket` alone tells.
 */
export function rememberRequestTargets(server: HttpServer): void {
  server.on('connection', (socket: Duplex) => {
    socket.on('data', (chunk: Buffer) => {
      const target = requestTargetIn(chunk);
      if (target !== undefined) lastTargets.set(socket, target);
    });
  });
}

/** The best knowledge of the failed request's path: the chunk being parsed, else the last request line on the socket. */
export function failedRequestTarget(error: { rawPacket?: unknown }, socket: Duplex): string | undefined {
  const raw = error.rawPacket instanceof Uint8Array ? error.rawPacket : undefined;
  return requestTargetIn(raw) ?? lastTargets.get(socket);
}
