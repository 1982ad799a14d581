import { TlsAlertError } from '../../alert.js';
import { ClientCertificateType, EcPointFormat, ExtensionType, HandshakeType, Tls12ExtensionType } from '../../codec/enums.js';
import { encodeAlpn, type RawExtension } from '../../codec/extensions.js';
import { encodeServerHello } from '../../codec/messages/server-hello.js';
import { encodeCertificate12 } from '../../codec/messages/tls12/certificate.js';
import { encodeCertificateRequest12 } from '../../codec/messages/tls12/certificate-request.js';
import { encodeCertificateStatus } from '../../codec/status-request.js';
import { encodeServerHelloDone } from '../../codec/messages/tls12/empty-and-finished.js';
import { encodeEcPointFormats, encodeRenegotiationInfo } from '../../codec/messages/tls12/extensions.js';
import { encodeServerKeyExchange, serverKeyExchangeSignedContent } from '../../codec/messages/tls12/server-key-exchange.js';
import type { KeyExchange, PrivateKey } from '../../crypto/provider.js';
import { TLS12_SCHEMES } from '../../crypto/signatures.js';
import type { Negotiated12 } from './negotiated.js';

/** A full handshake's ServerHello extras: the OCSP response to staple, if any. */
export interface HelloExtras {
  readonly staple: Uint8Array | undefined;
  readonly isResumed: boolean;
}

/**
 * ServerHello (RFC 5246 §7.4.1.3) with the extensions we answer: an empty
 * renegotiation_info (RFC 5746 §3.6), extended_master_secret (RFC 7627 §5.2),
 * ec_point_formats (RFC 8422 §5.2), ALPN, an empty session_ticket when a
 * ticket follows (RFC 5077 §3.2), an empty status_request when we staple
 * (RFC 6066 §8) and an empty server_name when we used the name (§3; not on resumption).
 */
export function sendServerHello12(n: Negotiated12, sessionId: Buffer, extras: HelloExtras): void {
  const { offer } = n;
  const extensions: RawExtension[] = [];
  if (offer.hasRenegotiationInfo)
    extensions.push({ type: Tls12ExtensionType.renegotiation_info, data: encodeRenegotiationInfo(Buffer.alloc(0)) });
  extensions.push({ type: Tls12ExtensionType.extended_master_secret, data: Buffer.alloc(0) });
  if (offer.hasEcPointFormats && !extras.isResumed) {
    extensions.push({ type: Tls12ExtensionType.ec_point_formats, data: encodeEcPointFormats([EcPointFormat.uncompressed]) });
  }
  if (n.alpn !== false) extensions.push({ type: ExtensionType.application_layer_protocol_negotiation, data: encodeAlpn([n.alpn]) });
  if (n.issuesTicket) extensions.push({ type: Tls12ExtensionType.session_ticket, data: Buffer.alloc(0) });
  if (extras.staple !== undefined) extensions.push({ type: ExtensionType.status_request, data: Buffer.alloc(0) });
  if (offer.servername !== undefined && !extras.isResumed) extensions.push({ type: ExtensionType.server_name, data: Buffer.alloc(0) });
  const body = encodeServerHello({ random: n.serverRandom, legacySessionIdEcho: sessionId, cipherSuite: n.suite.id, extensions });
  n.log.add(n.ctx.sendHandshake(HandshakeType.server_hello, body));
}

/** §7.4.2: our chain, leaf first. */
export function sendCertificate12(n: Negotiated12): void {
  n.log.add(n.ctx.sendHandshake(HandshakeType.certificate, encodeCertificate12({ chain: n.config.certChain })));
}

/** RFC 6066 §8: CertificateStatus right after Certificate, when ServerHello said status_request. */
export function sendCertificateStatus12(n: Negotiated12, staple: Uint8Array): void {
  // RFC 6066 §8: the same CertificateStatus struct TLS 1.3 puts in the leaf's CertificateEntry, under the same size bound.
  const body = encodeCertificateStatus({ ocspResponse: staple });
  n.log.add(n.ctx.sendHandshake(HandshakeType.certificate_status, body));
}

/** RFC 8422 §5.4: our ephemeral point on the chosen curve, signed with client_random || server_random || params. */
export function sendServerKeyExchange12(n: Negotiated12, exchange: KeyExchange, signer: { scheme: number; key: PrivateKey }): void {
  const params = { namedCurve: exchange.group, publicKey: exchange.publicKey };
  const content = serverKeyExchangeSignedContent(n.offer.hello.random, n.serverRandom, params);
  const signature = n.ctx.provider.sign(signer.scheme, signer.key, content);
  const body = encodeServerKeyExchange({ params, algorithm: signer.scheme, signature });
  n.log.add(n.ctx.sendHandshake(HandshakeType.server_key_exchange, body));
}

/** §7.4.4: ECDSA and RSA certificates, the schemes we verify (no SHA-1), and our anchors' names as the 1.3 path sends them. */
export function sendCertificateRequest12(n: Negotiated12): void {
  const body = encodeCertificateRequest12({
    certificateTypes: [ClientCertificateType.ecdsa_sign, ClientCertificateType.rsa_sign],
    signatureAlgorithms: TLS12_SCHEMES,
    certificateAuthorities: n.config.certificateAuthorities,
  });
  n.log.add(n.ctx.sendHandshake(HandshakeType.certificate_request, body));
}

export function sendServerHelloDone12(n: Negotiated12): void {
  n.log.add(n.ctx.sendHandshake(HandshakeType.server_hello_done, encodeServerHelloDone()));
}

/** The caller's staple (RFC 6066 §8); a throw is our side's fault: internal_error. Empty means none. */
export function takeStaple(ocspResponse: () => Uint8Array | undefined): Uint8Array | undefined {
  let staple: Uint8Array | undefined;
  try {
    staple = ocspResponse();
  } catch (err) {
    throw new TlsAlertError('internal_error', `ocspResponse failed: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
  }
  if (staple !== undefined && staple.length > 0xffffff) throw new TlsAlertError('internal_error', 'OCSP response over 2^24 - 1 bytes');
  return staple === undefined || staple.length === 0 ? undefined : staple;
}
