import { TlsAlertError } from '../alert.js';
import type { ContentType } from '../codec/enums.js';
import type { CryptoProvider } from '../crypto/provider.js';
import type { Tls12SuiteInfo } from '../crypto/suites.js';
import type { Tls12DirectionKeys } from '../keyschedule/prf12.js';
import { AEAD_TAG_LENGTH, MAX_CIPHERTEXT_TLS12, MAX_PLAINTEXT, RECORD_HEADER_LENGTH } from './limits.js';
import type { RecordProtector } from './record-protector.js';

const AAD_LENGTH = 13;

/** The 64-bit sequence number, big-endian, at `at` (it never reaches 2^53: the suite's record limit comes first). */
function writeSequence(target: Buffer, at: number, seq: number): void {
  target.writeUInt32BE(Math.floor(seq / 0x100000000), at);
  target.writeUInt32BE(seq >>> 0, at + 4);
}

/**
 * One direction of TLS 1.2 AEAD record protection (RFC 5246 §6.2.3.3). The
 * AAD is seq_num(8) || type || version || length of the plaintext. AES-GCM
 * (RFC 5288 §3): nonce = the 4-byte salt from the key block || an 8-byte
 * explicit nonce sent in front of the ciphertext; we send the sequence number
 * there. ChaCha20-Poly1305 (RFC 7905 §2): nonce = the 12-byte IV XOR the
 * left-padded sequence number, nothing explicit. The outer content type is
 * the real one and the record version is 0x0303.
 */
export class Protector12 implements RecordProtector {
  private sequence = 0;
  private readonly key: Buffer;
  private readonly iv: Buffer;
  private readonly explicitLength: number;

  constructor(
    private readonly crypto: CryptoProvider,
    readonly suite: Tls12SuiteInfo,
    keys: Tls12DirectionKeys,
  ) {
    if (keys.iv.length !== suite.fixedIvLength || keys.key.length !== suite.keyLength) {
      throw new TlsAlertError('internal_error', 'TLS 1.2 key or IV of the wrong length');
    }
    this.key = Buffer.from(keys.key);
    this.iv = Buffer.from(keys.iv);
    this.explicitLength = suite.explicitNonceLength;
  }

  get recordsProcessed(): number {
    return this.sequence;
  }

  isExhausted(): boolean {
    return this.sequence >= this.suite.recordLimit;
  }

  /** The record's nonce; for GCM `explicit` holds the 8 bytes carried in the record. */
  private nonce(explicit: Buffer | undefined): Buffer {
    const nonce = Buffer.alloc(12);
    if (explicit !== undefined) {
      this.iv.copy(nonce, 0);
      explicit.copy(nonce, 4);
      return nonce;
    }
    writeSequence(nonce, 4, this.sequence);
    for (let i = 0; i < 12; i++) nonce[i] = (nonce[i] ?? 0) ^ (this.iv[i] ?? 0);
    return nonce;
  }

  private aad(type: number, version: Buffer, length: number): Buffer {
    const aad = Buffer.allocUnsafe(AAD_LENGTH);
    writeSequence(aad, 0, this.sequence);
    aad[8] = type;
    version.copy(aad, 9, 0, 2);
    aad.writeUInt16BE(length, 11);
    return aad;
  }

  seal(type: ContentType, content: Uint8Array): Buffer {
    const parts: Buffer[] = [];
    this.sealInto(parts, type, content);
    return Buffer.concat(parts);
  }

  /** Seals one record; TLS 1.2 has no padding (a non-zero `padding` is our bug). */
  sealInto(out: Buffer[], type: ContentType, content: Uint8Array, padding = 0): void {
    // §6.2.1: a TLSPlaintext fragment is at most 2^14 bytes.
    if (padding !== 0 || content.length > MAX_PLAINTEXT) throw new TlsAlertError('internal_error', 'TLS 1.2 plaintext over 2^14 bytes');
    const explicitLength = this.explicitLength;
    const bodyLength = explicitLength + content.length + AEAD_TAG_LENGTH;
    const record = Buffer.allocUnsafe(RECORD_HEADER_LENGTH + bodyLength);
    record[0] = type;
    record[1] = 3;
    record[2] = 3;
    record.writeUInt16BE(bodyLength, 3);
    let explicit: Buffer | undefined;
    if (explicitLength > 0) {
      explicit = record.subarray(RECORD_HEADER_LENGTH, RECORD_HEADER_LENGTH + explicitLength);
      writeSequence(explicit, 0, this.sequence);
    }
    const cipher = this.crypto.aeadSealer(this.suite.aead, this.key, this.nonce(explicit));
    cipher.setAAD(this.aad(type, record.subarray(1, 3), content.length));
    this.sequence++;
    const at = RECORD_HEADER_LENGTH + explicitLength;
    cipher.update(content).copy(record, at);
    cipher.final();
    cipher.getAuthTag().copy(record, at + content.length);
    out.push(record);
  }

  /** Opens one record: §6.2.3 record_overflow past 2^14 + 2048 or a plaintext past 2^14, bad_record_mac when it does not authenticate. */
  open(header: Buffer, body: Buffer): { type: number; content: Buffer } {
    if (body.length > MAX_CIPHERTEXT_TLS12) throw new TlsAlertError('record_overflow', `ciphertext of ${body.length} bytes`);
    const explicitLength = this.explicitLength;
    const length = body.length - explicitLength - AEAD_TAG_LENGTH;
    if (length < 0) throw new TlsAlertError('bad_record_mac', 'ciphertext shorter than its nonce and tag');
    if (length > MAX_PLAINTEXT) throw new TlsAlertError('record_overflow', `plaintext of ${length} bytes`);
    const type = header.readUInt8(0);
    const explicit = explicitLength > 0 ? body.subarray(0, explicitLength) : undefined;
    const decipher = this.crypto.aeadOpener(this.suite.aead, this.key, this.nonce(explicit));
    decipher.setAAD(this.aad(type, header.subarray(1, 3), length));
    decipher.setAuthTag(body.subarray(body.length - AEAD_TAG_LENGTH));
    const content = decipher.update(body.subarray(explicitLength, body.length - AEAD_TAG_LENGTH));
    try {
      decipher.final();
    } catch {
      throw new TlsAlertError('bad_record_mac', 'record authentication failed');
    }
    this.sequence++;
    return { type, content };
  }
}
