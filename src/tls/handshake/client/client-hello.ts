import type { ClientConfig } from '../../config.js';
import { CertificateStatusType, ExtensionType, HandshakeType, PskKeyExchangeMode } from '../../codec/enums.js';
import {
  encodeAlpn,
  encodeCertificateStatusRequest,
  encodeClientKeyShares,
  encodeOfferedPsks,
  encodeOpaque16,
  encodeServerName,
  encodeU16List,
  type RawExtension,
} from '../../codec/extensions.js';
import { frameHandshake } from '../../codec/handshake-frame.js';
import { EMPTY_EARLY_DATA } from '../../codec/early-data.js';
import { encodeClientHello } from '../../codec/messages/client-hello.js';
import type { KeyExchange } from '../../crypto/provider.js';
import { CERT_SCHEMES, TLS12_SCHEMES, VERIFY_SCHEMES } from '../../crypto/signatures.js';
import { suiteInfo, type SuiteInfo } from '../../crypto/suites.js';
import { EarlySecret, finishedVerifyData } from '../../keyschedule/stages.js';
import { Transcript } from '../../keyschedule/transcript.js';
import type { ClientSession } from '../../tickets.js';
import type { HandshakeContext } from '../state.js';
import { supportedVersionsData, tls12HelloExtensions, tls12Suites, versionOffer } from '../client12/offer12.js';
import type { Tls12ClientSession } from '../client12/session12.js';

/** What a ClientHello offers: the parts that stay the same, or change as §4.1.2 allows, after a HelloRetryRequest. */
export interface ClientHelloOffer {
  readonly ctx: HandshakeContext;
  readonly config: ClientConfig;
  readonly random: Buffer;
  readonly sessionId: Buffer;
  readonly keyShares: readonly KeyExchange[];
  /** The ticket offered for resumption, if any. */
  readonly session: ClientSession | undefined;
  /** A TLS 1.2 ticket offered in session_ticket (RFC 5077 §3.1), when TLS 1.2 is offered. */
  readonly session12?: Tls12ClientSession | undefined;
  /** 0-RTT data sent with this ClientHello (the session allows it); never after a HelloRetryRequest (§4.2.10). */
  readonly earlyData?: Buffer | undefined;
}

/** A ClientHello as sent, kept to check the server's answers against. */
export interface ClientHelloSent extends ClientHelloOffer {
  /** The framed message, for the transcript. */
  readonly helloRaw: Buffer;
  /** §4.2: a response extension we did not offer is unsupported_extension. */
  readonly offeredExtensions: ReadonlySet<number>;
}

/** status_request asking for ocsp, naming no responders and no request extensions (RFC 6066 §8). */
const OCSP_STATUS_REQUEST = encodeCertificateStatusRequest({
  statusType: CertificateStatusType.ocsp,
  responderIds: [],
  requestExtensions: Buffer.alloc(0),
});

/** The extensions of our ClientHello; with TLS 1.3 only, exactly those of the TLS 1.3 ClientHello (client12/offer12.ts). */
function helloExtensions(offer: ClientHelloOffer, cookie: Buffer | undefined): RawExtension[] {
  const config = offer.config;
  const versions = versionOffer(config);
  const extensions: RawExtension[] = [];
  if (config.servername !== undefined) extensions.push({ type: ExtensionType.server_name, data: encodeServerName(config.servername) });
  if (config.requestOcspStaple) extensions.push({ type: ExtensionType.status_request, data: OCSP_STATUS_REQUEST });
  extensions.push({ type: ExtensionType.supported_versions, data: supportedVersionsData(versions) });
  extensions.push({ type: ExtensionType.supported_groups, data: encodeU16List(config.groups) });
  if (versions.tls13)
    extensions.push({
      type: ExtensionType.key_share,
      data: encodeClientKeyShares(offer.keyShares.map((k) => ({ group: k.group, keyExchange: k.publicKey }))),
    });
  const schemes = versions.tls12 ? TLS12_SCHEMES : VERIFY_SCHEMES;
  extensions.push({ type: ExtensionType.signature_algorithms, data: encodeU16List(schemes) });
  extensions.push({ type: ExtensionType.signature_algorithms_cert, data: encodeU16List(CERT_SCHEMES) });
  if (config.alpnProtocols.length > 0)
    extensions.push({ type: ExtensionType.application_layer_protocol_negotiation, data: encodeAlpn(config.alpnProtocols) });
  // §4.2.2: a cookie from a HelloRetryRequest goes back unchanged.
  if (cookie !== undefined) extensions.push({ type: ExtensionType.cookie, data: encodeOpaque16(cookie) });
  if (versions.tls13) extensions.push({ type: ExtensionType.psk_key_exchange_modes, data: Buffer.of(1, PskKeyExchangeMode.psk_dhe_ke) });
  if (versions.tls12) extensions.push(...tls12HelloExtensions(offer.session12));
  // §4.2.10: early_data goes with pre_shared_key, which comes after it (last).
  if (offer.earlyData !== undefined) extensions.push({ type: ExtensionType.early_data, data: EMPTY_EARLY_DATA });
  return extensions;
}

