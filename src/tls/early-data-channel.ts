import type { EarlyDataMode, Inbox } from './inbox.js';
import type { Outbox } from './outbox.js';
import { TlsAlertError } from './alert.js';

/** Why 0-RTT offered by a client was not taken (RFC 8446 §4.2.10, §8); the label of the refusal metric. */
export type EarlyDataRefusal =
  | 'disabled'
  | 'not_resumed'
  | 'not_first_identity'
  | 'ticket'
  | 'other_instance'
  | 'suite'
  | 'alpn'
  | 'ticket_age'
  | 'replay'
  | 'register_full'
  | 'hello_retry'
  | 'refused_by_server';

/** What became of early data a ClientHello offered. */
export type EarlyDataOutcome = { readonly accepted: true } | { readonly accepted: false; readonly reason: EarlyDataRefusal };

/**
 * A connection's 0-RTT (RFC 8446 §2.3, §4.2.10) as the handshake states
 * drive it: the server reads accepted early data up to its limit until
 * EndOfEarlyData, the client seals early data under the early key, and
 * both report what became of it.
 */
export class EarlyDataChannel {
  constructor(
    private readonly inbox: Inbox,
    private readonly outbox: Outbox,
    private readonly onOutcome: ((outcome: EarlyDataOutcome) => void) | undefined,
  ) {}

  /**
   * Server, 0-RTT refused (§4.2.10): 'protected' skips records that fail to
   * open under the handshake key; 'plaintext' (after an HRR) skips
   * application_data records until the second ClientHello.
   */
  skip(mode: EarlyDataMode): void {
    this.inbox.skipEarlyData(mode);
  }

  /** Server: 0-RTT accepted; application data is read up to `maxSize` bytes until EndOfEarlyData (§4.5). */
  accept(maxSize: number): void {
    this.inbox.acceptEarlyData(maxSize);
  }

  /** Server: EndOfEarlyData arrived; more application data before the Finished is unexpected_message. */
  end(): void {
    this.inbox.acceptEarlyData(undefined);
  }

  /** Server: it accepted 0-RTT, so it may answer before the client's Finished (0.5-RTT data, §2.3). */
  get isHalfRttWritable(): boolean {
    return this.inbox.hasAcceptedEarlyData;
  }

  /** Client: seals 0-RTT data, after the ClientHello, under the current (early) write key. */
  send(data: Buffer): void {
    this.outbox.flushHandshake();
    this.outbox.sealApplicationData(data, () => {
      throw new TlsAlertError('internal_error', 'early data exhausted the early key');
    });
  }

  /** Client: a HelloRetryRequest refused our 0-RTT; the second ClientHello goes out in plaintext (§4.1.4). */
  abandon(): void {
    this.outbox.clearWriteKey();
  }

  /** Reports what became of offered 0-RTT (accepted, or refused and why). */
  note(outcome: EarlyDataOutcome): void {
    this.onOutcome?.(outcome);
  }
}
