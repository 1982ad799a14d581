import { TlsAlertError } from '../alert.js';
import type { ClientConfig } from '../config.js';
import { CertificateStatusType, ExtensionType, HandshakeType, ProtocolVersion, PskKeyExchangeMode } from '../codec/enums.js';
import {
  checkExtensionsAllowed,
  decodeAlpn,
  decodeCertificateStatus,
  decodeOpaque16,
  decodeServerKeyShare,
  decodeU16,
  decodeU16List,
  encodeAlpn,
  encodeCertificateStatusRequest,
  encodeClientKeyShares,
  encodeOfferedPsks,
  encodeOpaque16,
  encodeServerName,
  encodeU16List,
  findExtension,
  type RawExtension,
} from '../codec/extensions.js';
import { frameHandshake, type HandshakeMessage } from '../codec/handshake-frame.js';
import { decodeCertificate, encodeCertificate, type CertificateEntry } from '../codec/messages/certificate.js';
import { decodeCertificateRequest } from '../codec/messages/certificate-request.js';
import { decodeCertificateVerify, encodeCertificateVerify } from '../codec/messages/certificate-verify.js';
import { encodeClientHello } from '../codec/messages/client-hello.js';
import { decodeEncryptedExtensions } from '../codec/messages/encrypted-extensions.js';
import { decodeNewSessionTicket } from '../codec/messages/new-session-ticket.js';
import { decodeServerHello, DOWNGRADE_TLS11, DOWNGRADE_TLS12, isHelloRetryRequest, type ServerHello } from '../codec/messages/server-hello.js';
import type { KeyExchange } from '../crypto/provider.js';
import { CERT_SCHEMES, certificateVerifyContent, VERIFY_SCHEMES } from '../crypto/signatures.js';
import { suiteInfo, type SuiteInfo } from '../crypto/suites.js';
import { EarlySecret, finishedVerifyData, resumptionPsk, type HandshakeSecret } from '../keyschedule/stages.js';
import { Transcript } from '../keyschedule/transcript.js';
import type { PeerCertificates } from '../options.js';
import type { ClientSession } from '../tickets.js';
import type { VerifiedChain } from '../peer-verifier.js';
import { describeChain, runPeerPolicy, runStaplePolicy, verifyPeerFinished, verifyPeerSignature } from './peer.js';
import { HandshakeDone, requireMessage, StateBase, type HandshakeContext, type HandshakeResult, type HandshakeState } from './state.js';

/** What the client offered, kept to check the server's answers against. */
interface ClientOfferState {
  readonly ctx: HandshakeContext;
  readonly config: ClientConfig;
  readonly random: Buffer;
  readonly sessionId: Buffer;
  readonly offeredExtensions: ReadonlySet<number>;
  readonly keyShares: readonly KeyExchange[];
  readonly session: ClientSession | undefined;
  readonly helloRaw: Buffer;
  readonly retried: boolean;
  readonly retrySuite: number | undefined;
}

/** Everything after ServerHello. */
interface ClientHandshake {
  readonly offer: ClientOfferState;
  readonly suite: SuiteInfo;
  readonly group: number;
  readonly transcript: Transcript;
  readonly handshakeSecret: HandshakeSecret;
  readonly clientHandshakeSecret: Buffer;
  readonly serverHandshakeSecret: Buffer;
  readonly isResumed: boolean;
  alpn: string | false;
  certificateRequest?: { readonly schemes: readonly number[] } | undefined;
  verified?: VerifiedChain | undefined;
  peer?: PeerCertificates | undefined;
  ocspResponse?: Buffer | undefined;
}

/** status_request asking for ocsp, naming no responders and no request extensions (RFC 6066 §8). */
const OCSP_STATUS_REQUEST = encodeCertificateStatusRequest({ statusType: CertificateStatusType.ocsp, responderIds: [], requestExtensions: Buffer.alloc(0) });

