import type { ClientConfig } from '../../config.js';
import type { Tls12SuiteInfo } from '../../crypto/suites.js';
import type { HandshakeLog12 } from '../../keyschedule/handshake-log12.js';
import type { SignatureVerified } from '../peer.js';
import type { HandshakeContext } from '../state.js';
import type { Tls12ClientSession } from './session12.js';

/** What a TLS 1.2 ServerHello settled (RFC 5246 §7.4.1.3), and the log the rest of the handshake adds to. */
export interface Tls12Negotiated {
  readonly ctx: HandshakeContext;
  readonly config: ClientConfig;
  readonly suite: Tls12SuiteInfo;
  readonly clientRandom: Buffer;
  readonly serverRandom: Buffer;
  readonly log: HandshakeLog12;
  readonly alpn: string | false;
  /** The server sent an empty session_ticket: a NewSessionTicket comes before its ChangeCipherSpec (RFC 5077 §3.2). */
  readonly isTicketExpected: boolean;
  /** The server echoed status_request: a CertificateStatus may follow its Certificate (RFC 6066 §8). */
  readonly isStatusExpected: boolean;
}

/** The server's CertificateRequest (RFC 5246 §7.4.4): the schemes it accepts for our CertificateVerify. */
export interface CertificateRequested12 {
  readonly certificateTypes: readonly number[];
  readonly schemes: readonly number[];
}

/** Who the server is by the time its Finished arrives, and how we know. */
export type Server12Identity =
  /** It accepted our ticket (RFC 5077 §3.1): the identity is the one verified when the ticket was issued. */
  | { readonly kind: 'resumed'; readonly session: Tls12ClientSession }
  /** Its ServerKeyExchange signature proved it holds its leaf's key (RFC 5246 §7.4.3). */
  | {
      readonly kind: 'certificate';
      readonly signature: SignatureVerified;
      readonly group: number;
      /** The OCSP response in its CertificateStatus (RFC 6066 §8), when we asked and it sent one. */
      readonly ocspResponse: Buffer | undefined;
    };

/** After our keys are set: the master secret, and what the server's Finished completes. */
export interface Tls12Keyed {
  readonly negotiated: Tls12Negotiated;
  readonly masterSecret: Buffer;
  readonly server: Server12Identity;
}
