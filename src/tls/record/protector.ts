import { TlsAlertError } from '../alert.js';
import { ContentType } from '../codec/enums.js';
import type { CryptoProvider } from '../crypto/provider.js';
import type { SuiteInfo } from '../crypto/suites.js';
import { AEAD_TAG_LENGTH, MAX_CIPHERTEXT, MAX_PLAINTEXT, RECORD_HEADER_LENGTH } from './limits.js';
import { trafficKeys } from '../keyschedule/stages.js';
import type { RecordProtector } from './record-protector.js';

/** Up to this inner size one copy is cheaper than a second cipher update and a writev part. */
const SMALL_RECORD = 2048;

function writeHeader(target: Buffer, innerLength: number): void {
  target[0] = ContentType.application_data;
  target[1] = 3;
  target[2] = 3;
  target.writeUInt16BE(innerLength + AEAD_TAG_LENGTH, 3);
}

/** The one-byte inner content type of an unpadded record, per type (never written to: cipher input only). */
const TYPE_BYTES: readonly Buffer[] = Array.from({ length: 256 }, (_, type) => Buffer.of(type));

function typeByte(type: number): Buffer {
  return TYPE_BYTES[type] ?? Buffer.of(type);
}

function trailerWithPadding(type: number, padding: number): Buffer {
  const trailer = Buffer.alloc(1 + padding);
  trailer[0] = type;
  return trailer;
}

/** `bytes` in a buffer of its own (never a slice of the shared pool). */
function ownCopy(bytes: Buffer): Buffer {
  const copy = Buffer.allocUnsafeSlow(bytes.length);
  bytes.copy(copy);
  return copy;
}

/**
 * One direction of record protection (RFC 8446 §5.2-5.3): AEAD key, IV and a
 * 64-bit sequence number. Installing a new secret means a new Protector, so
 * the sequence number restarts at zero as §5.3 requires.
 */
export class Protector implements RecordProtector {
  private sequence = 0;
  private readonly key: Buffer;
  private readonly aead: SuiteInfo['aead'];
  /** The low 8 bytes of the IV, split so the nonce is two 32-bit XORs. */
  private readonly ivHigh: number;
  private readonly ivLow: number;
  /**
   * The per-record nonce, rewritten for each record: createCipheriv copies
   * the IV into the OpenSSL context when it is called, so one buffer serves
   * every record of this direction without an allocation each.
   */
  private readonly nonceBuffer: Buffer;

  constructor(
    private readonly crypto: CryptoProvider,
    readonly suite: SuiteInfo,
    readonly secret: Buffer,
  ) {
    const { key, iv } = trafficKeys(crypto, suite.hash, suite.keyLength, secret);
    // Key and nonce get bytes of their own, not slices of Buffer's shared 8 KiB pool (where HMAC output
    // and small allocations land): a protector lives as long as its connection, and a pooled slice
    // would keep a whole pool slab alive per idle connection.
    this.key = ownCopy(key);
    this.aead = suite.aead;
    this.ivHigh = iv.readUInt32BE(4);
    this.ivLow = iv.readUInt32BE(8);
    this.nonceBuffer = ownCopy(iv);
  }

  get recordsProcessed(): number {
    return this.sequence;
  }

  /** Whether the key has carried as many records as it may (RFC 8446 §5.5). */
  isExhausted(): boolean {
    return this.sequence >= this.suite.recordLimit;
  }

  /** §5.3: the 64-bit sequence number, left-padded to the IV's length, XORed with the IV. Valid until the next call. */
  private nonce(): Buffer {
    const seq = this.sequence;
    const nonce = this.nonceBuffer;
    // The first 4 bytes are the IV's own (the sequence is 64 bits). It never reaches 2^53: keys rotate at suite.recordLimit.
    const high = Math.floor(seq / 0x100000000);
    nonce.writeUInt32BE((this.ivHigh ^ high) >>> 0, 4);
    nonce.writeUInt32BE((this.ivLow ^ seq) >>> 0, 8);
    return nonce;
  }

