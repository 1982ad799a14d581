import { TlsAlertError } from '../../alert.js';
import { CompressionMethod, ExtensionType, Tls12ExtensionType, TLS_EMPTY_RENEGOTIATION_INFO_SCSV } from '../../codec/enums.js';
import { decodeAlpn, decodeServerName, decodeU16List, findExtension } from '../../codec/extensions.js';
import type { HandshakeMessage } from '../../codec/handshake-frame.js';
import type { ClientHello } from '../../codec/messages/client-hello.js';
import {
  decodeEcPointFormats,
  decodeExtendedMasterSecret,
  decodeRenegotiationInfo,
  decodeSessionTicketExtension,
} from '../../codec/messages/tls12/extensions.js';

/** What we read out of a TLS 1.2 ClientHello (RFC 5246 §7.4.1.2), before choosing anything. */
export interface ClientOffer12 {
  readonly hello: ClientHello;
  readonly raw: Buffer;
  readonly servername: string | undefined;
  /** supported_groups; undefined when the client sent none (RFC 8422 §4: then any curve it supports). */
  readonly groups: readonly number[] | undefined;
  /** signature_algorithms; undefined when absent (RFC 5246 §7.4.1.4.1 then means SHA-1, which we refuse). */
  readonly signatureSchemes: readonly number[] | undefined;
  readonly alpn: readonly string[] | undefined;
  /** RFC 5746 §3.6: the client signalled secure renegotiation (empty renegotiation_info or the SCSV). */
  readonly hasRenegotiationInfo: boolean;
  readonly hasEcPointFormats: boolean;
  /** RFC 5077 §3.2: session_ticket was sent; `ticket` is its content (empty: the client asks for one). */
  readonly hasSessionTicket: boolean;
  readonly ticket: Buffer;
}

/**
 * Reads a ClientHello we answer with TLS 1.2. Refused: compression methods
 * without null (RFC 5246 §7.4.1.2: illegal_parameter), a client without
 * extended_master_secret (RFC 7627 §5.3: handshake_failure), a non-empty
 * renegotiation_info in an initial handshake (RFC 5746 §3.6: handshake_failure),
 * ec_point_formats without uncompressed (RFC 8422 §5.1.2: illegal_parameter).
 * TLS 1.3 extensions a downgraded client sends along are left unread.
 */
export function readClientOffer12(message: HandshakeMessage, hello: ClientHello): ClientOffer12 {
  if (!hello.legacyCompressionMethods.includes(CompressionMethod.null)) {
    throw new TlsAlertError('illegal_parameter', 'compression methods without null');
  }
  const ext = (type: number): Buffer | undefined => findExtension(hello.extensions, type);
  const ems = ext(Tls12ExtensionType.extended_master_secret);
  if (ems === undefined) throw new TlsAlertError('handshake_failure', 'client does not offer extended_master_secret');
  decodeExtendedMasterSecret(ems);
  const renegotiationInfo = ext(Tls12ExtensionType.renegotiation_info);
  if (renegotiationInfo !== undefined && decodeRenegotiationInfo(renegotiationInfo).length !== 0) {
    throw new TlsAlertError('handshake_failure', 'renegotiation_info not empty in an initial handshake');
  }
  const pointFormats = ext(Tls12ExtensionType.ec_point_formats);
  if (pointFormats !== undefined) decodeEcPointFormats(pointFormats);
  const sni = ext(ExtensionType.server_name);
  const groups = ext(ExtensionType.supported_groups);
  const sigAlgs = ext(ExtensionType.signature_algorithms);
  const alpn = ext(ExtensionType.application_layer_protocol_negotiation);
  const ticket = ext(Tls12ExtensionType.session_ticket);
  return {
    hello,
    raw: message.raw,
    servername: sni === undefined ? undefined : decodeServerName(sni),
    groups: groups === undefined ? undefined : decodeU16List(groups, 'supported_groups', 2),
    signatureSchemes: sigAlgs === undefined ? undefined : decodeU16List(sigAlgs, 'signature_algorithms', 2),
    alpn: alpn === undefined ? undefined : decodeAlpn(alpn),
    hasRenegotiationInfo: renegotiationInfo !== undefined || hello.cipherSuites.includes(TLS_EMPTY_RENEGOTIATION_INFO_SCSV),
    hasEcPointFormats: pointFormats !== undefined,
    hasSessionTicket: ticket !== undefined,
    ticket: ticket === undefined ? Buffer.alloc(0) : decodeSessionTicketExtension(ticket),
  };
}
