import { AlertDescription, alertName, TlsAlertError, type AlertName } from './alert.js';
import { AlertLevel, ContentType, HandshakeType, KeyUpdateRequest } from './codec/enums.js';
import { frameHandshake, HandshakeReassembler, type HandshakeMessage } from './codec/handshake-frame.js';
import { decodeKeyUpdate } from './codec/messages/key-update.js';
import type { CryptoProvider } from './crypto/provider.js';
import type { SuiteInfo } from './crypto/suites.js';
import { nextTrafficSecret } from './keyschedule/stages.js';
import { Deframer } from './record/deframer.js';
import { MAX_PLAINTEXT } from './record/limits.js';
import { Protector } from './record/protector.js';
import { NotStarted, type HandshakeContext, type HandshakeResult, type HandshakeState } from './handshake/state.js';

/** Records in a row that carry nothing (empty data, CCS, user_canceled) before we call it abuse, as OpenSSL does. */
const MAX_EMPTY_RECORDS = 32;

/** Most 0-RTT bytes a server skips before giving up (RFC 8446 §4.2.10). */
const MAX_SKIPPED_EARLY_DATA = 1 << 18;

export interface ConnectionHooks {
  onHandshakeComplete(result: HandshakeResult): void;
  onData(data: Buffer): void;
  /** The peer sent close_notify: no more data will come. */
  onPeerClose(): void;
  /** A post-handshake message the role handles itself (NewSessionTicket on the client). */
  onPostHandshake?(message: HandshakeMessage): void;
  onKeyLog?(line: string): void;
}

type Phase = 'handshaking' | 'connected' | 'closed';

/**
 * The sans-I/O TLS 1.3 engine for one connection: record bytes in through
 * `receive`, record bytes out through `takeOutgoing`, plaintext through the
 * hooks. Any failure throws a TlsAlertError after queuing the one fatal alert.
 */
export class Connection implements HandshakeContext {
  private readonly deframer = new Deframer();
  private readonly reassembler: HandshakeReassembler;
  private readProtector: Protector | undefined;
  private writeProtector: Protector | undefined;
  private state: HandshakeState;
  private phase: Phase = 'handshaking';
  private outgoing: Buffer[] = [];
  private pendingHandshake: Buffer[] = [];
  private earlyDataMode: 'none' | 'protected' | 'plaintext' = 'none';
  private skippedEarlyData = 0;
  /** §5: CCS is tolerated only between the first ClientHello and the peer's Finished. */
  private isCcsAllowed: boolean;
  private hasSentCcs = false;
  /** We asked the peer to update and must not ask again until it does (§4.6.3). */
  private isKeyUpdatePending = false;
  private hasSentCloseNotify = false;
  private hasReceivedCloseNotify = false;
  private emptyRecordsInARow = 0;

  constructor(
    readonly role: 'server' | 'client',
    readonly provider: CryptoProvider,
    private readonly hooks: ConnectionHooks,
    maxHandshakeMessageSize: number,
    private readonly clock: () => number,
  ) {
    this.state = new NotStarted();
    this.reassembler = new HandshakeReassembler({ maxMessageSize: maxHandshakeMessageSize });
    this.isCcsAllowed = role === 'client';
  }

  get isConnected(): boolean {
    return this.phase === 'connected';
  }

  get isClosed(): boolean {
    return this.phase === 'closed';
  }

  get stateName(): string {
    return this.state.name;
  }

  /** Installs the first state; a client's sends its ClientHello here, before any byte arrives. */
  start(begin: (ctx: HandshakeContext) => HandshakeState): void {
    this.guard(() => {
      this.state = begin(this);
      this.flushHandshake();
    });
  }

  // ---- HandshakeContext ----

  now(): number {
    return this.clock();
  }

  sendHandshake(type: number, body: Buffer): Buffer {
    const raw = frameHandshake(type, body);
    this.pendingHandshake.push(raw);
    return raw;
  }

  sendChangeCipherSpec(): void {
    if (this.hasSentCcs) return;
    this.hasSentCcs = true;
    this.flushHandshake();
    this.outgoing.push(Buffer.of(ContentType.change_cipher_spec, 3, 3, 0, 1, 1));
  }

  setReadKey(suite: SuiteInfo, secret: Buffer): void {
    // §5.1: handshake messages MUST NOT span a key change.
    if (this.reassembler.hasPartial()) throw new TlsAlertError('unexpected_message', 'handshake data left over at a key change');
    this.readProtector = new Protector(suite, secret);
  }