/** A ClientHello whose binder, when it offers a ticket, is still zeros: fillBinder() writes it. */
function buildClientHello(
  offer: Omit<ClientOfferState, 'helloRaw' | 'offeredExtensions'>,
  cookie: Buffer | undefined,
): { raw: Buffer; extensions: ReadonlySet<number> } {
  const config = offer.config;
  const extensions: RawExtension[] = [];
  if (config.servername !== undefined) extensions.push({ type: ExtensionType.server_name, data: encodeServerName(config.servername) });
  if (config.requestOcspStaple) extensions.push({ type: ExtensionType.status_request, data: OCSP_STATUS_REQUEST });
  extensions.push({ type: ExtensionType.supported_versions, data: Buffer.of(2, 0x03, 0x04) });
  extensions.push({ type: ExtensionType.supported_groups, data: encodeU16List(config.groups) });
  extensions.push({ type: ExtensionType.key_share, data: encodeClientKeyShares(offer.keyShares.map((k) => ({ group: k.group, keyExchange: k.publicKey }))) });
  extensions.push({ type: ExtensionType.signature_algorithms, data: encodeU16List(VERIFY_SCHEMES) });
  extensions.push({ type: ExtensionType.signature_algorithms_cert, data: encodeU16List(CERT_SCHEMES) });
  if (config.alpnProtocols.length > 0) extensions.push({ type: ExtensionType.application_layer_protocol_negotiation, data: encodeAlpn(config.alpnProtocols) });
  if (cookie !== undefined) extensions.push({ type: ExtensionType.cookie, data: encodeOpaque16(cookie) });
  extensions.push({ type: ExtensionType.psk_key_exchange_modes, data: Buffer.of(1, PskKeyExchangeMode.psk_dhe_ke) });
  const session = offer.session;
  const suites = offer.retrySuite !== undefined ? config.suites : config.suites;
  let pskHash: SuiteInfo['hash'] | undefined;
  if (session !== undefined) {
    pskHash = suiteInfo(session.suite)?.hash;
    const age = Math.max(0, config.now() - session.receivedAt);
    const identity = { identity: session.ticket, obfuscatedTicketAge: (age + session.ageAdd) >>> 0 };
    const hashLength = pskHash === 'sha384' ? 48 : 32;
    // Binders are filled in below, over the hello with placeholder binders of the right size.
    extensions.push({ type: ExtensionType.pre_shared_key, data: encodeOfferedPsks([identity], [Buffer.alloc(hashLength)]) });
  }
  const body = encodeClientHello({
    legacyVersion: 0x0303,
    random: offer.random,
    legacySessionId: offer.sessionId,
    cipherSuites: suites,
    legacyCompressionMethods: Buffer.of(0),
    extensions,
  });
  const raw = frameHandshake(HandshakeType.client_hello, body);
  return { raw, extensions: new Set(extensions.map((e) => e.type)) };
}

/** §4.2.11.2: the binder over the transcript up to (not including) the binders list, written over the placeholder at the end. */
function fillBinder(ctx: HandshakeContext, raw: Buffer, session: ClientSession, transcriptBefore: Transcript | undefined): void {
  const pskHash = suiteInfo(session.suite)?.hash;
  if (pskHash === undefined) return;
  const hashLength = pskHash === 'sha384' ? 48 : 32;
  const bindersLength = 2 + 1 + hashLength;
  const truncated = raw.subarray(0, raw.length - bindersLength);
  const crypto = ctx.provider;
  const early = new EarlySecret(crypto, pskHash, session.psk);
  const hash = (transcriptBefore ?? new Transcript(crypto, pskHash)).hashWith(truncated);
  const binder = finishedVerifyData(crypto, pskHash, early.binderKey('res'), hash);
  binder.copy(raw, raw.length - hashLength);
}

/** Usable session: not expired, and its suite still enabled. */
function usableSession(config: ClientConfig, session: ClientSession | undefined): ClientSession | undefined {
  if (session === undefined) return undefined;
  const ageMs = config.now() - session.receivedAt;
  if (ageMs < 0 || ageMs > session.lifetimeSeconds * 1000) return undefined;
  if (!config.suites.includes(session.suite)) return undefined;
  if (session.servername !== (config.servername ?? '')) return undefined;
  return session;
}

/** Starts a client handshake: sends ClientHello and returns the state awaiting ServerHello. */
export function startClientHandshake(
  ctx: HandshakeContext,
  config: ClientConfig,
  session: ClientSession | undefined,
): HandshakeState {
  const random = ctx.provider.randomBytes(32);
  // One share, for our first group; a server wanting another asks with HelloRetryRequest.
  const keyShares = [ctx.provider.generateKeyExchange(config.groups[0]!)];
  const base = {
    ctx,
    config,
    random,
    sessionId: ctx.provider.randomBytes(32),
    keyShares,
    session: usableSession(config, session),
    retried: false,
    retrySuite: undefined,
  };
  const hello = buildClientHello(base, undefined);
  return sendFirstClientHello(ctx, config, { ...base, helloRaw: hello.raw, offeredExtensions: hello.extensions });
}

