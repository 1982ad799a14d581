import type { ServerConfig } from '../../config.js';
import type { Tls12SuiteInfo } from '../../crypto/suites.js';
import type { HandshakeLog12 } from '../../keyschedule/handshake-log12.js';
import type { Tls12KeyBlock } from '../../keyschedule/prf12.js';
import type { AuthenticatedClient } from '../peer.js';
import type { HandshakeContext } from '../state.js';
import type { ClientOffer12 } from './offer.js';

/** What a TLS 1.2 server chose from the ClientHello, held by every state after it. */
export interface Negotiated12 {
  readonly ctx: HandshakeContext;
  readonly config: ServerConfig;
  readonly offer: ClientOffer12;
  readonly suite: Tls12SuiteInfo;
  readonly alpn: string | false;
  readonly serverRandom: Buffer;
  /** The handshake messages so far (RFC 5246 §7.4.8, §7.4.9). */
  readonly log: HandshakeLog12;
  /** We answered session_ticket, so a NewSessionTicket goes before our ChangeCipherSpec (RFC 5077 §3.3). */
  readonly issuesTicket: boolean;
}

/** The session's secrets, once the master secret is known (RFC 5246 §8.1, §6.3). */
export interface Keyed12 {
  readonly n: Negotiated12;
  readonly masterSecret: Buffer;
  readonly keys: Tls12KeyBlock;
  /** The ECDHE group of a full handshake; undefined when resumed. */
  readonly group: number | undefined;
}

/** Who the client is by its Finished, and how we know (as the TLS 1.3 server's ClientIdentity, without a binder). */
export type ClientIdentity12 = AuthenticatedClient;
