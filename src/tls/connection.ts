import { AlertDescription, alertLevelOf, TlsAlertError, type AlertName } from './alert.js';
import { AlertLevel, ContentType, HandshakeType, KeyUpdateRequest } from './codec/enums.js';
import { HandshakeReassembler, type HandshakeMessage } from './codec/handshake-frame.js';
import { decodeKeyUpdate } from './codec/messages/key-update.js';
import type { CryptoProvider } from './crypto/provider.js';
import type { SuiteInfo } from './crypto/suites.js';
import type { ConnectionHooks } from './connection-hooks.js';
import { NotStarted, type HandshakeContext, type HandshakeResult, type HandshakeState } from './handshake/state.js';
import { Inbox, peerAlertError, readAlertDescription } from './inbox.js';
import { refuseTls12HandshakeRecord, refuseTls12PostHandshake, tls12KeyExhausted } from './tls12-refusals.js';
import { Outbox } from './outbox.js';
import type { RecordProtector } from './record/record-protector.js';
import { EarlyDataChannel } from './early-data-channel.js';

type Phase = 'handshaking' | 'connected' | 'closed';

/**
 * The sans-I/O TLS 1.3 (and 1.2) engine for one connection: record bytes in through `receive`, record bytes out
 * through `takeOutgoing`, plaintext through the hooks. Any failure throws a TlsAlertError after the one fatal alert.
 */
export class Connection implements HandshakeContext {
  private readonly inbox: Inbox;
  private readonly reassembler: HandshakeReassembler;
  private readonly outbox: Outbox;
  readonly earlyData: EarlyDataChannel;
  private state: HandshakeState;
  private phase: Phase = 'handshaking';
  /** We asked the peer to update and must not ask again until it does (§4.6.3). */
  private isKeyUpdatePending = false;
  private hasSentCloseNotify = false;
  private hasReceivedCloseNotify = false;

