import { decodeExtensions, encodeExtensions, type RawExtension } from '../extensions.js';
import { Reader } from '../reader.js';
import { Writer } from '../writer.js';

/** NewSessionTicket (RFC 8446 §4.6.1). */
export interface NewSessionTicket {
  readonly lifetimeSeconds: number;
  readonly ageAdd: number;
  readonly nonce: Buffer;
  readonly ticket: Buffer;
  readonly extensions: readonly RawExtension[];
}

export function decodeNewSessionTicket(body: Buffer): NewSessionTicket {
  const r = Reader.of(body);
  const lifetimeSeconds = r.u32('ticket_lifetime');
  const ageAdd = r.u32('ticket_age_add');
  const nonce = r.vector(1, 'ticket_nonce');
  const ticket = r.vector(2, 'ticket', 1);
  const extensions = decodeExtensions(r, 0, 'NewSessionTicket');
  r.expectEmpty('NewSessionTicket');
  return { lifetimeSeconds, ageAdd, nonce, ticket, extensions };
}

export function encodeNewSessionTicket(m: NewSessionTicket): Buffer {
  const w = new Writer(256);
  w.u32(m.lifetimeSeconds).u32(m.ageAdd).opaque(1, m.nonce).opaque(2, m.ticket);
  encodeExtensions(w, m.extensions);
  return w.finish();
}
