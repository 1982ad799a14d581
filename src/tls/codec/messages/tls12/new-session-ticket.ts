import { Reader } from '../../reader.js';
import { Writer } from '../../writer.js';

/** NewSessionTicket in TLS 1.2 (RFC 5077 §3.3): a lifetime hint in seconds and an opaque ticket<0..2^16-1>. */
export interface NewSessionTicket12 {
  readonly lifetimeHintSeconds: number;
  readonly ticket: Buffer;
}

export function decodeNewSessionTicket12(body: Buffer): NewSessionTicket12 {
  const r = Reader.of(body);
  const lifetimeHintSeconds = r.u32('ticket_lifetime_hint');
  const ticket = r.vector(2, 'ticket');
  r.expectEmpty('NewSessionTicket');
  return { lifetimeHintSeconds, ticket };
}

export function encodeNewSessionTicket12(m: NewSessionTicket12): Buffer {
  return new Writer(6 + m.ticket.length).u32(m.lifetimeHintSeconds).opaque(2, m.ticket).finish();
}