  setWriteKey(suite: SuiteInfo, secret: Buffer): void {
    this.flushHandshake();
    this.writeProtector = new Protector(suite, secret);
  }

  logSecret(label: string, clientRandom: Buffer, secret: Buffer | (() => Buffer)): void {
    const onKeyLog = this.hooks.onKeyLog;
    if (onKeyLog === undefined) return;
    const value = typeof secret === 'function' ? secret() : secret;
    onKeyLog(`${label} ${clientRandom.toString('hex')} ${value.toString('hex')}`);
  }

  skipEarlyData(mode: 'none' | 'protected' | 'plaintext'): void {
    this.earlyDataMode = mode;
  }

  complete(result: HandshakeResult): void {
    this.flushHandshake();
    this.phase = 'connected';
    this.isCcsAllowed = false;
    this.earlyDataMode = 'none';
    this.hooks.onHandshakeComplete(result);
  }

  // ---- bytes in ----

  /**
   * Feeds received bytes (an empty chunk to go on with what is buffered) and
   * handles at most `maxRecords` complete records, so the caller can spread a
   * chunk of thousands of tiny records over several turns of the event loop
   * and hand plaintext on only as fast as it is consumed. Returns
   * whether bytes are left that may hold another record: call again, with an
   * empty chunk, to go on. Throws the TlsAlertError that ended the connection.
   */
  receive(chunk: Buffer, maxRecords = Number.POSITIVE_INFINITY): boolean {
    // §6.1: anything after the peer's close_notify is ignored.
    if (this.phase === 'closed' || this.hasReceivedCloseNotify) return false;
    let isMore = false;
    this.guard(() => {
      this.deframer.push(chunk);
      let handled = 0;
      while (handled < maxRecords) {
        const record = this.deframer.next();
        if (record === undefined) break;
        handled++;
        this.handleRecord(record.type, record.header, record.body);
        if (this.phase === 'closed' || this.hasReceivedCloseNotify) break;
      }
      this.flushHandshake();
      isMore = handled === maxRecords && this.deframer.bufferedBytes > 0 && this.phase !== 'closed' && !this.hasReceivedCloseNotify;
    });
    return isMore;
  }

  private handleRecord(outerType: number, header: Buffer, body: Buffer): void {
    if (outerType === ContentType.change_cipher_spec) {
      // §5: a single 0x01 byte, only during the handshake; anything else is unexpected_message.
      if (!this.isCcsAllowed || body.length !== 1 || body[0] !== 1) {
        throw new TlsAlertError('unexpected_message', 'change_cipher_spec outside the handshake or malformed');
      }
      return this.countEmptyRecord();
    }
    if (this.readProtector === undefined) {
      if (outerType === ContentType.application_data) {
        if (this.earlyDataMode === 'plaintext') return this.skip(body.length);
        throw new TlsAlertError('unexpected_message', 'application data before keys are set');
      }
      if (body.length > MAX_PLAINTEXT) throw new TlsAlertError('record_overflow', 'plaintext record over 2^14 bytes');
      return this.handleContent(outerType, body);
    }
    if (outerType !== ContentType.application_data) {
      // A peer that could not read our protected flight may answer in plaintext.
      if (outerType === ContentType.alert && this.phase === 'handshaking' && body.length === 2) return this.handleContent(outerType, body);
      throw new TlsAlertError('unexpected_message', `unprotected record of type ${outerType} after keys are set`);
    }
    let opened;
    try {
      opened = this.readProtector.open(header, body);
    } catch (err) {
      if (this.earlyDataMode === 'protected' && err instanceof TlsAlertError && err.alert === 'bad_record_mac') return this.skip(body.length);
      throw err;
    }
    if (this.earlyDataMode === 'protected') this.earlyDataMode = 'none';
    this.handleContent(opened.type, opened.content);
  }

  private countEmptyRecord(): void {
    if (++this.emptyRecordsInARow > MAX_EMPTY_RECORDS) throw new TlsAlertError('unexpected_message', 'too many records in a row without content');
  }

  private skip(length: number): void {
    this.skippedEarlyData += length;
    if (this.skippedEarlyData > MAX_SKIPPED_EARLY_DATA) throw new TlsAlertError('unexpected_message', 'too much early data to skip');
  }