  constructor(
    readonly role: 'server' | 'client',
    readonly provider: CryptoProvider,
    private readonly hooks: ConnectionHooks,
    maxHandshakeMessageSize: number,
    private readonly clock: () => number,
  ) {
    this.state = new NotStarted();
    this.reassembler = new HandshakeReassembler({ maxMessageSize: maxHandshakeMessageSize });
    this.outbox = new Outbox(provider, role, this.reassembler);
    this.inbox = new Inbox(provider, role, () => this.reassembler.hasPartial());
    this.earlyData = new EarlyDataChannel(this.inbox, this.outbox, hooks.onEarlyData);
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
      this.outbox.flushHandshake();
    });
  }

  // ---- HandshakeContext ----

  now(): number {
    return this.clock();
  }

  sendHandshake(type: number, body: Buffer): Buffer {
    return this.outbox.queueHandshake(type, body);
  }

  sendChangeCipherSpec(): void {
    this.outbox.sendChangeCipherSpec();
  }

  setReadKey(suite: SuiteInfo, secret: Buffer): void {
    // §5.1: handshake messages MUST NOT span a key change.
    if (this.reassembler.hasPartial()) throw new TlsAlertError('unexpected_message', 'handshake data left over at a key change');
    this.inbox.setReadKey(suite, secret);
    this.outbox.noteReadKeySet();
  }

  setWriteKey(suite: SuiteInfo, secret: Buffer): void {
    this.outbox.setWriteKey(suite, secret);
  }

  limitRecordSize(limit: number): void {
    this.outbox.limitRecordSize(limit);
  }

  logSecret(label: string, clientRandom: Buffer, secret: Buffer | (() => Buffer)): void {
    const onKeyLog = this.hooks.onKeyLog;
    if (onKeyLog === undefined) return;
    const value = typeof secret === 'function' ? secret() : secret;
    onKeyLog(`${label} ${clientRandom.toString('hex')} ${value.toString('hex')}`);
  }

  useTls12(): void {
    this.inbox.useTls12();
    this.outbox.useTls12();
  }

  expectChangeCipherSpec(read: RecordProtector): void {
    this.inbox.expectChangeCipherSpec(read);
  }

  changeWriteCipher(write: RecordProtector): void {
    this.outbox.changeWriteCipher(write);
  }

  complete(result: HandshakeResult): void {
    this.outbox.flushHandshake();
    this.phase = 'connected';
    this.inbox.allowCcs(false);
    this.inbox.skipEarlyData('none');
    this.hooks.onHandshakeComplete(result);
  }

  /**
   * Feeds received bytes (an empty chunk to go on with what is buffered) and handles at most `maxRecords` complete
   * records, so the caller can spread a chunk of thousands of tiny records over several turns of the event loop and
   * hand plaintext on only as fast as it is consumed. Returns whether bytes are left that may hold another record:
   * call again, with an empty chunk, to go on. Throws the TlsAlertError that ended the connection.
   */
  receive(chunk: Buffer, maxRecords = Number.POSITIVE_INFINITY): boolean {
    // §6.1: anything after the peer's close_notify is ignored.
    if (this.phase === 'closed' || this.hasReceivedCloseNotify) return false;
    let isMore = false;
    this.guard(() => {
      this.inbox.push(chunk);
      let handled = 0;
      while (handled < maxRecords) {
        const record = this.inbox.nextRecord();
        if (record === undefined) break;
        handled++;
        const opened = this.inbox.open(record, this.phase === 'handshaking');
        if (opened !== undefined) this.handleContent(opened.type, opened.content);
        if (this.phase === 'closed' || this.hasReceivedCloseNotify) break;
      }
      this.outbox.flushHandshake();
      isMore = handled === maxRecords && this.inbox.bufferedBytes > 0 && this.phase !== 'closed' && !this.hasReceivedCloseNotify;
    });
    return isMore;
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
        if (this.phase === 'connected' && this.inbox.isTls12Mode) return refuseTls12HandshakeRecord(content, this.reassembler.hasPartial());
        this.inbox.noteContent();
        this.reassembler.push(content);
        for (let message = this.reassembler.next(); message !== undefined; message = this.reassembler.next()) {
          this.handleHandshakeMessage(message);
          if (this.phase === 'closed') return;
        }
        return;
      case ContentType.alert:
        return this.handleAlert(content);
      case ContentType.application_data:
        if (this.phase !== 'connected') this.inbox.takeEarlyData(content.length);
        if (content.length === 0) return this.inbox.countEmptyRecord();
        this.inbox.noteContent();
        this.hooks.onData(content);
        return;
      default:
        throw new TlsAlertError('unexpected_message', `inner content type ${type}`);
    }
  }

  private handleHandshakeMessage(message: HandshakeMessage): void {
    if (this.phase === 'connected') return this.handlePostHandshake(message);
    this.inbox.checkNotAwaitingChangeCipherSpec();
    if (this.role === 'server' && message.type === HandshakeType.client_hello) this.inbox.allowCcs(true);
    if (message.type === HandshakeType.finished) this.inbox.allowCcs(false);
    this.state = this.state.handle(message);
  }

  private handlePostHandshake(message: HandshakeMessage): void {
    // Each post-handshake message is a flight of its own for the fragment budget.
    this.reassembler.startFlight();
    if (this.inbox.isTls12Mode) return refuseTls12PostHandshake(message.type);
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
    const description = readAlertDescription(content);
    if (description === AlertDescription.close_notify) {
      this.hasReceivedCloseNotify = true;
      this.hooks.onPeerClose();
      return;
    }
    // §6.1: user_canceled is followed by close_notify; other alerts are fatal whatever their level.
    if (description === AlertDescription.user_canceled) return this.inbox.countEmptyRecord();
    this.phase = 'closed';
    throw peerAlertError(description);
  }

  // ---- key update (§4.6.3) ----

  private receiveKeyUpdate(isUpdateRequested: boolean): void {
    if (this.reassembler.hasPartial()) throw new TlsAlertError('unexpected_message', 'KeyUpdate not at a record boundary');
    this.inbox.rotateReadKey();
    this.isKeyUpdatePending = false;
    if (isUpdateRequested) this.sendKeyUpdate(false);
  }

  /** Rotates our sending key; with `requestPeer`, asks the peer to rotate its own. */
  updateKeys(requestPeer: boolean): void {
    if (this.phase !== 'connected') throw new Error('keys can only be updated after the handshake');
    if (this.inbox.isTls12Mode) throw new Error('TLS 1.2 has no KeyUpdate (RFC 8446 §4.6.3 is TLS 1.3 only)');
    this.guard(() => this.sendKeyUpdate(requestPeer && !this.isKeyUpdatePending));
  }

  private sendKeyUpdate(requestPeer: boolean): void {
    if (requestPeer) this.isKeyUpdatePending = true;
    const body = Buffer.of(requestPeer ? KeyUpdateRequest.update_requested : KeyUpdateRequest.update_not_requested);
    this.sendHandshake(HandshakeType.key_update, body);
    this.outbox.rotateWriteKey();
  }

  // ---- bytes out ----

  /** Encrypts application data, cut into records of at most 2^14 bytes (or the peer's record_size_limit). */
  write(data: Buffer): void {
    const isOpen = this.phase === 'connected' || (this.phase === 'handshaking' && this.earlyData.isHalfRttWritable);
    if (!isOpen || this.hasSentCloseNotify) throw new Error('connection is not open for writing');
    this.guard(() => {
      // §5.5: rotate before the key reaches its usage limit (TLS 1.2 cannot: the connection ends instead).
      this.outbox.sealApplicationData(data, () => (this.inbox.isTls12Mode ? tls12KeyExhausted() : this.sendKeyUpdate(false)));
      this.outbox.flushHandshake();
    });
  }

  /** Sends close_notify; the peer's data may still arrive (half-close, §6.1). */
  close(): void {
    if (this.hasSentCloseNotify || this.phase === 'closed') return;
    this.hasSentCloseNotify = true;
    this.outbox.flushHandshake();
    this.outbox.queueAlert('close_notify', AlertLevel.warning);
    if (this.hasReceivedCloseNotify) this.phase = 'closed';
  }

  /** The bytes to send now (records), or undefined. */
  takeOutgoing(): Buffer | undefined {
    return this.outbox.take();
  }

  /** The bytes to send now as separate buffers, for a vectored write without copying. */
  takeOutgoingChunks(): Buffer[] {
    return this.outbox.takeChunks();
  }

  get hasOutgoing(): boolean {
    return this.outbox.hasRecords;
  }

  /** Aborts locally (timeout, socket error): one fatal alert, then closed. */
  abort(alert: AlertName, reason: string): TlsAlertError {
    const error = new TlsAlertError(alert, reason);
    if (this.phase !== 'closed') {
      this.outbox.dropHandshake();
      this.outbox.queueAlert(alert, AlertLevel.fatal);
      this.phase = 'closed';
    }
    return error;
  }

  /** Runs a step; on failure sends exactly one fatal alert (never in reply to one) and rethrows. */
  private guard(step: () => void): void {
    try {
      step();
    } catch (err) {
      const error = err instanceof TlsAlertError ? err : new TlsAlertError('internal_error', 'unexpected failure', { cause: err });
      if (!error.isRemote && this.phase !== 'closed') {
        this.outbox.dropHandshake();
        this.outbox.queueAlert(error.alert, alertLevelOf(error.alert));
      }
      this.phase = 'closed';
      throw error;
    }
  }
}
