import { AlertDescription, alertName, TlsAlertError, type AlertName } from './alert.js';
import { ContentType } from './codec/enums.js';
import type { CryptoProvider } from './crypto/provider.js';
import type { SuiteInfo } from './crypto/suites.js';
import { nextTrafficSecret } from './keyschedule/stages.js';
import { Deframer, type RawRecord } from './record/deframer.js';
import { MAX_CIPHERTEXT_TLS12, MAX_PLAINTEXT } from './record/limits.js';
import { Protector } from './record/protector.js';
import type { RecordProtector } from './record/record-protector.js';

/** Records in a row that carry nothing (empty data, CCS, user_canceled) before we call it abuse, as OpenSSL does. */
const MAX_EMPTY_RECORDS = 32;

/** Most 0-RTT bytes a server skips before giving up (RFC 8446 §4.2.10). */
const MAX_SKIPPED_EARLY_DATA = 1 << 18;

/**
 * How to treat 0-RTT data we refused (RFC 8446 §4.2.10): 'protected' skips
 * records that fail to open under the handshake key; 'plaintext' (after an
 * HRR) skips application_data records until the second ClientHello.
 */
export type EarlyDataMode = 'none' | 'protected' | 'plaintext';

/** A record's real content type and content: the outer ones, or the inner ones of a protected record. */
export interface RecordContent {
  readonly type: number;
  readonly content: Buffer;
}

/**
 * What one connection receives, up to the record's content: records cut
 * from the byte stream, opened under the current read key, with the
 * change_cipher_spec records and refused 0-RTT data the handshake
 * tolerates taken out, and a count against records that carry nothing.
 */
export class Inbox {
  private readonly deframer = new Deframer();
  private readProtector: RecordProtector | undefined;
  /** TLS 1.2: the outer type is the real one, and ChangeCipherSpec switches the read state (RFC 5246 §7.1). */
  private isTls12 = false;
  /** TLS 1.2: the read protection the peer's next ChangeCipherSpec installs. */
  private pendingRead: RecordProtector | undefined;
  private earlyDataMode: EarlyDataMode = 'none';
  private skippedEarlyData = 0;
  /** Accepted 0-RTT: bytes still allowed before EndOfEarlyData; undefined when not reading 0-RTT. */
  private earlyDataLeft: number | undefined;
  /** This server accepted 0-RTT on this connection. */
  hasAcceptedEarlyData = false;
  private emptyRecordsInARow = 0;
  /** §5: CCS is tolerated only between the first ClientHello and the peer's Finished. */
  private isCcsAllowed: boolean;

  /** `hasPartialHandshake`: whether a handshake message is half read (a TLS 1.2 CCS may not split one, RFC 5246 §7.1). */
  constructor(
    private readonly provider: CryptoProvider,
    role: 'server' | 'client',
    private readonly hasPartialHandshake: () => boolean = () => false,
  ) {
    this.isCcsAllowed = role === 'client';
  }

  push(chunk: Buffer): void {
    this.deframer.push(chunk);
  }

  nextRecord(): RawRecord | undefined {
    return this.deframer.next();
  }

  get bufferedBytes(): number {
    return this.deframer.bufferedBytes;
  }

  allowCcs(isAllowed: boolean): void {
    this.isCcsAllowed = isAllowed;
  }

  skipEarlyData(mode: EarlyDataMode): void {
    this.earlyDataMode = mode;
  }

  /** Server: start (a size) or stop (undefined) reading accepted 0-RTT application data. */
  acceptEarlyData(maxSize: number | undefined): void {
    this.earlyDataLeft = maxSize;
    if (maxSize !== undefined) this.hasAcceptedEarlyData = true;
  }

  /** §4.2.10: application data before the Finished is accepted 0-RTT within max_early_data_size; else unexpected_message. */
  takeEarlyData(length: number): void {
    const left = this.earlyDataLeft;
    if (left === undefined) throw new TlsAlertError('unexpected_message', 'application data during the handshake');
    if (length > left) throw new TlsAlertError('unexpected_message', 'early data over max_early_data_size');
    this.earlyDataLeft = left - length;
  }

  setReadKey(suite: SuiteInfo, secret: Buffer): void {
    this.readProtector = new Protector(this.provider, suite, secret);
  }

  /** From here on records are read as TLS 1.2 records (RFC 5246 §6.2). */
  useTls12(): void {
    this.isTls12 = true;
    this.deframer.setMaxLength(MAX_CIPHERTEXT_TLS12);
  }

  get isTls12Mode(): boolean {
    return this.isTls12;
  }

  /** TLS 1.2: the peer's next ChangeCipherSpec installs `read`; until it comes, no handshake message may. */
  expectChangeCipherSpec(read: RecordProtector): void {
    this.pendingRead = read;
  }

  /** TLS 1.2 (RFC 5246 §7.4.9): between our expecting the peer's CCS and its arrival no handshake message may come. */
  checkNotAwaitingChangeCipherSpec(): void {
    if (this.pendingRead !== undefined) throw new TlsAlertError('unexpected_message', 'handshake message before ChangeCipherSpec');
  }

