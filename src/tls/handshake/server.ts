import { TlsAlertError } from '../alert.js';
import type { ServerConfig } from '../config.js';
import { CertificateStatusType, ExtensionType, HandshakeType, ProtocolVersion, PskKeyExchangeMode } from '../codec/enums.js';
import {
  checkExtensionsAllowed,
  decodeAlpn,
  decodeCertificateStatusRequest,
  decodeClientKeyShares,
  decodeOfferedPsks,
  decodeOpaque16,
  decodePskModes,
  decodeServerName,
  decodeSupportedVersions,
  decodeU16List,
  encodeAlpn,
  encodeCertificateAuthorities,
  encodeCertificateStatus,
  encodeOpaque16,
  encodeServerKeyShare,
  encodeU16,
  encodeU16List,
  expectEmptyExtension,
  findExtension,
  MAX_STAPLED_OCSP_RESPONSE,
  type KeyShareEntry,
  type OfferedPsks,
  type RawExtension,
} from '../codec/extensions.js';
import type { HandshakeMessage } from '../codec/handshake-frame.js';
import { decodeCertificate, encodeCertificate, type CertificateEntry } from '../codec/messages/certificate.js';
import { encodeCertificateRequest } from '../codec/messages/certificate-request.js';
import { decodeCertificateVerify, encodeCertificateVerify } from '../codec/messages/certificate-verify.js';
import { decodeClientHello, type ClientHello } from '../codec/messages/client-hello.js';
import { encodeEncryptedExtensions } from '../codec/messages/encrypted-extensions.js';
import { encodeNewSessionTicket } from '../codec/messages/new-session-ticket.js';
import { encodeServerHello, HELLO_RETRY_REQUEST_RANDOM } from '../codec/messages/server-hello.js';
import { FAST_GROUPS, type CryptoProvider } from '../crypto/provider.js';
import { certificateVerifyContent, VERIFY_SCHEMES } from '../crypto/signatures.js';
import { suiteInfo, type SuiteInfo } from '../crypto/suites.js';
import { EarlySecret, finishedVerifyData, resumptionPsk, type HandshakeSecret, type MasterSecret } from '../keyschedule/stages.js';
import { Transcript } from '../keyschedule/transcript.js';
import { asBuffer, constantTimeEqual } from '../../shared/bytes.js';
import type { PeerCertificates } from '../options.js';
import { decodeServerSessionState, encodeServerSessionState } from '../tickets.js';
import type { VerifiedChain } from '../peer-verifier.js';
import { HandshakeDone, requireMessage, StateBase, type HandshakeContext, type HandshakeResult, type HandshakeState } from './state.js';
import { runPeerPolicy, verifyPeerFinished, verifyPeerSignature } from './peer.js';

/** What we read out of a ClientHello, before choosing anything. */
interface ClientOffer {
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
}

/** Reads and checks a ClientHello's extensions (RFC 8446 §4.1.2, §4.2, §9.2). */
function readClientOffer(message: HandshakeMessage): ClientOffer {
  const hello = decodeClientHello(message.body);
  // Appendix D.5: legacy_version 0x0300 (SSL 3.0) MUST be refused with protocol_version; as OpenSSL does
  // (SSL_R_BAD_LEGACY_VERSION), anything lower too, even when supported_versions offers TLS 1.3 (§4.1.2).
  if (hello.legacyVersion <= 0x0300) {
    throw new TlsAlertError('protocol_version', `ClientHello.legacy_version 0x${hello.legacyVersion.toString(16).padStart(4, '0')} is SSL 3.0 or older`);
  }
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
  const groupsExt = ext(ExtensionType.supported_groups);
  const sharesExt = ext(ExtensionType.key_share);
  // §9.2: supported_groups and key_share come together.
  if ((groupsExt === undefined) !== (sharesExt === undefined)) throw new TlsAlertError('missing_extension', 'supported_groups without key_share or the reverse');
  const groups = groupsExt === undefined ? [] : decodeU16List(groupsExt, 'supported_groups', 2);
  const keyShares = sharesExt === undefined ? [] : decodeClientKeyShares(sharesExt);
  // §4.2.8: each share's group must also be in supported_groups. A set: a 64 KiB ClientHello can list
  // ~20,000 groups and ~5,000 shares, and a list search per share cost 160-460 ms of one turn.
  const listedGroups = new Set(groups);
  for (const share of keyShares) if (!listedGroups.has(share.group)) throw new TlsAlertError('illegal_parameter', 'key share for a group not in supported_groups');
  const sigAlgs = ext(ExtensionType.signature_algorithms);
  const certSigAlgs = ext(ExtensionType.signature_algorithms_cert);
  if (certSigAlgs !== undefined) decodeU16List(certSigAlgs, 'signature_algorithms_cert', 2);
  const alpn = ext(ExtensionType.application_layer_protocol_negotiation);
  const modes = ext(ExtensionType.psk_key_exchange_modes);
  const psk = ext(ExtensionType.pre_shared_key);
  // §4.2.9: pre_shared_key requires psk_key_exchange_modes.
  if (psk !== undefined && modes === undefined) throw new TlsAlertError('missing_extension', 'pre_shared_key without psk_key_exchange_modes');
  const earlyData = ext(ExtensionType.early_data);
  if (earlyData !== undefined) expectEmptyExtension(earlyData, 'early_data');
  const cookie = ext(ExtensionType.cookie);
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
  };
}

