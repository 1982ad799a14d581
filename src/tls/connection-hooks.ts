import type { HandshakeMessage } from './codec/handshake-frame.js';
import type { HandshakeResult } from './handshake/state.js';
import type { EarlyDataChannel } from './early-data-channel.js';

/** What a Connection tells its owner (the socket): handshake done, plaintext, the peer's close. */
export interface ConnectionHooks {
  onHandshakeComplete(result: HandshakeResult): void;
  onData(data: Buffer): void;
  /** The peer sent close_notify: no more data will come. */
  onPeerClose(): void;
  /** A post-handshake message the role handles itself (NewSessionTicket on the client). */
  onPostHandshake?(message: HandshakeMessage): void;
  readonly onEarlyData?: EarlyDataChannel['note']; // what became of offered 0-RTT
  readonly onKeyLog?: (line: string) => void;
}
