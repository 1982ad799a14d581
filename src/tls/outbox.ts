import { AlertDescription, TlsAlertError, type AlertName } from './alert.js';
import { ContentType } from './codec/enums.js';
import { frameHandshake } from './codec/handshake-frame.js';
import type { CryptoProvider } from './crypto/provider.js';
import type { SuiteInfo } from './crypto/suites.js';
import { nextTrafficSecret } from './keyschedule/stages.js';
import { MAX_PLAINTEXT } from './record/limits.js';
import { Protector } from './record/protector.js';
import type { RecordProtector } from './record/record-protector.js';

/**
 * What one connection sends, on its way to the wire: handshake messages
 * framed but not yet cut into records (a flight goes out together), and
 * records sealed under the current write key, or plaintext before there is one.
 */
export class Outbox {
  private records: Buffer[] = [];
  private pendingHandshake: Buffer[] = [];
  private writeProtector: RecordProtector | undefined;
  private hasSentCcs = false;
  /** TLS 1.2: every record says 0x0303 (RFC 5246 §6.2.1) and ChangeCipherSpec switches the write state. */
  private isTls12 = false;
  private isReadKeySet = false;
  /** RFC 8449 §4: the largest TLSInnerPlaintext (content and type octet) the peer takes in a protected record. */
  private peerRecordSizeLimit = MAX_PLAINTEXT + 1;

  /** `peerFlights`: told when our flight goes out, so what the peer sends next is a new flight (the reassembler's budget). */
  constructor(
    private readonly provider: CryptoProvider,
    private readonly role: 'server' | 'client',
    private readonly peerFlights: { startFlight(): void },
  ) {}

  /** Frames a handshake message and holds it until the flight is flushed; returns the framed bytes for the transcript. */
  queueHandshake(type: number, body: Buffer): Buffer {
    const raw = frameHandshake(type, body);
    this.pendingHandshake.push(raw);
    return raw;
  }

  /** The middlebox-compatibility change_cipher_spec record (RFC 8446 §D.4), at most once. */
  sendChangeCipherSpec(): void {
    if (this.hasSentCcs) return;
    this.hasSentCcs = true;
    this.flushHandshake();
    this.records.push(Buffer.of(ContentType.change_cipher_spec, 3, 3, 0, 1, 1));
  }

  /** From here on records are written as TLS 1.2 records. */
  useTls12(): void {
    this.isTls12 = true;
  }

  /**
   * TLS 1.2 (RFC 5246 §7.1): the queued handshake messages, then our
   * ChangeCipherSpec under the current write state, then `write` is current.
   */
  changeWriteCipher(write: RecordProtector): void {
    this.flushHandshake();
    this.queueRecord(ContentType.change_cipher_spec, Buffer.of(1));
    this.hasSentCcs = true;
    this.writeProtector = write;
  }

  /** Everything queued so far goes out under the old key; what follows, under the new. */
  setWriteKey(suite: SuiteInfo, secret: Buffer): void {
    this.flushHandshake();
    this.writeProtector = new Protector(this.provider, suite, secret);
  }

  /** Back to plaintext records: a client's 0-RTT key is dropped when a HelloRetryRequest refuses its early data. */
  clearWriteKey(): void {
    this.flushHandshake();
    this.writeProtector = undefined;
  }

  /** §4.6.3: after our KeyUpdate, the next application traffic secret. */
  rotateWriteKey(): void {
    const write = this.writeProtector;
    // A KeyUpdate is sent only after a TLS 1.3 handshake, under the application key.
    if (!(write instanceof Protector)) throw new TlsAlertError('internal_error', 'KeyUpdate before a write key');
    this.setWriteKey(write.suite, nextTrafficSecret(this.provider, write.suite.hash, write.secret));
  }

  /**
   * RFC 8449 §4: the peer's record_size_limit. It binds protected records only (unprotected handshake messages are
   * not subject to it), so it takes effect with the first write key.
   */
  limitRecordSize(limit: number): void {
    this.peerRecordSizeLimit = Math.min(limit, MAX_PLAINTEXT + 1);
  }

  /** The most content one record may carry now: 2^14 (§5.1), or the peer's limit less the type octet once protected. */
  get maxFragment(): number {
    return this.writeProtector === undefined ? MAX_PLAINTEXT : this.peerRecordSizeLimit - 1;
  }

  /** Our record version depends on it (see queueRecord). */
  noteReadKeySet(): void {
    this.isReadKeySet = true;
  }

  /**
   * Seals application data into the records waiting to leave, cut into records of at most 2^14 bytes (§5.1) or the
   * peer's record_size_limit (RFC 8449 §4); `onKeyExhausted` runs when a record takes the key to its usage limit (§5.5).
   */
  sealApplicationData(data: Buffer, onKeyExhausted: () => void): void {
    const fragment = this.maxFragment;
    for (let at = 0; at < data.length; at += fragment) {
      const protector = this.writeProtector;
      if (protector === undefined) throw new TlsAlertError('internal_error', 'connected without a write key');
      protector.sealInto(this.records, ContentType.application_data, data.subarray(at, at + fragment));
      if (protector.isExhausted()) onKeyExhausted();
    }
  }

  /** Cuts the queued handshake messages into records of at most 2^14 bytes (§5.1) or the peer's limit (RFC 8449 §4). */
  flushHandshake(): void {
    if (this.pendingHandshake.length === 0) return;
    // Our flight goes out: what the peer sends next is a new flight for the fragment budget.
    this.peerFlights.startFlight();
    const bytes = joined(this.pendingHandshake);
    this.pendingHandshake = [];
    const fragment = this.maxFragment;
    for (let at = 0; at < bytes.length; at += fragment) {
      this.queueRecord(ContentType.handshake, bytes.subarray(at, Math.min(bytes.length, at + fragment)));
    }
  }

  /** Drops handshake messages not yet sent: a fatal alert replaces the rest of the flight. */
  dropHandshake(): void {
    this.pendingHandshake = [];
  }

  queueAlert(alert: AlertName, level: number): void {
    this.queueRecord(ContentType.alert, Buffer.of(level, AlertDescription[alert]));
  }

  private queueRecord(type: ContentType, content: Buffer): void {
    if (this.writeProtector !== undefined) {
      this.writeProtector.sealInto(this.records, type, content);
      return;
    }
    const record = Buffer.allocUnsafe(5 + content.length);
    record[0] = type;
    record[1] = 3;
    // The first ClientHello's record says TLS 1.0 for old middleboxes (§5.1); 1.2 elsewhere.
    record[2] = this.role === 'client' && type === ContentType.handshake && !this.hasSentCcs && !this.isReadKeySet && !this.isTls12 ? 1 : 3;
    record.writeUInt16BE(content.length, 3);
    content.copy(record, 5);
    this.records.push(record);
  }

  /** The records to send now, in one buffer, or undefined. */
  take(): Buffer | undefined {
    if (this.records.length === 0) return undefined;
    const out = joined(this.records);
    this.records = [];
    return out;
  }

  /** The records to send now as separate buffers, for a vectored write without copying. */
  takeChunks(): Buffer[] {
    const out = this.records;
    this.records = [];
    return out;
  }

  get hasRecords(): boolean {
    return this.records.length > 0;
  }
}

/** One buffer: the only one as it is, several concatenated. */
function joined(buffers: readonly Buffer[]): Buffer {
  const [only] = buffers;
  return buffers.length === 1 && only !== undefined ? only : Buffer.concat(buffers);
}