function chooseSuite(config: ServerConfig, offer: ClientOffer): SuiteInfo {
  for (const id of config.suites) if (offer.hello.cipherSuites.includes(id)) return suiteInfo(id)!;
  throw new TlsAlertError('handshake_failure', 'no cipher suite in common');
}

/** ALPN (RFC 7301 §3.2): our preference among the client's; no overlap is no_application_protocol. */
function chooseAlpn(config: ServerConfig, offer: ClientOffer): string | false {
  if (offer.alpn === undefined || config.alpnProtocols.length === 0) return false;
  const chosen = config.alpnProtocols.find((p) => offer.alpn!.includes(p));
  if (chosen === undefined) throw new TlsAlertError('no_application_protocol', 'no ALPN protocol in common');
  return chosen;
}

function chooseSignatureScheme(config: ServerConfig, offer: ClientOffer): number {
  // §9.2: a full handshake needs signature_algorithms.
  if (offer.signatureSchemes === undefined) throw new TlsAlertError('missing_extension', 'no signature_algorithms');
  const scheme = config.signSchemes.find((s) => offer.signatureSchemes!.includes(s));
  if (scheme === undefined) throw new TlsAlertError('handshake_failure', 'no signature scheme in common');
  return scheme;
}

/** PSK identities tried per ClientHello (Go's maxClientPSKIdentities); the rest fall back to a full handshake. */
const MAX_PSK_IDENTITIES_TRIED = 5;

interface Resumption {
  readonly psk: Buffer;
  readonly index: number;
  readonly peerChain: readonly Buffer[];
  readonly alpn: string;
}

/**
 * Looks for a ticket we can resume (RFC 8446 §4.2.11, §4.6.1). A ticket we
 * cannot open, one too old, or one for another hash is passed over and the
 * handshake falls back to a full one. Binder checks come later, on the transcript.
 */
function findResumption(config: ServerConfig, offer: ClientOffer, suite: SuiteInfo): Resumption | undefined {
  if (offer.psks === undefined || config.tickets === undefined) return undefined;
  // We only resume with (EC)DHE: psk_dhe_ke keeps forward secrecy.
  if (!offer.pskModes.includes(PskKeyExchangeMode.psk_dhe_ke)) return undefined;
  const now = config.now();
  // At most the first few identities are tried, as Go's crypto/tls does (maxClientPSKIdentities = 5): each costs a
  // ticket decryption, and a 64 KiB ClientHello can carry ~900 of them.
  for (const [index, identity] of offer.psks.identities.slice(0, MAX_PSK_IDENTITIES_TRIED).entries()) {
    const opened = config.tickets.open(identity.identity);
    if (opened === undefined) continue;
    let state;
    try {
      state = decodeServerSessionState(opened);
    } catch {
      continue;
    }
    const ticketSuite = suiteInfo(state.suite);
    if (ticketSuite === undefined || ticketSuite.hash !== suite.hash) continue;
    const ageMs = now - state.createdAt;
    if (ageMs < 0 || ageMs > state.lifetimeSeconds * 1000) continue;
    return { psk: state.psk, index, peerChain: state.peerChain, alpn: state.alpn };
  }
  return undefined;
}