  private handleContent(type: number, content: Buffer): void {
    // §5.1: handshake messages may not be interleaved with other record types.
    if (type !== ContentType.handshake && this.reassembler.hasPartial()) {
      throw new TlsAlertError('unexpected_message', 'record interleaved with a fragmented handshake message');
    }
    switch (type) {
      case ContentType.handshake:
        // §5.1, §5.4: zero-length handshake content (padding or not) MUST get unexpected_message.
        if (content.length === 0) throw new TlsAlertError('unexpected_message', 'empty handshake record');
        this.emptyRecordsInARow = 0;
        this.reassembler.push(content);
        for (let message = this.reassembler.next(); message !== undefined; message = this.reassembler.next()) {
          this.handleHandshakeMessage(message);
          if (this.phase === 'closed') return;
        }
        return;
      case ContentType.alert:
        return this.handleAlert(content);
      case ContentType.application_data:
        if (this.phase !== 'connected') throw new TlsAlertError('unexpected_message', 'application data during the handshake');
        if (content.length === 0) return this.countEmptyRecord();
        this.emptyRecordsInARow = 0;
        this.hooks.onData(content);
        return;
      default:
        throw new TlsAlertError('unexpected_message', `inner content type ${type}`);
    }
  }

  private handleHandshakeMessage(message: HandshakeMessage): void {
    if (this.phase === 'connected') return this.handlePostHandshake(message);
    if (this.role === 'server' && message.type === HandshakeType.client_hello) this.isCcsAllowed = true;
    if (message.type === HandshakeType.finished) this.isCcsAllowed = false;
    this.state = this.state.handle(message);
  }

  private handlePostHandshake(message: HandshakeMessage): void {
    // Each post-handshake message is a flight of its own for the fragment budget.
    this.reassembler.startFlight();
    switch (message.type) {
      case HandshakeType.key_update:
        return this.receiveKeyUpdate(decodeKeyUpdate(message.body));
      case HandshakeType.new_session_ticket:
        if (this.role === 'client' && this.hooks.onPostHandshake !== undefined) return this.hooks.onPostHandshake(message);
        throw new TlsAlertError('unexpected_message', 'NewSessionTicket sent to a server');
      default:
        // We never offer post_handshake_auth, so a CertificateRequest here is unexpected too.
        throw new TlsAlertError('unexpected_message', `post-handshake message type ${message.type}`);
    }
  }

  private handleAlert(content: Buffer): void {
    // §5.4: a Handshake or Alert record with a zero-length content (padding or not) MUST get unexpected_message.
    if (content.length === 0) throw new TlsAlertError('unexpected_message', 'empty alert record');
    // §5.1, §6: an alert record carries exactly one two-byte alert.
    if (content.length !== 2) throw new TlsAlertError('decode_error', 'alert record is not two bytes');
    const description = content[1]!;
    if (description === AlertDescription.close_notify) {
      this.hasReceivedCloseNotify = true;
      this.hooks.onPeerClose();
      return;
    }
    // §6.1: user_canceled is followed by close_notify; other alerts are fatal whatever their level.
    if (description === AlertDescription.user_canceled) return this.countEmptyRecord();
    this.phase = 'closed';
    const name = alertName(description);
    throw new TlsAlertError(isAlertName(name) ? name : 'internal_error', `peer sent ${name}`, { isRemote: true });
  }

  // ---- key update (§4.6.3) ----

  private receiveKeyUpdate(isUpdateRequested: boolean): void {
    if (this.reassembler.hasPartial()) throw new TlsAlertError('unexpected_message', 'KeyUpdate not at a record boundary');
    const read = this.readProtector!;
    this.readProtector = new Protector(read.suite, nextTrafficSecret(read.suite.hash, read.secret));
    this.isKeyUpdatePending = false;
    if (isUpdateRequested) this.sendKeyUpdate(false);
  }

  /** Rotates our sending key; with `requestPeer`, asks the peer to rotate its own. */
  updateKeys(requestPeer: boolean): void {
    if (this.phase !== 'connected') throw new Error('keys can only be updated after the handshake');
    this.guard(() => this.sendKeyUpdate(requestPeer && !this.isKeyUpdatePending));
  }

