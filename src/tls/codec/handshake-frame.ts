import { TlsAlertError } from '../alert.js';
import { HandshakeType, nameOf } from './enums.js';

/** A complete handshake message: its type, body, and the framed bytes the transcript hashes. */
export interface HandshakeMessage {
  readonly type: number;
  readonly body: Buffer;
  readonly raw: Buffer;
}

const HEADER_LENGTH = 4;

/**
 * Largest ClientHello body: what its vectors can add up to (2 version + 32
 * random + 1+32 session id + 2+(2^16-2) suites + 1+(2^8-1) compression +
 * 2+(2^16-1) extensions). OpenSSL's CLIENT_HELLO_MAX_LENGTH
 * (ssl/statem/statem_srvr.c) is this same 131,396; a longer one cannot be
 * well-formed.
 */
export const CLIENT_HELLO_MAX_LENGTH = 131_396;

/**
 * Bodies whose grammar bounds their length (RFC 8446 §4): a header that
 * announces more cannot be a well-formed message, which is decode_error.
 */
const GRAMMAR_MAX_LENGTH: ReadonlyMap<number, number> = new Map([
  [HandshakeType.client_hello, CLIENT_HELLO_MAX_LENGTH],
  // 2 + 32 + 1+32 + 2 + 1 + 2+(2^16-1)
  [HandshakeType.server_hello, 65_607],
  [HandshakeType.end_of_early_data, 0],
  // §4.4.4: verify_data is Hash.length, 48 bytes at most (SHA-384).
  [HandshakeType.finished, 48],
  [HandshakeType.key_update, 1],
]);

/**
 * The fragment budget: how many records one handshake message and one
 * flight may take (RFC 8446 §5.1 lets a message span records, but says
 * nothing of how many). Any message up to `MESSAGE_RECORD_ALLOWANCE` bytes
 * may come one byte per record (tlsfuzzer's record-layer fragmentation
 * tests send a ~1.3 KB ClientHello that way); a larger one must average at
 * least `BYTES_PER_EXTRA_RECORD` bytes per record beyond that allowance. A
 * real peer cuts at 2^14 (a 64 KiB Certificate takes 5 records, a
 * 131,396-byte ClientHello 9); a 64 KiB message in 256-byte records takes
 * 257 of its 2,561; in 1-byte records it is refused at record 2,562.
 */
export const MESSAGE_RECORD_ALLOWANCE = 2048;
export const BYTES_PER_EXTRA_RECORD = 128;
/** Handshake records in one flight of the peer (its messages between two of ours), or in one post-handshake message. */
export const MAX_FLIGHT_RECORDS = 4096;

/** Records a framed message of `framedLength` bytes may take. */
export function recordBudget(framedLength: number): number {
  return MESSAGE_RECORD_ALLOWANCE + Math.ceil(framedLength / BYTES_PER_EXTRA_RECORD);
}

/** The size policy the reassembler enforces from a message's 4-byte header. */
export interface HandshakeSizeLimits {
  /** Largest body for types without their own bound below (the `maxHandshakeMessageSize` option). */
  readonly maxMessageSize: number;
}

/** Frames a body as Handshake { msg_type, length<u24>, body } (RFC 8446 §4). */
export function frameHandshake(type: number, body: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(HEADER_LENGTH + body.length);
  out[0] = type;
  out[1] = body.length >>> 16;
  out.writeUInt16BE(body.length & 0xffff, 2);
  out.set(body, HEADER_LENGTH);
  return out;
}

/**
 * Checks a message's announced body length from its header alone, before
 * any of the body is buffered. A ClientHello is bounded by its grammar
 * (131,396 bytes, whatever `maxMessageSize` says); other messages by
 * `maxMessageSize` and, where tighter, their grammar. Past the grammar:
 * decode_error (no well-formed message is that long). Past our limit but
 * within the grammar: illegal_parameter, as OpenSSL answers an excessive
 * message size (SSL_R_EXCESSIVE_MESSAGE_SIZE).
 */
export function checkAnnouncedLength(type: number, length: number, limits: HandshakeSizeLimits): void {
  const grammar = GRAMMAR_MAX_LENGTH.get(type);
  if (grammar !== undefined && length > grammar) {
    throw new TlsAlertError(
      'decode_error',
      `${nameOf(HandshakeType, type)} of ${length} bytes is longer than its structure allows (${grammar})`,
    );
  }
  if (type === HandshakeType.client_hello) return;
  if (length > limits.maxMessageSize) {
    throw new TlsAlertError(
      'illegal_parameter',
      `${nameOf(HandshakeType, type)} of ${length} bytes exceeds the ${limits.maxMessageSize}-byte limit`,
    );
  }
}

/** A message whose header has arrived but not all of its body. */
interface PartialMessage {
  /** The framed bytes so far; grown by doubling up to `framedLength`, never per fragment. */
  buffer: Buffer;
  filled: number;
  /** Header plus body, once the header is complete; undefined while fewer than 4 bytes arrived. */
  framedLength: number | undefined;
  /** Records that carried bytes of this message. */
  records: number;
}

/** Below this a message's buffer is allocated whole when its header arrives. */
const INITIAL_CAPACITY = 16 * 1024;