/** §4.2.11.2: the binder is a Finished-style MAC over the ClientHello up to the binders list. */
function verifyBinder(crypto: CryptoProvider, early: EarlySecret, transcriptBefore: Transcript | undefined, offer: ClientOffer, resumption: Resumption): void {
  const psks = offer.psks!;
  const truncated = offer.raw.subarray(0, offer.raw.length - psks.bindersLength);
  const hash = (transcriptBefore ?? new Transcript(crypto, early.hash)).hashWith(truncated);
  const expected = finishedVerifyData(crypto, early.hash, early.binderKey('res'), hash);
  if (!constantTimeEqual(expected, psks.binders[resumption.index]!)) throw new TlsAlertError('decrypt_error', 'PSK binder does not verify');
}

function helloRetryCookie(config: ServerConfig, clientHello1: Buffer, hash: SuiteInfo['hash']): Buffer {
  return config.provider.hmac('sha256', config.cookieSecret, Buffer.concat([Buffer.from(hash, 'latin1'), clientHello1]));
}

/** The server starts here: the first ClientHello. */
export class ExpectClientHello extends StateBase {
  readonly name = 'ExpectClientHello';

  constructor(private readonly ctx: HandshakeContext, private readonly config: ServerConfig) {
    super();
  }

  protected process(message: HandshakeMessage): HandshakeState {
    requireMessage(message, HandshakeType.client_hello, this.name);
    const offer = readClientOffer(message);
    // §4.2.2: a cookie in the first ClientHello is one we never sent.
    if (offer.cookie !== undefined) throw new TlsAlertError('illegal_parameter', 'cookie in the first ClientHello');
    const suite = chooseSuite(this.config, offer);
    const choice = chooseGroup(this.config, offer);
    if ('retryGroup' in choice) return this.retry(offer, suite, choice.retryGroup);
    return negotiate(this.ctx, this.config, offer, suite, choice.share, undefined);
  }

  /** §4.1.4: ask for a share in the group we chose. */
  private retry(offer: ClientOffer, suite: SuiteInfo, group: number): HandshakeState {
    const transcript = Transcript.afterRetry(this.ctx.provider, suite.hash, offer.raw);
    const cookie = helloRetryCookie(this.config, offer.raw, suite.hash);
    const hrr = encodeServerHello({
      random: HELLO_RETRY_REQUEST_RANDOM,
      legacySessionIdEcho: offer.hello.legacySessionId,
      cipherSuite: suite.id,
      extensions: [
        { type: ExtensionType.supported_versions, data: encodeU16(ProtocolVersion.TLS13) },
        { type: ExtensionType.key_share, data: encodeU16(group) },
        { type: ExtensionType.cookie, data: encodeOpaque16(cookie) },
      ],
    });
    transcript.add(this.ctx.sendHandshake(HandshakeType.server_hello, hrr));
    // §D.4: the compatibility CCS follows our first handshake message.
    if (offer.hello.legacySessionId.length > 0) this.ctx.sendChangeCipherSpec();
    // §4.2.10: 0-RTT records sent before the retry are skipped, undecrypted.
    if (offer.hasEarlyData) this.ctx.skipEarlyData('plaintext');
    return new ExpectSecondClientHello(this.ctx, this.config, offer, suite, group, cookie, transcript);
  }
}

/** The key share to use, or the group a HelloRetryRequest asks for. */
type GroupChoice = { readonly share: KeyShareEntry } | { readonly retryGroup: number };

/**
 * Picks the key-exchange group (RFC 8446 §4.2.7, §4.2.8, §4.1.4). The fast
 * groups (X25519, P-256) come first: a client share for one is taken, and a
 * client that lists one but sent its share elsewhere is asked for it with a
 * HelloRetryRequest, so an unauthenticated peer cannot make us pay for
 * P-521 or FFDHE when it could have had X25519. Only when the client shares
 * none of the fast groups with us do we take (or ask for) a costlier one,
 * in our order of preference.
 */