  /** §4.6.3: the next application traffic secret, after the peer's KeyUpdate. */
  rotateReadKey(): void {
    const read = this.readProtector;
    // Post-handshake messages arrive only under the application key (and only TLS 1.3 has KeyUpdate).
    if (!(read instanceof Protector)) throw new TlsAlertError('internal_error', 'KeyUpdate before a read key');
    this.readProtector = new Protector(this.provider, read.suite, nextTrafficSecret(this.provider, read.suite.hash, read.secret));
  }

  /**
   * The content to handle from one record, or undefined for a record the
   * handshake tolerates and drops (change_cipher_spec, refused 0-RTT data).
   * `isHandshaking`: a plaintext alert is still accepted after keys are set.
   */
  open(record: RawRecord, isHandshaking: boolean): RecordContent | undefined {
    if (this.isTls12) return this.open12(record);
    const { type: outerType, header, body } = record;
    if (outerType === ContentType.change_cipher_spec) {
      // §5: a single 0x01 byte, only during the handshake; anything else is unexpected_message.
      if (!this.isCcsAllowed || body.length !== 1 || body[0] !== 1) {
        throw new TlsAlertError('unexpected_message', 'change_cipher_spec outside the handshake or malformed');
      }
      this.countEmptyRecord();
      return undefined;
    }
    if (this.readProtector === undefined) {
      if (outerType === ContentType.application_data) {
        if (this.earlyDataMode === 'plaintext') return this.skip(body.length);
        throw new TlsAlertError('unexpected_message', 'application data before keys are set');
      }
      if (body.length > MAX_PLAINTEXT) throw new TlsAlertError('record_overflow', 'plaintext record over 2^14 bytes');
      return { type: outerType, content: body };
    }
    if (outerType !== ContentType.application_data) {
      // A peer that could not read our protected flight may answer in plaintext.
      if (outerType === ContentType.alert && isHandshaking && body.length === 2) return { type: outerType, content: body };
      throw new TlsAlertError('unexpected_message', `unprotected record of type ${outerType} after keys are set`);
    }
    let opened;
    try {
      opened = this.readProtector.open(header, body);
    } catch (err) {
      if (this.earlyDataMode === 'protected' && err instanceof TlsAlertError && err.alert === 'bad_record_mac')
        return this.skip(body.length);
      throw err;
    }
    if (this.earlyDataMode === 'protected') this.earlyDataMode = 'none';
    return opened;
  }

  /**
   * A TLS 1.2 record (RFC 5246 §6.2): plaintext until the peer's
   * ChangeCipherSpec, protected after it, the outer type the real one.
   * A ChangeCipherSpec installs the pending read state, at a handshake
   * message boundary; one that is not expected there, or not the single
   * byte 1, is unexpected_message (§7.1).
   */
  private open12(record: RawRecord): RecordContent | undefined {
    const { type, header, body } = record;
    if (type === ContentType.change_cipher_spec) {
      const read = this.pendingRead;
      if (read === undefined || body.length !== 1 || body[0] !== 1 || this.hasPartialHandshake()) {
        throw new TlsAlertError('unexpected_message', 'ChangeCipherSpec not expected now, malformed or inside a handshake message');
      }
      this.readProtector = read;
      this.pendingRead = undefined;
      return undefined;
    }
    if (this.readProtector !== undefined) return this.readProtector.open(header, body);
    if (type === ContentType.application_data) throw new TlsAlertError('unexpected_message', 'application data before keys are set');
    if (body.length > MAX_PLAINTEXT) throw new TlsAlertError('record_overflow', 'plaintext record over 2^14 bytes');
    return { type, content: body };
  }

  /** A record without content: too many in a row is abuse. */
  countEmptyRecord(): void {
    if (++this.emptyRecordsInARow > MAX_EMPTY_RECORDS)
      throw new TlsAlertError('unexpected_message', 'too many records in a row without content');
  }

  /** A record with content: the run of empty ones is over. */
  noteContent(): void {
    this.emptyRecordsInARow = 0;
  }

  private skip(length: number): undefined {
    this.skippedEarlyData += length;
    if (this.skippedEarlyData > MAX_SKIPPED_EARLY_DATA) throw new TlsAlertError('unexpected_message', 'too much early data to skip');
    return undefined;
  }
}

/** The description of a received alert record, checked for shape. */
export function readAlertDescription(content: Buffer): number {
  // §5.4: a Handshake or Alert record with a zero-length content (padding or not) MUST get unexpected_message.
  if (content.length === 0) throw new TlsAlertError('unexpected_message', 'empty alert record');
  // §5.1, §6: an alert record carries exactly one two-byte alert.
  if (content.length !== 2) throw new TlsAlertError('decode_error', 'alert record is not two bytes');
  return content.readUInt8(1);
}

/** The error a fatal alert from the peer ends the connection with; one we do not know is reported as internal_error. */
export function peerAlertError(description: number): TlsAlertError {
  const name = alertName(description);
  return new TlsAlertError(isAlertName(name) ? name : 'internal_error', `peer sent ${name}`, { isRemote: true });
}

function isAlertName(name: string): name is AlertName {
  return name in AlertDescription;
}