function binderLength(hash: SuiteInfo['hash']): number {
  return hash === 'sha384' ? 48 : 32;
}

/**
 * Builds a ClientHello; with a session, its pre_shared_key goes last
 * (§4.2.11) with a binder of zeros: fillBinder() writes the real one.
 * The same cipher_suites go in the second ClientHello as in the first:
 * §4.1.2 allows it to change only key_share, early_data, cookie,
 * pre_shared_key and padding.
 */
export function buildClientHello(offer: ClientHelloOffer, cookie: Buffer | undefined): ClientHelloSent {
  const config = offer.config;
  const extensions = helloExtensions(offer, cookie);
  const session = offer.session;
  const pskHash = session === undefined ? undefined : suiteInfo(session.suite)?.hash;
  if (session !== undefined) {
    const age = Math.max(0, config.now() - session.receivedAt);
    const identity = { identity: session.ticket, obfuscatedTicketAge: (age + session.ageAdd) >>> 0 };
    // Binders are filled in below, over the hello with placeholder binders of the right size.
    const placeholder = Buffer.alloc(binderLength(pskHash ?? 'sha256'));
    extensions.push({ type: ExtensionType.pre_shared_key, data: encodeOfferedPsks([identity], [placeholder]) });
  }
  const body = encodeClientHello({
    legacyVersion: 0x0303,
    random: offer.random,
    legacySessionId: offer.sessionId,
    cipherSuites: offeredSuites(config),
    legacyCompressionMethods: Buffer.of(0),
    extensions,
  });
  const raw = frameHandshake(HandshakeType.client_hello, body);
  return { ...offer, helloRaw: raw, offeredExtensions: new Set(extensions.map((e) => e.type)) };
}

/** Our cipher_suites: the TLS 1.3 suites when 1.3 is offered, then the TLS 1.2 ones when 1.2 is (client12/offer12.ts). */
export function offeredSuites(config: ClientConfig): number[] {
  const versions = versionOffer(config);
  return [...(versions.tls13 ? config.suites : []), ...tls12Suites(config, versions)];
}

/**
 * §4.2.11.2: the binder, over the transcript up to (not including) the
 * binders list (after a HelloRetryRequest, the transcript so far first),
 * written over the placeholder at the end of `raw`.
 */
export function fillBinder(ctx: HandshakeContext, raw: Buffer, session: ClientSession, transcriptBefore: Transcript | undefined): void {
  const pskHash = suiteInfo(session.suite)?.hash;
  if (pskHash === undefined) return;
  const hashLength = binderLength(pskHash);
  const bindersLength = 2 + 1 + hashLength;
  const truncated = raw.subarray(0, raw.length - bindersLength);
  const crypto = ctx.provider;
  const early = new EarlySecret(crypto, pskHash, session.psk);
  const hash = (transcriptBefore ?? new Transcript(crypto, pskHash)).hashWith(truncated);
  const binder = finishedVerifyData(crypto, pskHash, early.binderKey('res'), hash);
  binder.copy(raw, raw.length - hashLength);
}

/** The 0-RTT to send with `session`: the caller's, when the ticket allows early data and it fits (§4.2.10, §4.6.1). */
export function earlyDataFor(config: ClientConfig, session: ClientSession | undefined): Buffer | undefined {
  const data = config.earlyData;
  if (data === undefined || session === undefined) return undefined;
  const max = session.maxEarlyData ?? 0;
  // §4.2.10: the ALPN protocol must be the one the ticket's connection used, so offer early data only when it is ours first.
  const [firstAlpn] = config.alpnProtocols;
  if (max === 0 || data.length > max || session.alpn !== (firstAlpn ?? '')) return undefined;
  return data;
}

/**
 * §2.3, §4.2.10: after the ClientHello, the compatibility CCS (§D.4 puts it
 * right after the first ClientHello when offering early data), then the
 * data under client_early_traffic_secret over the ClientHello.
 */
export function sendEarlyData(ctx: HandshakeContext, helloRaw: Buffer, session: ClientSession, data: Buffer, random: Buffer): void {
  const suite = suiteInfo(session.suite);
  if (suite === undefined) return;
  const early = new EarlySecret(ctx.provider, suite.hash, session.psk);
  const secret = early.clientEarlyTrafficSecret(new Transcript(ctx.provider, suite.hash).hashWith(helloRaw));
  ctx.logSecret('CLIENT_EARLY_TRAFFIC_SECRET', random, secret);
  ctx.sendChangeCipherSpec();
  ctx.setWriteKey(suite, secret);
  ctx.earlyData.send(data);
}

/** Usable session: not expired, and its suite still enabled. */
export function usableSession(config: ClientConfig, session: ClientSession | undefined): ClientSession | undefined {
  if (session === undefined) return undefined;
  const ageMs = config.now() - session.receivedAt;
  if (ageMs < 0 || ageMs > session.lifetimeSeconds * 1000) return undefined;
  if (!config.suites.includes(session.suite)) return undefined;
  if (session.servername !== (config.servername ?? '')) return undefined;
  return session;
}