/** A first ClientHello (its binder, if it offers a ticket, still zeros) and the secrets behind it. */
export type FirstClientHello = Pick<ClientOfferState, 'random' | 'sessionId' | 'keyShares' | 'session' | 'helloRaw' | 'offeredExtensions'>;

/**
 * Sends a first ClientHello and waits for the ServerHello. The normal start
 * goes through here; a replay starts here with a recorded ClientHello
 * (RFC 8448) and the keys and ticket behind it.
 */
export function sendFirstClientHello(ctx: HandshakeContext, config: ClientConfig, hello: FirstClientHello): HandshakeState {
  if (hello.session !== undefined) fillBinder(ctx, hello.helloRaw, hello.session, undefined);
  ctx.sendHandshake(HandshakeType.client_hello, hello.helloRaw.subarray(4));
  return new ExpectServerHello({ ...hello, ctx, config, retried: false, retrySuite: undefined });
}

class ExpectServerHello extends StateBase {
  readonly name = 'ExpectServerHello';

  constructor(private readonly offer: ClientOfferState, private readonly transcriptAfterRetry?: Transcript) {
    super();
  }

  protected process(message: HandshakeMessage): HandshakeState {
    requireMessage(message, HandshakeType.server_hello, this.name);
    const offer = this.offer;
    const hello = decodeServerHello(message.body);
    checkVersion(hello);
    // §4.1.3: the echo must be our own session id.
    if (!hello.legacySessionIdEcho.equals(offer.sessionId)) throw new TlsAlertError('illegal_parameter', 'legacy_session_id_echo differs');
    // §4.1.3: a suite we did not offer is illegal_parameter; after HRR it must not change (§4.1.4).
    if (!offer.config.suites.includes(hello.cipherSuite)) throw new TlsAlertError('illegal_parameter', 'server chose a suite we did not offer');
    if (offer.retrySuite !== undefined && hello.cipherSuite !== offer.retrySuite) throw new TlsAlertError('illegal_parameter', 'suite changed after HelloRetryRequest');
    const suite = suiteInfo(hello.cipherSuite)!;
    if (isHelloRetryRequest(hello)) return this.retry(hello, message, suite);
    checkExtensionsAllowed(hello.extensions, 'server_hello', offer.offeredExtensions);
    const shareData = findExtension(hello.extensions, ExtensionType.key_share);
    if (shareData === undefined) throw new TlsAlertError('missing_extension', 'ServerHello without key_share');
    const share = decodeServerKeyShare(shareData);
    const exchange = offer.keyShares.find((k) => k.group === share.group);
    if (exchange === undefined) throw new TlsAlertError('illegal_parameter', 'server share for a group we did not send');
    const sharedSecret = exchange.computeSharedSecret(share.keyExchange);

    let psk: Buffer | undefined;
    const pskData = findExtension(hello.extensions, ExtensionType.pre_shared_key);
    if (pskData !== undefined) {
      const selected = decodeU16(pskData, 'selected_identity');
      const session = offer.session;
      // §4.2.11: the index must be one we offered, and the PSK's hash must match the suite.
      if (session === undefined || selected !== 0) throw new TlsAlertError('illegal_parameter', 'server selected a PSK we did not offer');
      if (suiteInfo(session.suite)!.hash !== suite.hash) throw new TlsAlertError('illegal_parameter', 'PSK hash differs from the suite hash');
      psk = session.psk;
    }

    const transcript = this.transcriptAfterRetry ?? new Transcript(offer.ctx.provider, suite.hash);
    transcript.add(offer.helloRaw);
    transcript.add(message.raw);
    const handshakeSecret = new EarlySecret(offer.ctx.provider, suite.hash, psk).toHandshakeSecret(sharedSecret);
    const helloHash = transcript.current();
    const clientHandshakeSecret = handshakeSecret.clientHandshakeTrafficSecret(helloHash);
    const serverHandshakeSecret = handshakeSecret.serverHandshakeTrafficSecret(helloHash);
    offer.ctx.logSecret('CLIENT_HANDSHAKE_TRAFFIC_SECRET', offer.random, clientHandshakeSecret);
    offer.ctx.logSecret('SERVER_HANDSHAKE_TRAFFIC_SECRET', offer.random, serverHandshakeSecret);
    offer.ctx.setReadKey(suite, serverHandshakeSecret);
    return new ExpectEncryptedExtensions({
      offer,
      suite,
      group: share.group,
      transcript,
      handshakeSecret,
      clientHandshakeSecret,
      serverHandshakeSecret,
      isResumed: psk !== undefined,
      alpn: false,
    });
  }

