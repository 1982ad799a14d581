import { TlsAlertError } from '../../alert.js';
import { ExtensionType, ProtocolVersion } from '../../codec/enums.js';
import {
  checkExtensionsAllowed,
  decodeAlpn,
  decodeClientKeyShares,
  decodeOfferedPsks,
  decodeOpaque16,
  decodePskModes,
  decodeRecordSizeLimit,
  decodeServerName,
  decodeSupportedVersions,
  decodeU16List,
  expectEmptyExtension,
  findExtension,
  type KeyShareEntry,
  type OfferedPsks,
  type RawExtension,
} from '../../codec/extensions.js';
import type { HandshakeMessage } from '../../codec/handshake-frame.js';
import { decodeClientHello, type ClientHello } from '../../codec/messages/client-hello.js';
import type { TlsVersionName } from '../../options.js';

/** What we read out of a ClientHello, before choosing anything. */
export interface ClientOffer {
  readonly hello: ClientHello;
  readonly raw: Buffer;
  readonly servername: string | undefined;
  readonly groups: readonly number[];
  readonly keyShares: readonly KeyShareEntry[];
  readonly signatureSchemes: readonly number[] | undefined;
  readonly alpn: readonly string[] | undefined;
  readonly pskModes: readonly number[];
  readonly psks: OfferedPsks | undefined;
  readonly hasEarlyData: boolean;
  readonly cookie: Buffer | undefined;
  /** RFC 8449 §4: the largest TLSInnerPlaintext the client takes in a protected record; undefined when it did not say. */
  readonly recordSizeLimit: number | undefined;
}

/**
 * The version to answer a ClientHello with (RFC 8446 §4.2.1, §D.2): TLS 1.3
 * when the client lists it in supported_versions and maxVersion allows it;
 * else TLS 1.2 when the client offers it (in supported_versions, or, without
 * that extension, a legacy_version of 0x0303) and minVersion allows it;
 * else protocol_version. The checks before it run in readClientOffer's order.
 */
export function chooseVersion(hello: ClientHello, versions: { minVersion: TlsVersionName; maxVersion: TlsVersionName }): TlsVersionName {
  checkLegacyVersion(hello);
  checkExtensionsAllowed(hello.extensions, 'client_hello');
  const supported = findExtension(hello.extensions, ExtensionType.supported_versions);
  const offered = supported === undefined ? undefined : decodeSupportedVersions(supported);
  if (versions.maxVersion === 'TLSv1.3' && offered?.includes(ProtocolVersion.TLS13) === true) return 'TLSv1.3';
  const offers12 = offered === undefined ? hello.legacyVersion >= ProtocolVersion.TLS12 : offered.includes(ProtocolVersion.TLS12);
  if (versions.minVersion === 'TLSv1.2' && offers12) return 'TLSv1.2';
  throw new TlsAlertError('protocol_version', versions.minVersion === 'TLSv1.3' ? 'client does not offer TLS 1.3' : 'no version in common');
}

function checkLegacyVersion(hello: ClientHello): void {
  // Appendix D.5: legacy_version 0x0300 (SSL 3.0) MUST be refused with protocol_version; as OpenSSL does
  // (SSL_R_BAD_LEGACY_VERSION), anything lower too, even when supported_versions offers TLS 1.3 (§4.1.2).
  if (hello.legacyVersion <= 0x0300) {
    throw new TlsAlertError(
      'protocol_version',
      `ClientHello.legacy_version 0x${hello.legacyVersion.toString(16).padStart(4, '0')} is SSL 3.0 or older`,
    );
  }
}

