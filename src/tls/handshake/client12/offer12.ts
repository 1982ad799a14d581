import { EcPointFormat, ProtocolVersion, Tls12ExtensionType } from '../../codec/enums.js';
import type { RawExtension } from '../../codec/extensions.js';
import { encodeEcPointFormats, encodeRenegotiationInfo } from '../../codec/messages/tls12/extensions.js';
import type { ClientConfig } from '../../config.js';
import type { Tls12ClientSession } from './session12.js';

/**
 * What our ClientHello offers by version. With TLS 1.3 only (the default)
 * it is byte for byte the TLS 1.3 ClientHello it always was; with TLS 1.2
 * allowed it adds 0x0303 to supported_versions, the six ECDHE AEAD suites
 * after the TLS 1.3 ones, the TLS 1.2 extensions (hello12.ts) and
 * RSASSA-PKCS1-v1_5 with SHA-2 in signature_algorithms (RFC 5246
 * §7.4.1.4.1; RFC 8446 §4.2.3 lets a TLS 1.3 ClientHello list them for 1.2).
 * Never SHA-1.
 */
export interface VersionOffer {
  readonly tls13: boolean;
  readonly tls12: boolean;
}

export function versionOffer(config: ClientConfig): VersionOffer {
  return {
    tls13: config.maxVersion === 'TLSv1.3',
    tls12: config.minVersion === 'TLSv1.2',
  };
}

/** supported_versions (RFC 8446 §4.2.1): versions<2..254>, ours newest first. */
export function supportedVersionsData(offer: VersionOffer): Buffer {
  const versions = [...(offer.tls13 ? [ProtocolVersion.TLS13] : []), ...(offer.tls12 ? [ProtocolVersion.TLS12] : [])];
  const data = Buffer.alloc(1 + 2 * versions.length);
  data[0] = 2 * versions.length;
  versions.forEach((v, i) => data.writeUInt16BE(v, 1 + 2 * i));
  return data;
}

/** The TLS 1.2 suites we offer when TLS 1.2 is allowed. */
export function tls12Suites(config: ClientConfig, offer: VersionOffer): readonly number[] {
  return offer.tls12 ? config.suites12 : [];
}

/**
 * The extensions a ClientHello adds when it offers TLS 1.2: ec_point_formats
 * [uncompressed] (RFC 8422 §5.1.2), extended_master_secret (RFC 7627 §5.1),
 * an empty renegotiation_info (RFC 5746 §3.4) and session_ticket, empty or
 * with the ticket we resume (RFC 5077 §3.1).
 */
export function tls12HelloExtensions(session: Tls12ClientSession | undefined): RawExtension[] {
  return [
    { type: Tls12ExtensionType.ec_point_formats, data: encodeEcPointFormats([EcPointFormat.uncompressed]) },
    { type: Tls12ExtensionType.extended_master_secret, data: Buffer.alloc(0) },
    { type: Tls12ExtensionType.renegotiation_info, data: encodeRenegotiationInfo(Buffer.alloc(0)) },
    { type: Tls12ExtensionType.session_ticket, data: session === undefined ? Buffer.alloc(0) : session.ticket },
  ];
}
