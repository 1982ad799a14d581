import { TlsAlertError } from '../alert.js';
import { Reader } from './reader.js';

export interface KeyShareEntry {
  readonly group: number;
  readonly keyExchange: Buffer;
}

function readKeyShareEntry(r: Reader): KeyShareEntry {
  const group = r.u16('key_share group');
  const keyExchange = r.vector(2, 'key_exchange', 1);
  return { group, keyExchange };
}

/** key_share in ClientHello: client_shares. §4.2.8: one share per group. */
export function decodeClientKeyShares(data: Buffer): KeyShareEntry[] {
  const r = Reader.of(data);
  const list = r.sub(2, 'client_shares');
  r.expectEmpty('key_share');
  const out: KeyShareEntry[] = [];
  const groups = new Set<number>();
  while (!list.isEmpty()) {
    const e = readKeyShareEntry(list);
    if (groups.has(e.group)) throw new TlsAlertError('illegal_parameter', 'two key shares for one group');
    groups.add(e.group);
    out.push(e);
  }
  return out;
}

export function encodeClientKeyShares(entries: readonly KeyShareEntry[]): Buffer {
  const total = entries.reduce((n, e) => n + 4 + e.keyExchange.length, 0);
  const b = Buffer.allocUnsafe(2 + total);
  b.writeUInt16BE(total, 0);
  let at = 2;
  for (const e of entries) {
    b.writeUInt16BE(e.group, at);
    b.writeUInt16BE(e.keyExchange.length, at + 2);
    e.keyExchange.copy(b, at + 4);
    at += 4 + e.keyExchange.length;
  }
  return b;
}

export function decodeServerKeyShare(data: Buffer): KeyShareEntry {
  const r = Reader.of(data);
  const e = readKeyShareEntry(r);
  r.expectEmpty('key_share');
  return e;
}

export function encodeServerKeyShare(e: KeyShareEntry): Buffer {
  const b = Buffer.allocUnsafe(4 + e.keyExchange.length);
  b.writeUInt16BE(e.group, 0);
  b.writeUInt16BE(e.keyExchange.length, 2);
  e.keyExchange.copy(b, 4);
  return b;
}