  /** §4.1.4: answer a HelloRetryRequest with a second ClientHello. */
  private retry(hrr: ServerHello, message: HandshakeMessage, suite: SuiteInfo): HandshakeState {
    const offer = this.offer;
    // §4.1.4: a second HelloRetryRequest is unexpected_message.
    if (offer.retried) throw new TlsAlertError('unexpected_message', 'second HelloRetryRequest');
    checkExtensionsAllowed(hrr.extensions, 'hello_retry_request', offer.offeredExtensions);
    const groupData = findExtension(hrr.extensions, ExtensionType.key_share);
    const cookieData = findExtension(hrr.extensions, ExtensionType.cookie);
    // §4.1.4: an HRR that would not change the ClientHello is illegal_parameter.
    if (groupData === undefined && cookieData === undefined) throw new TlsAlertError('illegal_parameter', 'HelloRetryRequest changes nothing');
    let keyShares = offer.keyShares;
    if (groupData !== undefined) {
      const group = decodeU16(groupData, 'selected_group');
      if (!offer.config.groups.includes(group) || offer.keyShares.some((k) => k.group === group)) {
        throw new TlsAlertError('illegal_parameter', 'HelloRetryRequest names a group we did not offer or already sent');
      }
      keyShares = [offer.ctx.provider.generateKeyExchange(group)];
    }
    const cookie = cookieData === undefined ? undefined : decodeOpaque16(cookieData, 'cookie');
    const transcript = Transcript.afterRetry(offer.ctx.provider, suite.hash, offer.helloRaw);
    transcript.add(message.raw);
    // A session for another hash cannot be offered again (§4.1.4).
    const session = offer.session !== undefined && suiteInfo(offer.session.suite)!.hash === suite.hash ? offer.session : undefined;
    const next = { ...offer, keyShares, session, retried: true, retrySuite: suite.id };
    const hello = buildClientHello(next, cookie);
    if (session !== undefined) fillBinder(offer.ctx, hello.raw, session, transcript);
    offer.ctx.sendChangeCipherSpec();
    offer.ctx.sendHandshake(HandshakeType.client_hello, hello.raw.subarray(4));
    return new ExpectServerHello({ ...next, helloRaw: hello.raw, offeredExtensions: hello.extensions }, transcript);
  }
}

/** §4.1.3: a TLS 1.3 server names 1.3 in supported_versions; without it, check the downgrade sentinels. */
function checkVersion(hello: ServerHello): void {
  const versionData = findExtension(hello.extensions, ExtensionType.supported_versions);
  if (versionData === undefined) {
    const tail = hello.random.subarray(24);
    if (tail.equals(DOWNGRADE_TLS12) || tail.equals(DOWNGRADE_TLS11)) throw new TlsAlertError('illegal_parameter', 'downgrade sentinel in ServerHello.random');
    throw new TlsAlertError('protocol_version', 'server does not speak TLS 1.3');
  }
  if (decodeU16(versionData, 'selected_version') !== ProtocolVersion.TLS13) throw new TlsAlertError('illegal_parameter', 'server selected a version we did not offer');
}

class ExpectEncryptedExtensions extends StateBase {
  readonly name = 'ExpectEncryptedExtensions';

  constructor(private readonly hs: ClientHandshake) {
    super();
  }

  protected process(message: HandshakeMessage): HandshakeState {
    requireMessage(message, HandshakeType.encrypted_extensions, this.name);
    const hs = this.hs;
    const extensions = decodeEncryptedExtensions(message.body);
    checkExtensionsAllowed(extensions, 'encrypted_extensions', hs.offer.offeredExtensions);
    const alpnData = findExtension(extensions, ExtensionType.application_layer_protocol_negotiation);
    if (alpnData !== undefined) {
      const protocols = decodeAlpn(alpnData);
      // RFC 7301 §3.1: exactly one protocol, one we offered.
      if (protocols.length !== 1 || !hs.offer.config.alpnProtocols.includes(protocols[0]!)) {
        throw new TlsAlertError('illegal_parameter', 'server chose an ALPN protocol we did not offer');
      }
      hs.alpn = protocols[0]!;
    }
    hs.transcript.add(message.raw);
    return hs.isResumed ? new ExpectFinished(hs) : new ExpectCertificateOrRequest(hs);
  }
}

class ExpectCertificateOrRequest extends StateBase {
  readonly name = 'ExpectCertificateOrCertificateRequest';