  /** Seals one record: TLSInnerPlaintext = content || type || zeros(padding). */
  seal(type: ContentType, content: Uint8Array, padding = 0): Buffer {
    const parts: Buffer[] = [];
    this.sealInto(parts, type, content, padding);
    const [only] = parts;
    return parts.length === 1 && only !== undefined ? only : Buffer.concat(parts);
  }

  /**
   * Seals one record and appends it to `out` as one buffer (small records)
   * or as header, ciphertext, type byte and tag (large ones), so a 16 KiB
   * record is never copied after encryption: the socket writes the parts
   * with writev.
   */
  sealInto(out: Buffer[], type: ContentType, content: Uint8Array, padding = 0): void {
    // §5.4: TLSInnerPlaintext (content, type, padding) is at most 2^14 + 1 bytes.
    if (!Number.isInteger(padding) || padding < 0 || content.length + 1 + padding > MAX_PLAINTEXT + 1) {
      throw new TlsAlertError('internal_error', 'TLSInnerPlaintext over 2^14 + 1 bytes');
    }
    const innerLength = content.length + 1 + padding;
    const cipher = this.crypto.aeadSealer(this.aead, this.key, this.nonce());
    this.sequence++;
    if (innerLength > SMALL_RECORD) {
      const header = Buffer.allocUnsafe(RECORD_HEADER_LENGTH);
      writeHeader(header, innerLength);
      cipher.setAAD(header);
      const body = cipher.update(content);
      const tail = cipher.update(padding === 0 ? typeByte(type) : trailerWithPadding(type, padding));
      cipher.final();
      out.push(header, body, tail, cipher.getAuthTag());
      return;
    }
    const record = Buffer.allocUnsafe(RECORD_HEADER_LENGTH + innerLength + AEAD_TAG_LENGTH);
    writeHeader(record, innerLength);
    const inner = Buffer.allocUnsafe(innerLength);
    inner.set(content, 0);
    inner[content.length] = type;
    if (padding > 0) inner.fill(0, content.length + 1);
    cipher.setAAD(record.subarray(0, RECORD_HEADER_LENGTH));
    cipher.update(inner).copy(record, RECORD_HEADER_LENGTH);
    cipher.final();
    cipher.getAuthTag().copy(record, RECORD_HEADER_LENGTH + innerLength);
    out.push(record);
  }

  /**
   * Opens one protected record (header is the 5 bytes read off the wire).
   * Returns the real content type and content with padding removed.
   */
  open(header: Buffer, body: Buffer): { type: number; content: Buffer } {
    // §5.2: a ciphertext over 2^14 + 256 bytes is record_overflow.
    if (body.length > MAX_CIPHERTEXT) throw new TlsAlertError('record_overflow', `ciphertext of ${body.length} bytes`);
    if (body.length < AEAD_TAG_LENGTH + 1) throw new TlsAlertError('bad_record_mac', 'ciphertext shorter than a tag');
    const decipher = this.crypto.aeadOpener(this.aead, this.key, this.nonce());
    decipher.setAAD(header);
    decipher.setAuthTag(body.subarray(body.length - AEAD_TAG_LENGTH));
    const inner = decipher.update(body.subarray(0, body.length - AEAD_TAG_LENGTH));
    try {
      decipher.final();
    } catch {
      throw new TlsAlertError('bad_record_mac', 'record authentication failed');
    }
    // Only an authentic record consumes a sequence number, so a server skipping
    // rejected 0-RTT data (RFC 8446 §4.2.10) stays in step with the client.
    this.sequence++;
    // §5.4: the whole inner plaintext, padding included, may not exceed 2^14 + 1.
    if (inner.length > MAX_PLAINTEXT + 1) throw new TlsAlertError('record_overflow', `inner plaintext of ${inner.length} bytes`);
    // §5.4: the type is the last non-zero byte; all zeros is unexpected_message.
    let end = inner.length - 1;
    while (end >= 0 && inner[end] === 0) end--;
    const type = inner[end];
    if (type === undefined) throw new TlsAlertError('unexpected_message', 'protected record has no content type');
    // §5.4: the inner plaintext (without padding) may not exceed 2^14.
    if (end > MAX_PLAINTEXT) throw new TlsAlertError('record_overflow', `plaintext of ${end} bytes`);
    return { type, content: inner.subarray(0, end) };
  }
}
