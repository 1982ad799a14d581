import { TlsAlertError } from '../../alert.js';
import { ExtensionType, Tls12ExtensionType } from '../../codec/enums.js';
import { expectEmptyExtension, findExtension, type RawExtension } from '../../codec/extensions.js';
import type { HandshakeMessage } from '../../codec/handshake-frame.js';
import { DOWNGRADE_TLS11, DOWNGRADE_TLS12, type ServerHello } from '../../codec/messages/server-hello.js';
import { decodeEcPointFormats, decodeExtendedMasterSecret, decodeRenegotiationInfo } from '../../codec/messages/tls12/extensions.js';
import type { ClientConfig } from '../../config.js';
import { tls12SuiteInfo, type Tls12SuiteInfo } from '../../crypto/suites.js';
import { HandshakeLog12 } from '../../keyschedule/handshake-log12.js';
import type { HandshakeContext, HandshakeState } from '../state.js';
import { startAbbreviated12 } from './finished12.js';
import type { Tls12Negotiated } from './negotiated12.js';
import { chosenAlpn } from '../client/negotiated.js';
import { ExpectCertificate12 } from './server-auth12.js';
import type { Tls12ClientSession } from './session12.js';

/** What a ClientHello offered for TLS 1.2, kept to check a TLS 1.2 ServerHello against. */
export interface Tls12Offer {
  /** The TLS 1.2 suites in our cipher_suites. */
  readonly suites: readonly number[];
  /** Whether the same ClientHello offered TLS 1.3 (then a 1.2 answer must not carry the downgrade sentinel). */
  readonly isTls13Offered: boolean;
  /** The TLS 1.2 session whose ticket went in session_ticket (RFC 5077 §3.1). */
  readonly session: Tls12ClientSession | undefined;
}

/** The ClientHello as the TLS 1.2 path reads it. */
export interface Tls12HelloSent {
  readonly ctx: HandshakeContext;
  readonly config: ClientConfig;
  readonly random: Buffer;
  readonly sessionId: Buffer;
  readonly helloRaw: Buffer;
  readonly offeredExtensions: ReadonlySet<number>;
}

/** Extensions a TLS 1.2 ServerHello may carry (RFC 5246 §7.4.1.4 and the RFCs of each); all others are ours to refuse. */
const SERVER_HELLO_12 = new Set<number>([
  ExtensionType.server_name,
  ExtensionType.status_request,
  ExtensionType.application_layer_protocol_negotiation,
  Tls12ExtensionType.ec_point_formats,
  Tls12ExtensionType.extended_master_secret,
  Tls12ExtensionType.session_ticket,
  Tls12ExtensionType.renegotiation_info,
]);

/**
 * A ServerHello that chose TLS 1.2 (no supported_versions, RFC 8446 §4.2.1).
 * Checks the downgrade sentinel, the suite, the extensions (EMS required),
 * then goes on with a full handshake, or an abbreviated one when the server
 * echoed our session id for the ticket we sent (RFC 5077 §3.4).
 */
