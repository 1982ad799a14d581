import { TlsAlertError } from '../alert.js';
import type { HandshakeMessage } from '../codec/handshake-frame.js';
import { HandshakeType, nameOf } from '../codec/enums.js';
import type { CryptoProvider } from '../crypto/provider.js';
import type { AnySuiteInfo, SuiteInfo } from '../crypto/suites.js';
import type { RecordProtector } from '../record/record-protector.js';
import type { PeerCertificates } from '../options.js';
import type { FinishedVerified } from './peer.js';
import type { EarlyDataChannel } from '../early-data-channel.js';

/** What a finished handshake established, for the socket's properties. */
export interface HandshakeResult {
  /** TLS 1.3's SuiteInfo, or a Tls12SuiteInfo (its `version` says which protocol ran). */
  readonly suite: AnySuiteInfo;
  readonly group: number | undefined;
  readonly alpnProtocol: string | false;
  readonly servername: string | undefined;
  readonly peer: PeerCertificates | undefined;
  readonly isResumed: boolean;
  /** The DER OCSPResponse the server stapled for its leaf (client, full handshakes only); undefined on the server. */
  readonly ocspResponse: Buffer | undefined;
  /** For the server: when the resumption secret is taken for tickets (TLS 1.2: the master secret). */
  readonly resumptionMasterSecret: Buffer;
  /** Client, TLS 1.2: the session made of the NewSessionTicket in this handshake (RFC 5077 §3.3), for the 'session' event. */
  readonly tls12Session?: Buffer;
}

/** How handshake states act on the connection; the Connection implements it. */
export interface HandshakeContext {
  readonly provider: CryptoProvider;
  now(): number;
  /** Frames and queues a handshake message under the current write key; returns the framed bytes for the transcript. */
  sendHandshake(type: number, body: Buffer): Buffer;
  /** The middlebox-compatibility change_cipher_spec record (RFC 8446 §D.4). */
  sendChangeCipherSpec(): void;
  setReadKey(suite: SuiteInfo, secret: Buffer): void;
  setWriteKey(suite: SuiteInfo, secret: Buffer): void;
  /** RFC 8449 §4: the peer's record_size_limit, for every protected record we send from now on. */
  limitRecordSize(limit: number): void;
  /** SSLKEYLOGFILE line (NSS key log format); a function is only called when a key log is on. */
  logSecret(label: string, clientRandom: Buffer, secret: Buffer | (() => Buffer)): void;
  /** 0-RTT: what the server accepts and the client sends (RFC 8446 §2.3, §4.2.10), and what became of it. */
  readonly earlyData: EarlyDataChannel;
  complete(result: HandshakeResult): void;
  /** TLS 1.2 was negotiated: records carry their real type and 0x0303, CCS switches cipher states (RFC 5246 §6.2, §7.1). */
  useTls12(): void;
  /** TLS 1.2: the peer's next ChangeCipherSpec installs `read`; a handshake message before it is unexpected_message. */
  expectChangeCipherSpec(read: RecordProtector): void;
  /** TLS 1.2: flushes the queued handshake messages, sends ChangeCipherSpec and writes under `write` from here on. */
  changeWriteCipher(write: RecordProtector): void;
}

/** One step of a handshake: takes a message, returns the state that expects the next. */
export interface HandshakeState {
  readonly name: string;
  handle(message: HandshakeMessage): HandshakeState;
}

/**
 * Base for states. TypeScript cannot move a value, so a state marks itself
 * used: a second call is our bug and ends in internal_error.
 */
export abstract class StateBase implements HandshakeState {
  abstract readonly name: string;
  private isUsed = false;

  handle(message: HandshakeMessage): HandshakeState {
    if (this.isUsed) throw new TlsAlertError('internal_error', `${this.name} handled twice`);
    this.isUsed = true;
    return this.process(message);
  }

  protected abstract process(message: HandshakeMessage): HandshakeState;
}

/** Turns "wrong message here" into unexpected_message in one line (after rustls' require_handshake_msg!). */
export function requireMessage(message: HandshakeMessage, type: number, state: string): void {
  if (message.type !== type) {
    throw new TlsAlertError('unexpected_message', `${state} got ${nameOf(HandshakeType, message.type)}`);
  }
}

/** Before start(): the connection installs the role's first state at once, so no message reaches this one. */
export class NotStarted implements HandshakeState {
  readonly name = 'NotStarted';

  handle(message: HandshakeMessage): HandshakeState {
    throw new TlsAlertError('unexpected_message', `handshake message ${nameOf(HandshakeType, message.type)} before the handshake started`);
  }
}

/**
 * The state after the handshake, which exists only once the peer's Finished
 * verified (RFC 8446 §4.4.4); post-handshake messages are handled by the connection.
 */
export class HandshakeDone implements HandshakeState {
  readonly name = 'HandshakeDone';

  constructor(readonly finished: FinishedVerified) {}

  handle(message: HandshakeMessage): HandshakeState {
    throw new TlsAlertError('unexpected_message', `handshake message ${nameOf(HandshakeType, message.type)} after the handshake`);
  }
}