  constructor(private readonly hs: ClientHandshake) {
    super();
  }

  protected process(message: HandshakeMessage): HandshakeState {
    if (message.type === HandshakeType.certificate) return new ExpectCertificate(this.hs).handle(message);
    requireMessage(message, HandshakeType.certificate_request, this.name);
    const request = decodeCertificateRequest(message.body);
    // §4.3.2: empty context during the handshake.
    if (request.requestContext.length !== 0) throw new TlsAlertError('illegal_parameter', 'certificate_request_context is not empty');
    checkExtensionsAllowed(request.extensions, 'certificate_request');
    const algs = findExtension(request.extensions, ExtensionType.signature_algorithms);
    // §4.3.2: signature_algorithms MUST be present.
    if (algs === undefined) throw new TlsAlertError('missing_extension', 'CertificateRequest without signature_algorithms');
    this.hs.certificateRequest = { schemes: decodeU16List(algs, 'signature_algorithms', 2) };
    this.hs.transcript.add(message.raw);
    return new ExpectCertificate(this.hs);
  }
}

class ExpectCertificate extends StateBase {
  readonly name = 'ExpectCertificate';

  constructor(private readonly hs: ClientHandshake) {
    super();
  }

  protected process(message: HandshakeMessage): HandshakeState {
    requireMessage(message, HandshakeType.certificate, this.name);
    const hs = this.hs;
    const certificate = decodeCertificate(message.body);
    if (certificate.requestContext.length !== 0) throw new TlsAlertError('illegal_parameter', 'server certificate_request_context is not empty');
    for (const entry of certificate.entries) checkExtensionsAllowed(entry.extensions, 'certificate', hs.offer.offeredExtensions);
    // §4.4.2.4: an empty server Certificate is decode_error.
    if (certificate.entries.length === 0) throw new TlsAlertError('decode_error', 'server sent no certificate');
    const config = hs.offer.config;
    // Without our status_request, the check above already refused any staple.
    if (config.requestOcspStaple) hs.ocspResponse = readStaple(certificate.entries);
    const chain = certificate.entries.map((e) => e.certData);
    if (config.rejectUnauthorized) {
      const expect = config.expectedName === undefined ? { role: 'server' as const } : { role: 'server' as const, servername: config.expectedName };
      hs.verified = config.verifier!.verify(chain, expect);
    } else {
      hs.verified = describeChain(chain);
    }
    hs.transcript.add(message.raw);
    return new ExpectCertificateVerify(hs);
  }
}

/**
 * RFC 8446 §4.4.2.1: the server's OCSP response sits in the CertificateEntry
 * of the certificate it is about; we take the leaf's. A status_request on
 * another entry is checked for shape and not used.
 */
function readStaple(entries: readonly CertificateEntry[]): Buffer | undefined {
  let leafStaple: Buffer | undefined;
  for (const [index, entry] of entries.entries()) {
    const data = findExtension(entry.extensions, ExtensionType.status_request);
    if (data === undefined) continue;
    const status = decodeCertificateStatus(data);
    // A copy: the received record stays collectable while the socket keeps the staple.
    if (index === 0) leafStaple = Buffer.from(status.ocspResponse);
  }
  return leafStaple;
}

class ExpectCertificateVerify extends StateBase {
  readonly name = 'ExpectCertificateVerify';

  constructor(private readonly hs: ClientHandshake) {
    super();
  }

  protected process(message: HandshakeMessage): HandshakeState {
    requireMessage(message, HandshakeType.certificate_verify, this.name);
    const hs = this.hs;
    const verified = hs.verified!;
    verifyPeerSignature(hs.offer.ctx.provider, VERIFY_SCHEMES, decodeCertificateVerify(message.body), verified.leafPublicKey, certificateVerifyContent('server', hs.transcript.current()));
    hs.transcript.add(message.raw);
    const config = hs.offer.config;
    if (config.rejectUnauthorized) {
      runPeerPolicy(config.verifyPeer, verified.peer);
      runStaplePolicy(config.verifyOcspStaple, hs.ocspResponse, verified.peer);
    }
    hs.peer = verified.peer;
    return new ExpectFinished(hs);
  }
}

class ExpectFinished extends StateBase {
  readonly name = 'ExpectFinished';

  constructor(private readonly hs: ClientHandshake) {
    super();
  }