export function acceptServerHello12(
  sent: Tls12HelloSent,
  offer: Tls12Offer,
  hello: ServerHello,
  message: HandshakeMessage,
): HandshakeState {
  const tail = hello.random.subarray(24);
  // RFC 8446 §4.1.3: a TLS 1.3 client that gets a lower version MUST check the sentinels (illegal_parameter).
  if (offer.isTls13Offered && (tail.equals(DOWNGRADE_TLS12) || tail.equals(DOWNGRADE_TLS11)))
    throw new TlsAlertError('illegal_parameter', 'downgrade sentinel in a TLS 1.2 ServerHello.random');
  const suite = offer.suites.includes(hello.cipherSuite) ? tls12SuiteInfo(hello.cipherSuite) : undefined;
  // RFC 5246 §7.4.1.3: the suite is one the client offered.
  if (suite === undefined) throw new TlsAlertError('illegal_parameter', 'server chose a TLS 1.2 suite we did not offer');
  const { alpn, isTicketExpected, isStatusExpected } = readServerHello12Extensions(sent, hello.extensions);
  sent.ctx.useTls12();
  const log = new HandshakeLog12(sent.ctx.provider);
  log.add(sent.helloRaw);
  log.add(message.raw);
  const negotiated: Tls12Negotiated = {
    ctx: sent.ctx,
    config: sent.config,
    suite,
    clientRandom: sent.random,
    serverRandom: hello.random,
    log,
    alpn,
    isTicketExpected,
    isStatusExpected,
  };
  const isEcho = sent.sessionId.length > 0 && hello.legacySessionIdEcho.equals(sent.sessionId);
  if (!isEcho) return new ExpectCertificate12(negotiated);
  return startAbbreviated12(negotiated, resumedSession(offer.session, suite));
}

/** RFC 5077 §3.4: our session id echoed means the ticket was accepted; the session's suite must be the one chosen (RFC 5246 §7.4.1.3). */
function resumedSession(session: Tls12ClientSession | undefined, suite: Tls12SuiteInfo): Tls12ClientSession {
  if (session === undefined) throw new TlsAlertError('illegal_parameter', 'server resumed a session we did not offer');
  if (session.suite !== suite.id) throw new TlsAlertError('illegal_parameter', 'resumed session with another suite');
  return session;
}

interface ServerHello12Extensions {
  readonly alpn: string | false;
  readonly isTicketExpected: boolean;
  readonly isStatusExpected: boolean;
}

function readServerHello12Extensions(sent: Tls12HelloSent, extensions: readonly RawExtension[]): ServerHello12Extensions {
  for (const e of extensions) {
    // RFC 5246 §7.4.1.4: an extension we did not offer is unsupported_extension.
    if (!sent.offeredExtensions.has(e.type)) throw new TlsAlertError('unsupported_extension', `ServerHello carries extension ${e.type}`);
    if (!SERVER_HELLO_12.has(e.type)) throw new TlsAlertError('illegal_parameter', `extension ${e.type} in a TLS 1.2 ServerHello`);
  }
  const ems = findExtension(extensions, Tls12ExtensionType.extended_master_secret);
  // RFC 7627 §5.3: we never run without the extended master secret; a server that does not echo it is refused.
  if (ems === undefined) throw new TlsAlertError('handshake_failure', 'server did not negotiate extended_master_secret');
  decodeExtendedMasterSecret(ems);
  // RFC 5746 §4.1 lets a client go on with a server that lacks renegotiation_info: we never renegotiate, so we do.
  const renegotiation = findExtension(extensions, Tls12ExtensionType.renegotiation_info);
  // RFC 5746 §3.4: on an initial handshake renegotiated_connection must be empty (handshake_failure).
  if (renegotiation !== undefined && decodeRenegotiationInfo(renegotiation).length !== 0)
    throw new TlsAlertError('handshake_failure', 'renegotiation_info is not empty');
  const pointFormats = findExtension(extensions, Tls12ExtensionType.ec_point_formats);
  if (pointFormats !== undefined) decodeEcPointFormats(pointFormats);
  const ticket = findExtension(extensions, Tls12ExtensionType.session_ticket);
  if (ticket !== undefined) expectEmptyExtension(ticket, 'session_ticket');
  const status = findExtension(extensions, ExtensionType.status_request);
  if (status !== undefined) expectEmptyExtension(status, 'status_request');
  const serverName = findExtension(extensions, ExtensionType.server_name);
  if (serverName !== undefined) expectEmptyExtension(serverName, 'server_name');
  return {
    alpn: chosenAlpn(sent.config, findExtension(extensions, ExtensionType.application_layer_protocol_negotiation)),
    isTicketExpected: ticket !== undefined,
    isStatusExpected: status !== undefined,
  };
}
