import { TlsAlertError } from '../alert.js';
import { Reader } from './reader.js';

/* pre_shared_key (RFC 8446 §4.2.11): the client's identities and binders; the server's answer is a u16 index. */

export interface PskIdentity {
  readonly identity: Buffer;
  readonly obfuscatedTicketAge: number;
}

export interface OfferedPsks {
  readonly identities: readonly PskIdentity[];
  readonly binders: readonly Buffer[];
  /** Bytes of the binders list (with its length), which the truncated ClientHello leaves out. */
  readonly bindersLength: number;
}

/** pre_shared_key in ClientHello (RFC 8446 §4.2.11). */
export function decodeOfferedPsks(data: Buffer): OfferedPsks {
  const r = Reader.of(data);
  const ids = r.sub(2, 'PskIdentity list', 7);
  const identities: PskIdentity[] = [];
  while (!ids.isEmpty()) identities.push({ identity: ids.vector(2, 'identity', 1), obfuscatedTicketAge: ids.u32('obfuscated_ticket_age') });
  const start = r.position;
  const bl = r.sub(2, 'binders', 33);
  const binders: Buffer[] = [];
  while (!bl.isEmpty()) binders.push(bl.vector(1, 'PskBinderEntry', 32, 255));
  const bindersLength = r.position - start;
  r.expectEmpty('pre_shared_key');
  if (binders.length !== identities.length) throw new TlsAlertError('illegal_parameter', 'binder count differs from identity count');
  return { identities, binders, bindersLength };
}

export function encodeOfferedPsks(identities: readonly PskIdentity[], binders: readonly Uint8Array[]): Buffer {
  const idLen = identities.reduce((n, i) => n + 2 + i.identity.length + 4, 0);
  const bLen = binders.reduce((n, b) => n + 1 + b.length, 0);
  const out = Buffer.allocUnsafe(2 + idLen + 2 + bLen);
  let at = 0;
  out.writeUInt16BE(idLen, at);
  at += 2;
  for (const i of identities) {
    out.writeUInt16BE(i.identity.length, at);
    i.identity.copy(out, at + 2);
    at += 2 + i.identity.length;
    out.writeUInt32BE(i.obfuscatedTicketAge >>> 0, at);
    at += 4;
  }
  out.writeUInt16BE(bLen, at);
  at += 2;
  for (const b of binders) {
    out[at++] = b.length;
    out.set(b, at);
    at += b.length;
  }
  return out;
}