function chooseGroup(config: ServerConfig, offer: ClientOffer): GroupChoice {
  const mutual = config.groups.filter((g) => offer.groups.includes(g));
  const fast = mutual.filter((g) => FAST_GROUPS.has(g));
  const tier = fast.length > 0 ? fast : mutual;
  for (const group of tier) {
    const share = offer.keyShares.find((s) => s.group === group);
    if (share !== undefined) return { share };
  }
  const [retryGroup] = tier;
  // §4.2.7: nothing in common is handshake_failure.
  if (retryGroup === undefined) throw new TlsAlertError('handshake_failure', 'no key-exchange group in common');
  return { retryGroup };
}

/** After a HelloRetryRequest: the second ClientHello, checked against the first (§4.1.2). */
class ExpectSecondClientHello extends StateBase {
  readonly name = 'ExpectSecondClientHello';

  constructor(
    private readonly ctx: HandshakeContext,
    private readonly config: ServerConfig,
    private readonly first: ClientOffer,
    private readonly suite: SuiteInfo,
    private readonly group: number,
    private readonly cookie: Buffer,
    private readonly transcript: Transcript,
  ) {
    super();
  }

  protected process(message: HandshakeMessage): HandshakeState {
    requireMessage(message, HandshakeType.client_hello, this.name);
    this.ctx.skipEarlyData('none');
    const offer = readClientOffer(message);
    checkRetryConsistent(this.first, offer);
    // §4.2.2: the cookie must come back unchanged.
    if (offer.cookie === undefined || !constantTimeEqual(offer.cookie, this.cookie)) throw new TlsAlertError('illegal_parameter', 'cookie missing or altered');
    // §4.1.4: the client must now use the suite and group we named.
    if (!offer.hello.cipherSuites.includes(this.suite.id)) throw new TlsAlertError('illegal_parameter', 'second ClientHello drops the chosen suite');
    if (offer.keyShares.length !== 1 || offer.keyShares[0]!.group !== this.group) {
      throw new TlsAlertError('illegal_parameter', 'second ClientHello lacks exactly one share for the requested group');
    }
    // §4.2.10: a client MUST NOT offer early data after a HelloRetryRequest.
    if (offer.hasEarlyData) throw new TlsAlertError('illegal_parameter', 'early_data after HelloRetryRequest');
    return negotiate(this.ctx, this.config, offer, this.suite, offer.keyShares[0]!, this.transcript);
  }
}

/** Extensions the second ClientHello may change (RFC 8446 §4.1.2). */
const RETRY_MUTABLE = new Set<number>([ExtensionType.key_share, ExtensionType.cookie, ExtensionType.early_data, ExtensionType.pre_shared_key, ExtensionType.padding]);

function checkRetryConsistent(first: ClientOffer, second: ClientOffer): void {
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
  if (x.length !== y.length || x.some((e, i) => e.type !== y[i]!.type || !e.data.equals(y[i]!.data))) {
    throw new TlsAlertError('illegal_parameter', 'second ClientHello changes its extensions');
  }
}

