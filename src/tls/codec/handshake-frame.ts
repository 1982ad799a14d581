import { TlsAlertError } from '../alert.js';

/** A complete handshake message: its type, body, and the framed bytes the transcript hashes. */
export interface HandshakeMessage {
  readonly type: number;
  readonly body: Buffer;
  readonly raw: Buffer;
}

/** Frames a body as Handshake { msg_type, length<u24>, body } (RFC 8446 §4). */
export function frameHandshake(type: number, body: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(4 + body.length);
  out[0] = type;
  out[1] = body.length >>> 16;
  out.writeUInt16BE(body.length & 0xffff, 2);
  out.set(body, 4);
  return out;
}

/**
 * Reassembles handshake messages from handshake-record fragments: one
 * message may span records and one record may hold several (RFC 8446 §5.1).
 * Bounded: a message over `maxMessageSize` is refused before it is buffered.
 */
export class HandshakeReassembler {
  private buffer: Buffer = Buffer.alloc(0);

  constructor(private readonly maxMessageSize: number) {}

  /** Whether part of a message is waiting; keys may not change then (§5.1). */
  hasPartial(): boolean {
    return this.buffer.length > 0;
  }

  push(fragment: Buffer): void {
    this.buffer = this.buffer.length === 0 ? fragment : Buffer.concat([this.buffer, fragment]);
  }

  next(): HandshakeMessage | undefined {
    if (this.buffer.length < 4) return undefined;
    const length = (this.buffer[1]! << 16) | this.buffer.readUInt16BE(2);
    if (length > this.maxMessageSize) {
      throw new TlsAlertError('unexpected_message', `handshake message of ${length} bytes exceeds the limit`);
    }
    if (this.buffer.length < 4 + length) return undefined;
    const raw = this.buffer.subarray(0, 4 + length);
    this.buffer = this.buffer.subarray(4 + length);
    return { type: raw[0]!, body: raw.subarray(4), raw };
  }
}
