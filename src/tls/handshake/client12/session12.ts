import { DecodeError } from '../../alert.js';
import type { ClientConfig } from '../../config.js';
import { Reader } from '../../codec/reader.js';
import { Writer } from '../../codec/writer.js';
import { readCertificateList, writeCertificateList } from '../../tickets.js';

/*
 * A TLS 1.2 session for the 'session' event (RFC 5077): the ticket and the
 * master secret behind it, on the same Uint8Array surface as a TLS 1.3
 * session. Its first byte tells them apart: a 1.2 session is offered only in
 * session_ticket, never as a PSK, and a 1.3 one never in session_ticket.
 */

/** The first byte of an encoded TLS 1.2 session; a TLS 1.3 one (tickets.ts) starts with 1. */
export const TLS12_SESSION_TAG = 0x12;

/** RFC 5077 §3.3: a lifetime hint of 0 says nothing; we keep such a ticket this long. */
const UNSPECIFIED_LIFETIME_S = 2 * 3600;
/** Never kept longer than TLS 1.3 tickets may live (RFC 8446 §4.6.1). */
const MAX_LIFETIME_S = 7 * 24 * 3600;

export interface Tls12ClientSession {
  readonly suite: number;
  readonly ticket: Buffer;
  /** The extended master secret of the original connection (RFC 7627): what the abbreviated handshake resumes. */
  readonly masterSecret: Buffer;
  readonly receivedAt: number;
  readonly lifetimeSeconds: number;
  readonly servername: string;
  readonly alpn: string;
  /** The server chain verified on the original connection. */
  readonly peerChain: readonly Buffer[];
}

/** The lifetime we keep a ticket for, from its hint (RFC 5077 §3.3). */
export function ticketLifetime(hintSeconds: number): number {
  return hintSeconds === 0 ? UNSPECIFIED_LIFETIME_S : Math.min(hintSeconds, MAX_LIFETIME_S);
}

export function isTls12Session(bytes: Uint8Array): boolean {
  return bytes[0] === TLS12_SESSION_TAG;
}

export function encodeTls12Session(s: Tls12ClientSession): Buffer {
  const w = new Writer(512 + s.ticket.length + s.peerChain.reduce((n, c) => n + c.length + 3, 0));
  w.u8(TLS12_SESSION_TAG).u16(s.suite).opaque(2, s.ticket).opaque(1, s.masterSecret);
  w.u64(s.receivedAt);
  w.u32(s.lifetimeSeconds).opaque(2, Buffer.from(s.servername, 'latin1')).opaque(1, Buffer.from(s.alpn, 'latin1'));
  writeCertificateList(w, s.peerChain);
  return w.finish();
}

export function decodeTls12Session(bytes: Uint8Array): Tls12ClientSession {
  const r = Reader.of(bytes);
  if (r.u8() !== TLS12_SESSION_TAG) throw new DecodeError('not a TLS 1.2 session');
  const suite = r.u16();
  const ticket = r.vector(2, 'ticket', 1);
  const masterSecret = r.vector(1, 'master secret', 48, 48);
  const receivedAt = r.u64();
  const lifetimeSeconds = r.u32();
  const servername = r.vector(2, 'servername').toString('latin1');
  const alpn = r.vector(1, 'alpn').toString('latin1');
  const peerChain = readCertificateList(r);
  r.expectEmpty('session');
  return { suite, ticket, masterSecret, receivedAt, lifetimeSeconds, servername, alpn, peerChain };
}

/** A session we may offer: not expired, for this server name, its suite still among those we offer. */
export function usableTls12Session(
  config: ClientConfig,
  offeredSuites: readonly number[],
  session: Tls12ClientSession | undefined,
): Tls12ClientSession | undefined {
  if (session === undefined) return undefined;
  const ageMs = config.now() - session.receivedAt;
  if (ageMs < 0 || ageMs > session.lifetimeSeconds * 1000) return undefined;
  if (!offeredSuites.includes(session.suite)) return undefined;
  if (session.servername !== (config.servername ?? '')) return undefined;
  return session;
}