/** ServerHello through our Finished (RFC 8446 §2, Figure 1): the Go-style list of steps. */
function negotiate(
  ctx: HandshakeContext,
  config: ServerConfig,
  offer: ClientOffer,
  suite: SuiteInfo,
  share: KeyShareEntry,
  transcriptAfterRetry: Transcript | undefined,
): HandshakeState {
  const alpn = chooseAlpn(config, offer);
  const resumption = findResumption(config, offer, suite);
  const early = new EarlySecret(ctx.provider, suite.hash, resumption?.psk);
  if (resumption !== undefined) verifyBinder(ctx.provider, early, transcriptAfterRetry, offer, resumption);
  const signatureScheme = resumption === undefined ? chooseSignatureScheme(config, offer) : undefined;
  // Only a full handshake carries a Certificate to staple; a server without stapling leaves status_request unread (§4.2).
  const stapler = resumption !== undefined || config.ocspResponse === undefined || !isOcspRequested(offer) ? undefined : config.ocspResponse;

  const transcript = transcriptAfterRetry ?? new Transcript(ctx.provider, suite.hash);
  transcript.add(offer.raw);

  const exchange = ctx.provider.generateKeyExchange(share.group);
  const sharedSecret = exchange.computeSharedSecret(share.keyExchange);
  const extensions: RawExtension[] = [
    { type: ExtensionType.supported_versions, data: encodeU16(ProtocolVersion.TLS13) },
    { type: ExtensionType.key_share, data: encodeServerKeyShare({ group: share.group, keyExchange: exchange.publicKey }) },
  ];
  if (resumption !== undefined) extensions.push({ type: ExtensionType.pre_shared_key, data: encodeU16(resumption.index) });
  const serverHello = encodeServerHello({
    random: ctx.provider.randomBytes(32),
    legacySessionIdEcho: offer.hello.legacySessionId,
    cipherSuite: suite.id,
    extensions,
  });
  transcript.add(ctx.sendHandshake(HandshakeType.server_hello, serverHello));
  if (transcriptAfterRetry === undefined && offer.hello.legacySessionId.length > 0) ctx.sendChangeCipherSpec();

  const handshakeSecret = early.toHandshakeSecret(sharedSecret);
  const helloHash = transcript.current();
  const clientHandshakeSecret = handshakeSecret.clientHandshakeTrafficSecret(helloHash);
  const serverHandshakeSecret = handshakeSecret.serverHandshakeTrafficSecret(helloHash);
  ctx.logSecret('CLIENT_HANDSHAKE_TRAFFIC_SECRET', offer.hello.random, clientHandshakeSecret);
  ctx.logSecret('SERVER_HANDSHAKE_TRAFFIC_SECRET', offer.hello.random, serverHandshakeSecret);
  ctx.setWriteKey(suite, serverHandshakeSecret);
  ctx.setReadKey(suite, clientHandshakeSecret);
  // §4.2.10: we never accept 0-RTT; skip what fails to open under the handshake key.
  if (offer.hasEarlyData) ctx.skipEarlyData('protected');

  const ee: RawExtension[] = [];
  if (alpn !== false) ee.push({ type: ExtensionType.application_layer_protocol_negotiation, data: encodeAlpn([alpn]) });
  // RFC 6066 §3: an empty server_name acknowledges that we used the name.
  if (offer.servername !== undefined) ee.push({ type: ExtensionType.server_name, data: Buffer.alloc(0) });
  transcript.add(ctx.sendHandshake(HandshakeType.encrypted_extensions, encodeEncryptedExtensions(ee)));

  const isCertificateRequested = resumption === undefined && config.clientAuth !== 'none';
  if (resumption === undefined) {
    if (isCertificateRequested) transcript.add(ctx.sendHandshake(HandshakeType.certificate_request, certificateRequestBody(config)));
    const certificate = encodeCertificate({ requestContext: Buffer.alloc(0), entries: certificateEntries(config.certChain, stapler) });
    transcript.add(ctx.sendHandshake(HandshakeType.certificate, certificate));
    const signature = ctx.provider.sign(signatureScheme!, config.privateKey!, certificateVerifyContent('server', transcript.current()));
    transcript.add(ctx.sendHandshake(HandshakeType.certificate_verify, encodeCertificateVerify({ algorithm: signatureScheme!, signature })));
  }

  const serverFinished = finishedVerifyData(ctx.provider, suite.hash, serverHandshakeSecret, transcript.current());
  transcript.add(ctx.sendHandshake(HandshakeType.finished, serverFinished));
  const master = handshakeSecret.toMasterSecret();
  const finishedHash = transcript.current();
  const clientAppSecret = master.clientApplicationTrafficSecret(finishedHash);
  const serverAppSecret = master.serverApplicationTrafficSecret(finishedHash);
  ctx.logSecret('CLIENT_TRAFFIC_SECRET_0', offer.hello.random, clientAppSecret);
  ctx.logSecret('SERVER_TRAFFIC_SECRET_0', offer.hello.random, serverAppSecret);
  ctx.logSecret('EXPORTER_SECRET', offer.hello.random, () => master.exporterMasterSecret(finishedHash));
  ctx.setWriteKey(suite, serverAppSecret);

  const flight: ClientFlight = {
    ctx,
    config,
    suite,
    group: share.group,
    alpn,
    servername: offer.servername,
    transcript,
    handshakeSecret,
    master,
    clientHandshakeSecret,
    clientAppSecret,
    isResumed: resumption !== undefined,
    resumedChain: resumption?.peerChain,
    canIssueTickets: offer.pskModes.includes(PskKeyExchangeMode.psk_dhe_ke),
  };
  if (resumption !== undefined) {
    // A resumed connection carries the original identity, checked again now (revocation may have happened since).
    flight.peer = reverifyResumedPeer(config, resumption.peerChain);
  }
  return isCertificateRequested ? new ExpectCertificate(flight) : new ExpectFinished(flight);
}

