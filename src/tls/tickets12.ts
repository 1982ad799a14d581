import { DecodeError } from './alert.js';
import { Reader } from './codec/reader.js';
import { Writer } from './codec/writer.js';
import { readCertificateList, TLS12_STATE_TAG, writeCertificateList } from './tickets.js';

/**
 * What a TLS 1.2 ticket (RFC 5077 §4) carries, sealed with the same rotating
 * keys as TLS 1.3 tickets (TicketKeys): the suite, the master secret of an
 * extended-master-secret session (RFC 7627 §5.3: we make no others), when it
 * was made and for how long it is good, the ALPN protocol and server name,
 * and the client's chain as it was verified.
 */
export interface Tls12SessionState {
  readonly suite: number;
  readonly masterSecret: Buffer;
  readonly createdAt: number;
  readonly lifetimeSeconds: number;
  readonly alpn: string;
  readonly servername: string;
  /** The client's chain, leaf first (empty without client auth). */
  readonly peerChain: readonly Buffer[];
}

export function encodeTls12SessionState(s: Tls12SessionState): Buffer {
  const w = new Writer(256 + s.peerChain.reduce((n, c) => n + c.length + 3, 0));
  w.u8(TLS12_STATE_TAG).u16(s.suite);
  w.u64(s.createdAt);
  w.u32(s.lifetimeSeconds)
    .opaque(1, s.masterSecret)
    .opaque(1, Buffer.from(s.alpn, 'latin1'))
    .opaque(2, Buffer.from(s.servername, 'latin1'));
  writeCertificateList(w, s.peerChain);
  return w.finish();
}

/** The state of a TLS 1.2 ticket; anything else (a TLS 1.3 ticket included) is a DecodeError. */
export function decodeTls12SessionState(bytes: Buffer): Tls12SessionState {
  const r = Reader.of(bytes);
  if (r.u8() !== TLS12_STATE_TAG) throw new DecodeError('not a TLS 1.2 ticket state');
  const suite = r.u16();
  const createdAt = r.u64();
  const lifetimeSeconds = r.u32();
  const masterSecret = r.vector(1, 'master secret', 48, 48);
  const alpn = r.vector(1, 'alpn').toString('latin1');
  const servername = r.vector(2, 'servername').toString('latin1');
  const peerChain = readCertificateList(r);
  r.expectEmpty('ticket state');
  return { suite, masterSecret, createdAt, lifetimeSeconds, alpn, servername, peerChain };
}