/** Reads and checks a ClientHello's extensions (RFC 8446 §4.1.2, §4.2, §9.2). */
export function readClientOffer(message: HandshakeMessage, hello: ClientHello = decodeClientHello(message.body)): ClientOffer {
  checkLegacyVersion(hello);
  checkExtensionsAllowed(hello.extensions, 'client_hello');
  const ext = (type: number): Buffer | undefined => findExtension(hello.extensions, type);
  const versions = ext(ExtensionType.supported_versions);
  // §4.2.1: without supported_versions this is TLS 1.2 or older, which we do not speak.
  if (versions === undefined || !decodeSupportedVersions(versions).includes(ProtocolVersion.TLS13)) {
    throw new TlsAlertError('protocol_version', 'client does not offer TLS 1.3');
  }
  // §4.1.2: a TLS 1.3 ClientHello has exactly one compression method, null.
  if (hello.legacyCompressionMethods.length !== 1 || hello.legacyCompressionMethods[0] !== 0) {
    throw new TlsAlertError('illegal_parameter', 'compression methods other than null');
  }
  const sni = ext(ExtensionType.server_name);
  const { groups, keyShares } = readGroupsAndShares(ext(ExtensionType.supported_groups), ext(ExtensionType.key_share));
  const sigAlgs = ext(ExtensionType.signature_algorithms);
  const certSigAlgs = ext(ExtensionType.signature_algorithms_cert);
  if (certSigAlgs !== undefined) decodeU16List(certSigAlgs, 'signature_algorithms_cert', 2);
  const alpn = ext(ExtensionType.application_layer_protocol_negotiation);
  const modes = ext(ExtensionType.psk_key_exchange_modes);
  const psk = ext(ExtensionType.pre_shared_key);
  // §4.2.9: pre_shared_key requires psk_key_exchange_modes.
  if (psk !== undefined && modes === undefined)
    throw new TlsAlertError('missing_extension', 'pre_shared_key without psk_key_exchange_modes');
  const earlyData = ext(ExtensionType.early_data);
  if (earlyData !== undefined) expectEmptyExtension(earlyData, 'early_data');
  const cookie = ext(ExtensionType.cookie);
  const recordSizeLimit = ext(ExtensionType.record_size_limit);
  return {
    hello,
    raw: message.raw,
    servername: sni === undefined ? undefined : decodeServerName(sni),
    groups,
    keyShares,
    signatureSchemes: sigAlgs === undefined ? undefined : decodeU16List(sigAlgs, 'signature_algorithms', 2),
    alpn: alpn === undefined ? undefined : decodeAlpn(alpn),
    pskModes: modes === undefined ? [] : decodePskModes(modes),
    psks: psk === undefined ? undefined : decodeOfferedPsks(psk),
    hasEarlyData: earlyData !== undefined,
    cookie: cookie === undefined ? undefined : decodeOpaque16(cookie, 'cookie'),
    recordSizeLimit: recordSizeLimit === undefined ? undefined : decodeRecordSizeLimit(recordSizeLimit),
  };
}

function readGroupsAndShares(
  groupsExt: Buffer | undefined,
  sharesExt: Buffer | undefined,
): { groups: readonly number[]; keyShares: readonly KeyShareEntry[] } {
  // §9.2: supported_groups and key_share come together.
  if ((groupsExt === undefined) !== (sharesExt === undefined))
    throw new TlsAlertError('missing_extension', 'supported_groups without key_share or the reverse');
  const groups = groupsExt === undefined ? [] : decodeU16List(groupsExt, 'supported_groups', 2);
  const keyShares = sharesExt === undefined ? [] : decodeClientKeyShares(sharesExt);
  // §4.2.8: each share's group must also be in supported_groups. A set: a 64 KiB ClientHello can list
  // ~20,000 groups and ~5,000 shares, and a list search per share cost 160-460 ms of one turn.
  const listedGroups = new Set(groups);
  for (const share of keyShares)
    if (!listedGroups.has(share.group)) throw new TlsAlertError('illegal_parameter', 'key share for a group not in supported_groups');
  return { groups, keyShares };
}

/** Extensions the second ClientHello may change (RFC 8446 §4.1.2). */
const RETRY_MUTABLE = new Set<number>([
  ExtensionType.key_share,
  ExtensionType.cookie,
  ExtensionType.early_data,
  ExtensionType.pre_shared_key,
  ExtensionType.padding,
]);

/** §4.1.2: after a HelloRetryRequest the client MUST send the same ClientHello but for the fields it may change. */
export function checkRetryConsistent(first: ClientOffer, second: ClientOffer): void {
  const a = first.hello;
  const b = second.hello;
  const same =
    a.legacyVersion === b.legacyVersion &&
    a.random.equals(b.random) &&
    a.legacySessionId.equals(b.legacySessionId) &&
    a.cipherSuites.length === b.cipherSuites.length &&
    a.cipherSuites.every((s, i) => s === b.cipherSuites[i]) &&
    a.legacyCompressionMethods.equals(b.legacyCompressionMethods);
  if (!same) throw new TlsAlertError('illegal_parameter', 'second ClientHello changes fixed fields');
  const fixed = (exts: readonly RawExtension[]): RawExtension[] => exts.filter((e) => !RETRY_MUTABLE.has(e.type));
  const x = fixed(a.extensions);
  const y = fixed(b.extensions);
  if (x.length !== y.length || x.some((e, i) => !sameExtension(e, y[i]))) {
    throw new TlsAlertError('illegal_parameter', 'second ClientHello changes its extensions');
  }
}

function sameExtension(a: RawExtension, b: RawExtension | undefined): boolean {
  return b !== undefined && a.type === b.type && a.data.equals(b.data);
}