  protected process(message: HandshakeMessage): HandshakeState {
    requireMessage(message, HandshakeType.finished, this.name);
    const hs = this.hs;
    const { ctx, config } = hs.offer;
    verifyPeerFinished(ctx.provider, message.body, hs.suite, hs.serverHandshakeSecret, hs.transcript.current(), 'server');
    hs.transcript.add(message.raw);

    const master = hs.handshakeSecret.toMasterSecret();
    const serverFinishedHash = hs.transcript.current();
    const clientAppSecret = master.clientApplicationTrafficSecret(serverFinishedHash);
    const serverAppSecret = master.serverApplicationTrafficSecret(serverFinishedHash);
    ctx.logSecret('CLIENT_TRAFFIC_SECRET_0', hs.offer.random, clientAppSecret);
    ctx.logSecret('SERVER_TRAFFIC_SECRET_0', hs.offer.random, serverAppSecret);
    ctx.logSecret('EXPORTER_SECRET', hs.offer.random, () => master.exporterMasterSecret(serverFinishedHash));
    ctx.setReadKey(hs.suite, serverAppSecret);

    // Our second flight, under the client handshake key (§4.4). The compatibility CCS goes first (§D.4).
    ctx.sendChangeCipherSpec();
    ctx.setWriteKey(hs.suite, hs.clientHandshakeSecret);
    if (hs.certificateRequest !== undefined) sendClientCertificate(hs);
    const finished = finishedVerifyData(ctx.provider, hs.suite.hash, hs.clientHandshakeSecret, hs.transcript.current());
    hs.transcript.add(ctx.sendHandshake(HandshakeType.finished, finished));
    ctx.setWriteKey(hs.suite, clientAppSecret);

    const peer = hs.isResumed ? resumedPeer(hs) : hs.peer;
    const result: HandshakeResult = {
      suite: hs.suite,
      group: hs.group,
      alpnProtocol: hs.alpn,
      servername: config.servername,
      peer,
      isResumed: hs.isResumed,
      ocspResponse: hs.ocspResponse,
      resumptionMasterSecret: master.resumptionMasterSecret(hs.transcript.current()),
    };
    ctx.complete(result);
    return new HandshakeDone();
  }
}

/** The server identity of a resumed connection is the one verified when the ticket was issued. */
function resumedPeer(hs: ClientHandshake): PeerCertificates | undefined {
  const chain = hs.offer.session?.peerChain ?? [];
  return chain.length === 0 ? undefined : describeChain(chain).peer;
}

/** §4.4.2: our chain if our key can sign with a scheme the server accepts; else an empty Certificate. */
function sendClientCertificate(hs: ClientHandshake): void {
  const { ctx, config } = hs.offer;
  const scheme = config.signSchemes.find((s) => hs.certificateRequest!.schemes.includes(s));
  const chain = scheme === undefined ? [] : config.certChain;
  const body = encodeCertificate({ requestContext: Buffer.alloc(0), entries: chain.map((certData) => ({ certData, extensions: [] })) });
  hs.transcript.add(ctx.sendHandshake(HandshakeType.certificate, body));
  if (scheme === undefined || chain.length === 0) return;
  const signature = ctx.provider.sign(scheme, config.privateKey!, certificateVerifyContent('client', hs.transcript.current()));
  hs.transcript.add(ctx.sendHandshake(HandshakeType.certificate_verify, encodeCertificateVerify({ algorithm: scheme, signature })));
}

/** Turns a NewSessionTicket into a session the application can store and offer later (§4.6.1). */
export function sessionFromTicket(
  message: HandshakeMessage,
  result: HandshakeResult,
  config: ClientConfig,
): ClientSession | undefined {
  const ticket = decodeNewSessionTicket(message.body);
  checkExtensionsAllowed(ticket.extensions, 'new_session_ticket');
  // §4.6.1: a lifetime of zero means "do not use"; over seven days is illegal.
  if (ticket.lifetimeSeconds > 7 * 24 * 3600) throw new TlsAlertError('illegal_parameter', 'ticket lifetime over seven days');
  if (ticket.lifetimeSeconds === 0) return undefined;
  return {
    suite: result.suite.id,
    ticket: ticket.ticket,
    psk: resumptionPsk(config.provider, result.suite.hash, result.resumptionMasterSecret, ticket.nonce),
    receivedAt: config.now(),
    lifetimeSeconds: ticket.lifetimeSeconds,
    ageAdd: ticket.ageAdd,
    servername: config.servername ?? '',
    alpn: result.alpnProtocol === false ? '' : result.alpnProtocol,
    peerChain: result.peer?.chain.map((c) => Buffer.from(c.raw)) ?? [],
  };
}