  private sendKeyUpdate(requestPeer: boolean): void {
    if (requestPeer) this.isKeyUpdatePending = true;
    const body = Buffer.of(requestPeer ? KeyUpdateRequest.update_requested : KeyUpdateRequest.update_not_requested);
    this.sendHandshake(HandshakeType.key_update, body);
    const write = this.writeProtector!;
    this.setWriteKey(write.suite, nextTrafficSecret(write.suite.hash, write.secret));
  }

  // ---- bytes out ----

  /** Encrypts application data, cut into records of at most 2^14 bytes. */
  write(data: Buffer): void {
    if (this.phase !== 'connected' || this.hasSentCloseNotify) throw new Error('connection is not open for writing');
    this.guard(() => {
      for (let at = 0; at < data.length; at += MAX_PLAINTEXT) {
        const protector = this.writeProtector!;
        protector.sealInto(this.outgoing, ContentType.application_data, data.subarray(at, at + MAX_PLAINTEXT));
        // §5.5: rotate before the key reaches its usage limit.
        if (protector.isExhausted()) this.sendKeyUpdate(false);
      }
      this.flushHandshake();
    });
  }

  /** Sends close_notify; the peer's data may still arrive (half-close, §6.1). */
  close(): void {
    if (this.hasSentCloseNotify || this.phase === 'closed') return;
    this.hasSentCloseNotify = true;
    this.flushHandshake();
    this.queueAlert('close_notify', AlertLevel.warning);
    if (this.hasReceivedCloseNotify) this.phase = 'closed';
  }

  /** The bytes to send now (records), or undefined. */
  takeOutgoing(): Buffer | undefined {
    if (this.outgoing.length === 0) return undefined;
    const out = this.outgoing.length === 1 ? this.outgoing[0]! : Buffer.concat(this.outgoing);
    this.outgoing = [];
    return out;
  }

  /** The bytes to send now as separate buffers, for a vectored write without copying. */
  takeOutgoingChunks(): Buffer[] {
    const out = this.outgoing;
    this.outgoing = [];
    return out;
  }

  get hasOutgoing(): boolean {
    return this.outgoing.length > 0;
  }

  /** Aborts locally (timeout, socket error): one fatal alert, then closed. */
  abort(alert: AlertName, reason: string): TlsAlertError {
    const error = new TlsAlertError(alert, reason);
    if (this.phase !== 'closed') {
      this.pendingHandshake = [];
      this.queueAlert(alert, AlertLevel.fatal);
      this.phase = 'closed';
    }
    return error;
  }

  private flushHandshake(): void {
    if (this.pendingHandshake.length === 0) return;
    // Our flight goes out: what the peer sends next is a new flight for the fragment budget.
    this.reassembler.startFlight();
    const bytes = this.pendingHandshake.length === 1 ? this.pendingHandshake[0]! : Buffer.concat(this.pendingHandshake);
    this.pendingHandshake = [];
    for (let at = 0; at < bytes.length; at += MAX_PLAINTEXT) {
      this.queueRecord(ContentType.handshake, bytes.subarray(at, Math.min(bytes.length, at + MAX_PLAINTEXT)));
    }
  }

  private queueRecord(type: ContentType, content: Buffer): void {
    if (this.writeProtector !== undefined) {
      this.writeProtector.sealInto(this.outgoing, type, content);
      return;
    }
    const record = Buffer.allocUnsafe(5 + content.length);
    record[0] = type;
    record[1] = 3;
    // The first ClientHello's record says TLS 1.0 for old middleboxes (§5.1); 1.2 elsewhere.
    record[2] = this.role === 'client' && type === ContentType.handshake && !this.hasSentCcs && this.readProtector === undefined ? 1 : 3;
    record.writeUInt16BE(content.length, 3);
    content.copy(record, 5);
    this.outgoing.push(record);
  }

  private queueAlert(alert: AlertName, level: number): void {
    this.queueRecord(ContentType.alert, Buffer.of(level, AlertDescription[alert]));
  }

  /** Runs a step; on failure sends exactly one fatal alert (never in reply to one) and rethrows. */
  private guard(step: () => void): void {
    try {
      step();
    } catch (err) {
      const error = err instanceof TlsAlertError ? err : new TlsAlertError('internal_error', 'unexpected failure', { cause: err });
      if (!error.isRemote && this.phase !== 'closed') {
        this.pendingHandshake = [];
        this.queueAlert(error.alert, AlertLevel.fatal);
      }
      this.phase = 'closed';
      throw error;
    }
  }
}

function isAlertName(name: string): name is AlertName {
  return name in AlertDescription;
}