/** §4.4.2: our chain, leaf first; §4.4.2.1: a staple in the leaf's entry when the client asked and the caller has one. */
function certificateEntries(chain: readonly Buffer[], stapler: (() => Uint8Array | undefined) | undefined): CertificateEntry[] {
  const entries: CertificateEntry[] = chain.map((certData) => ({ certData, extensions: [] }));
  if (stapler === undefined) return entries;
  const staple = callOcspResponse(stapler);
  if (staple === undefined || staple.length === 0) return entries;
  const extensions = [{ type: ExtensionType.status_request, data: encodeCertificateStatus({ ocspResponse: staple }) }];
  entries[0] = { certData: entries[0]!.certData, extensions };
  return entries;
}

/** RFC 6066 §8: status_request for ocsp; another status_type is not ours to answer. A malformed one is decode_error. */
function isOcspRequested(offer: ClientOffer): boolean {
  const data = findExtension(offer.hello.extensions, ExtensionType.status_request);
  return data !== undefined && decodeCertificateStatusRequest(data).statusType === CertificateStatusType.ocsp;
}

/** The caller's staple; a throw or a response too large for an extension is our side's fault: internal_error. */
function callOcspResponse(ocspResponse: () => Uint8Array | undefined): Uint8Array | undefined {
  let staple: Uint8Array | undefined;
  try {
    staple = ocspResponse();
  } catch (err) {
    throw new TlsAlertError('internal_error', `ocspResponse failed: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
  }
  if (staple !== undefined && staple.length > MAX_STAPLED_OCSP_RESPONSE) {
    throw new TlsAlertError('internal_error', `OCSP response of ${staple.length} bytes is over the ${MAX_STAPLED_OCSP_RESPONSE} a CertificateEntry can carry`);
  }
  return staple;
}

function certificateRequestBody(config: ServerConfig): Buffer {
  const extensions: RawExtension[] = [{ type: ExtensionType.signature_algorithms, data: encodeU16List(VERIFY_SCHEMES) }];
  if (config.certificateAuthorities.length > 0) {
    extensions.push({ type: ExtensionType.certificate_authorities, data: encodeCertificateAuthorities(config.certificateAuthorities) });
  }
  return encodeCertificateRequest({ requestContext: Buffer.alloc(0), extensions });
}

function reverifyResumedPeer(config: ServerConfig, chain: readonly Buffer[]): PeerCertificates | undefined {
  if (chain.length === 0) {
    if (config.clientAuth === 'require') throw new TlsAlertError('certificate_required', 'resumed session has no client certificate');
    return undefined;
  }
  const verified = config.verifier!.verify(chain, { role: 'client' });
  runPeerPolicy(config.verifyPeer, verified.peer);
  return verified.peer;
}

/** What the server carries from its flight to the client's. */
interface ClientFlight {
  readonly ctx: HandshakeContext;
  readonly config: ServerConfig;
  readonly suite: SuiteInfo;
  readonly group: number;
  readonly alpn: string | false;
  readonly servername: string | undefined;
  readonly transcript: Transcript;
  readonly handshakeSecret: HandshakeSecret;
  readonly master: MasterSecret;
  readonly clientHandshakeSecret: Buffer;
  readonly clientAppSecret: Buffer;
  readonly isResumed: boolean;
  readonly resumedChain: readonly Buffer[] | undefined;
  readonly canIssueTickets: boolean;
  peer?: PeerCertificates | undefined;
  verified?: VerifiedChain | undefined;
}

const NO_EXTENSIONS: ReadonlySet<number> = new Set();

/** §4.4.2: the client's Certificate, answering our CertificateRequest. */
class ExpectCertificate extends StateBase {
  readonly name = 'ExpectCertificate';

  constructor(private readonly flight: ClientFlight) {
    super();
  }

  protected process(message: HandshakeMessage): HandshakeState {
    requireMessage(message, HandshakeType.certificate, this.name);
    const f = this.flight;
    const certificate = decodeCertificate(message.body);
    // §4.4.2: the context echoes CertificateRequest's, which was empty.
    if (certificate.requestContext.length !== 0) throw new TlsAlertError('illegal_parameter', 'certificate_request_context is not empty');
    // §4.4.2: entry extensions must answer ones in our CertificateRequest, which asked for none of them.
    for (const entry of certificate.entries) checkExtensionsAllowed(entry.extensions, 'certificate', NO_EXTENSIONS);
    f.transcript.add(message.raw);
    if (certificate.entries.length === 0) {
      // §4.4.2.4: a server that requires a certificate answers an empty one with certificate_required.
      if (f.config.clientAuth === 'require') throw new TlsAlertError('certificate_required', 'client sent no certificate');
      return new ExpectFinished(f);
    }
    f.verified = f.config.verifier!.verify(
      certificate.entries.map((e) => e.certData),
      { role: 'client' },
    );
    return new ExpectCertificateVerify(f);
  }
}

/** §4.4.3: proof that the client holds the certificate's key. */
class ExpectCertificateVerify extends StateBase {
  readonly name = 'ExpectCertificateVerify';

  constructor(private readonly flight: ClientFlight) {
    super();
  }

  protected process(message: HandshakeMessage): HandshakeState {
    requireMessage(message, HandshakeType.certificate_verify, this.name);
    const f = this.flight;
    const verify = decodeCertificateVerify(message.body);
    const verified = f.verified!;
    verifyPeerSignature(f.ctx.provider, VERIFY_SCHEMES, verify, verified.leafPublicKey, certificateVerifyContent('client', f.transcript.current()));
    f.transcript.add(message.raw);
    runPeerPolicy(f.config.verifyPeer, verified.peer);
    f.peer = verified.peer;
    return new ExpectFinished(f);
  }
}

/** §4.4.4: the client's Finished; then the connection is up and tickets go out. */
class ExpectFinished extends StateBase {
  readonly name = 'ExpectFinished';

  constructor(private readonly flight: ClientFlight) {
    super();
  }

  protected process(message: HandshakeMessage): HandshakeState {
    requireMessage(message, HandshakeType.finished, this.name);
    const f = this.flight;
    verifyPeerFinished(f.ctx.provider, message.body, f.suite, f.clientHandshakeSecret, f.transcript.current(), 'client');
    f.transcript.add(message.raw);
    f.ctx.setReadKey(f.suite, f.clientAppSecret);
    const resumptionMasterSecret = f.master.resumptionMasterSecret(f.transcript.current());
    const result: HandshakeResult = {
      suite: f.suite,
      group: f.group,
      alpnProtocol: f.alpn,
      servername: f.servername,
      peer: f.peer,
      isResumed: f.isResumed,
      ocspResponse: undefined,
      resumptionMasterSecret,
    };
    if (f.config.tickets !== undefined && f.canIssueTickets) sendTicket(f, resumptionMasterSecret);
    f.ctx.complete(result);
    return new HandshakeDone();
  }
}

/** One NewSessionTicket (RFC 8446 §4.6.1); lifetime never past the client certificate's notAfter. */
function sendTicket(f: ClientFlight, resumptionMasterSecret: Buffer): void {
  const config = f.config;
  const now = config.now();
  let lifetime = config.ticketLifetimeSeconds;
  const leaf = f.peer?.leaf;
  if (leaf !== undefined) lifetime = Math.min(lifetime, Math.floor((leaf.notAfter.getTime() - now) / 1000));
  if (lifetime <= 0) return;
  const nonce = config.provider.randomBytes(8);
  const ageAdd = config.provider.randomBytes(4).readUInt32BE(0);
  const psk = resumptionPsk(config.provider, f.suite.hash, resumptionMasterSecret, nonce);
  const state = encodeServerSessionState({
    suite: f.suite.id,
    psk,
    createdAt: now,
    ageAdd,
    lifetimeSeconds: lifetime,
    alpn: f.alpn === false ? '' : f.alpn,
    servername: f.servername ?? '',
    // Encoded straight from the parsed certificates' bytes: the encoder copies them into the ticket.
    peerChain: f.peer?.chain.slice(0, -1).map((c) => asBuffer(c.raw)) ?? [],
  });
  const ticket = config.tickets!.seal(state);
  f.ctx.sendHandshake(HandshakeType.new_session_ticket, encodeNewSessionTicket({ lifetimeSeconds: lifetime, ageAdd, nonce, ticket, extensions: [] }));
}