/**
 * Reassembles handshake messages from handshake-record fragments: one
 * message may span records and one record may hold several (RFC 8446 §5.1).
 *
 * Linear: a message that fits in its record is handed out as a view of the
 * record, without a copy; one that spans records is copied once into a
 * buffer that doubles up to the announced length (so each byte is copied at
 * most twice, and a peer that announces 128 KiB but sends 4 bytes holds 16
 * KiB, not 128). Bounded: the length is checked from the header before any
 * body is buffered, and the fragment budget above caps records per message
 * and per flight, refused with unexpected_message (the records are each
 * well-formed; their number is the abuse, as with OpenSSL's and Go's caps
 * on empty records).
 */
export class HandshakeReassembler {
  private partial: PartialMessage | undefined;
  private fragment: Buffer = Buffer.alloc(0);
  private offset = 0;
  private flightRecords = 0;

  constructor(private readonly limits: HandshakeSizeLimits) {}

  /** Whether part of a message is waiting; keys may not change then (§5.1). */
  hasPartial(): boolean {
    return this.partial !== undefined || this.offset < this.fragment.length;
  }

  /** A new flight of the peer begins (we sent ours, or a post-handshake message completed): its record count restarts. */
  startFlight(): void {
    this.flightRecords = 0;
  }

  /** Takes one record's handshake content. Call next() until it returns undefined before the next push. */
  push(fragment: Buffer): void {
    if (this.offset < this.fragment.length)
      throw new TlsAlertError('internal_error', 'handshake fragment pushed before the previous one was read');
    if (++this.flightRecords > MAX_FLIGHT_RECORDS) {
      throw new TlsAlertError('unexpected_message', `more than ${MAX_FLIGHT_RECORDS} handshake records in one flight`);
    }
    this.fragment = fragment;
    this.offset = 0;
    const partial = this.partial;
    if (partial !== undefined && fragment.length > 0) {
      partial.records++;
      this.checkBudget(partial);
    }
  }

  next(): HandshakeMessage | undefined {
    if (this.partial !== undefined) return this.continuePartial(this.partial);
    const available = this.fragment.length - this.offset;
    if (available === 0) return undefined;
    if (available >= HEADER_LENGTH) {
      const at = this.offset;
      const type = this.fragment.readUInt8(at);
      const length = this.fragment.readUIntBE(at + 1, 3);
      checkAnnouncedLength(type, length, this.limits);
      const framedLength = HEADER_LENGTH + length;
      if (available >= framedLength) {
        // The whole message is in this record: a view, no copy.
        const raw = this.fragment.subarray(at, at + framedLength);
        this.offset += framedLength;
        return { type, body: raw.subarray(HEADER_LENGTH), raw };
      }
      this.partial = this.startPartial(framedLength);
    } else {
      this.partial = { buffer: Buffer.allocUnsafe(HEADER_LENGTH), filled: 0, framedLength: undefined, records: 1 };
    }
    return this.continuePartial(this.partial);
  }

  private startPartial(framedLength: number): PartialMessage {
    const partial = { buffer: Buffer.allocUnsafe(Math.min(framedLength, INITIAL_CAPACITY)), filled: 0, framedLength, records: 1 };
    this.checkBudget(partial);
    return partial;
  }

  /** Copies what this record holds of the waiting message; returns it once complete. */
  private continuePartial(partial: PartialMessage): HandshakeMessage | undefined {
    if (partial.framedLength === undefined) {
      const take = Math.min(HEADER_LENGTH - partial.filled, this.fragment.length - this.offset);
      this.fragment.copy(partial.buffer, partial.filled, this.offset, this.offset + take);
      partial.filled += take;
      this.offset += take;
      if (partial.filled < HEADER_LENGTH) return undefined;
      const header = partial.buffer;
      const length = header.readUIntBE(1, 3);
      checkAnnouncedLength(header.readUInt8(0), length, this.limits);
      partial.framedLength = HEADER_LENGTH + length;
      this.checkBudget(partial);
      const grown = Buffer.allocUnsafe(Math.min(partial.framedLength, INITIAL_CAPACITY));
      header.copy(grown, 0, 0, HEADER_LENGTH);
      partial.buffer = grown;
    }
    const framedLength = partial.framedLength;
    const take = Math.min(framedLength - partial.filled, this.fragment.length - this.offset);
    if (partial.filled + take > partial.buffer.length) this.grow(partial, partial.filled + take);
    this.fragment.copy(partial.buffer, partial.filled, this.offset, this.offset + take);
    partial.filled += take;
    this.offset += take;
    if (partial.filled < framedLength) return undefined;
    this.partial = undefined;
    const raw = partial.buffer.subarray(0, framedLength);
    return { type: raw.readUInt8(0), body: raw.subarray(HEADER_LENGTH), raw };
  }

  /** Doubles the buffer (at most to the announced length) so the total copying stays linear in the message size. */
  private grow(partial: PartialMessage, needed: number): void {
    const capacity = Math.min(partial.framedLength ?? needed, Math.max(needed, partial.buffer.length * 2));
    const grown = Buffer.allocUnsafe(capacity);
    partial.buffer.copy(grown, 0, 0, partial.filled);
    partial.buffer = grown;
  }

  private checkBudget(partial: PartialMessage): void {
    if (partial.framedLength === undefined) return;
    const budget = recordBudget(partial.framedLength);
    if (partial.records > budget) {
      throw new TlsAlertError(
        'unexpected_message',
        `handshake message of ${partial.framedLength} bytes spread over more than ${budget} records`,
      );
    }
  }
}
