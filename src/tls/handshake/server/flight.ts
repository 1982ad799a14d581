import { TlsAlertError } from '../../alert.js';
import type { ServerConfig } from '../../config.js';
import { ExtensionType, HandshakeType, ProtocolVersion } from '../../codec/enums.js';
import {
  encodeAlpn,
  encodeCertificateAuthorities,
  encodeCertificateStatus,
  encodeRecordSizeLimit,
  encodeServerKeyShare,
  encodeU16,
  encodeU16List,
  MAX_STAPLED_OCSP_RESPONSE,
  TLS13_RECORD_SIZE_LIMIT,
  type KeyShareEntry,
  type RawExtension,
} from '../../codec/extensions.js';
import { encodeCertificate, type CertificateEntry } from '../../codec/messages/certificate.js';
import { encodeCertificateRequest } from '../../codec/messages/certificate-request.js';
import { encodeCertificateVerify } from '../../codec/messages/certificate-verify.js';
import { encodeEncryptedExtensions } from '../../codec/messages/encrypted-extensions.js';
import { encodeServerHello } from '../../codec/messages/server-hello.js';
import type { CryptoProvider } from '../../crypto/provider.js';
import { certificateVerifyContent, VERIFY_SCHEMES } from '../../crypto/signatures.js';
import type { SuiteInfo } from '../../crypto/suites.js';
import { EarlySecret, finishedVerifyData, type HandshakeSecret, type MasterSecret } from '../../keyschedule/stages.js';
import { Transcript } from '../../keyschedule/transcript.js';
import type { HandshakeContext } from '../state.js';
import type { EarlyDataOutcome } from '../../early-data-channel.js';
import { EMPTY_EARLY_DATA } from '../../codec/early-data.js';
import { decideEarlyData } from './early-data.js';
import { verifyPskBinder, type BinderVerified } from '../peer.js';
import { chooseAlpn, chooseSigner, findResumption, isOcspRequested, type Resumption, type Signer } from './choose.js';
import type { ClientOffer } from './client-offer.js';

/** How the server proves itself in this handshake: a certificate and signature, or the resumed PSK. */
export type ServerAuth =
  | {
      readonly kind: 'certificate';
      readonly signer: Signer;
      /** The caller's OCSP staple source, when the client asked for one and the caller has it (RFC 6066 §8). */
      readonly stapler: (() => Uint8Array | undefined) | undefined;
      readonly requestsCertificate: boolean;
    }
  | { readonly kind: 'resumed'; readonly resumption: Resumption; readonly binder: BinderVerified };

/** Everything chosen from the ClientHello before the first byte of our flight. */
export interface FlightPlan {
  readonly ctx: HandshakeContext;
  readonly config: ServerConfig;
  readonly offer: ClientOffer;
  readonly suite: SuiteInfo;
  readonly share: KeyShareEntry;
  readonly alpn: string | false;
  readonly early: EarlySecret;
  readonly auth: ServerAuth;
  /** After a HelloRetryRequest: message_hash(ClientHello1) and the HRR (§4.4.1); undefined otherwise. */
  readonly transcriptAfterRetry: Transcript | undefined;
  /** What we do with the 0-RTT the client offered (§4.2.10); undefined when it offered none. */
  readonly earlyData: EarlyDataOutcome | undefined;
}

/** The handshake traffic secrets, from ServerHello to our Finished. */
interface HandshakeKeys {
  readonly transcript: Transcript;
  readonly handshakeSecret: HandshakeSecret;
  readonly clientHandshakeSecret: Buffer;
  readonly serverHandshakeSecret: Buffer;
}

/** What our flight leaves for the states that read the client's: the transcript and the client's keys. */
export interface FlightSent {
  readonly transcript: Transcript;
  readonly master: MasterSecret;
  /** The client's flight is read under this until its Finished verifies. */
  readonly clientHandshakeSecret: Buffer;
  readonly clientAppSecret: Buffer;
}

/** Chooses from the ClientHello (RFC 8446 §4.1.1, §4.2.11) everything our flight needs, before any of it is sent. */
export function planFlight(
  ctx: HandshakeContext,
  config: ServerConfig,
  offer: ClientOffer,
  suite: SuiteInfo,
  share: KeyShareEntry,
  transcriptAfterRetry: Transcript | undefined,
): FlightPlan {
  const alpn = chooseAlpn(config, offer);
  const resumption = findResumption(config, offer, suite);
  const early = new EarlySecret(ctx.provider, suite.hash, resumption?.ticket.psk);
  const auth: ServerAuth =
    resumption !== undefined
      ? { kind: 'resumed', resumption, binder: checkBinder(ctx.provider, early, transcriptAfterRetry, offer, resumption) }
      : fullHandshakeAuth(config, offer);
  const earlyData = decideEarlyData(config, offer, suite, alpn, auth.kind === 'resumed' ? auth : undefined);
  return { ctx, config, offer, suite, share, alpn, early, auth, transcriptAfterRetry, earlyData };
}

/** §4.2.11.2: the binder covers the ClientHello up to the binders list, after any HRR transcript. */
function checkBinder(
  crypto: CryptoProvider,
  early: EarlySecret,
  transcriptBefore: Transcript | undefined,
  offer: ClientOffer,
  resumption: Resumption,
): BinderVerified {
  const truncated = offer.raw.subarray(0, offer.raw.length - resumption.bindersLength);
  const hash = (transcriptBefore ?? new Transcript(crypto, early.hash)).hashWith(truncated);
  return verifyPskBinder(crypto, early, hash, resumption.binder, resumption.index);
}

function fullHandshakeAuth(config: ServerConfig, offer: ClientOffer): ServerAuth {
  const signer = chooseSigner(config, offer);
  // Only a full handshake carries a Certificate to staple; a server without stapling leaves status_request unread (§4.2).
  const stapler = config.ocspResponse === undefined || !isOcspRequested(offer) ? undefined : config.ocspResponse;
  return { kind: 'certificate', signer, stapler, requestsCertificate: config.clientAuth !== 'none' };
}

/**
 * ServerHello through our Finished (RFC 8446 §2, Figure 1), one named step
 * per message, as Go's serverHandshakeStateTLS13.handshake() and rustls'
 * emit_* functions.
 */
export function sendServerFlight(plan: FlightPlan): FlightSent {
  const transcript = plan.transcriptAfterRetry ?? new Transcript(plan.ctx.provider, plan.suite.hash);
  transcript.add(plan.offer.raw);
  // §7.1: client_early_traffic_secret over the ClientHello, when we read its 0-RTT.
  const clientEarlySecret = plan.earlyData?.accepted === true ? plan.early.clientEarlyTrafficSecret(transcript.current()) : undefined;
  const sharedSecret = sendServerHello(plan, transcript);
  const keys = installHandshakeKeys(plan, transcript, plan.early.toHandshakeSecret(sharedSecret));
  // RFC 8449 §4: the client's limit binds every protected record we send it, from the first one under the handshake key.
  if (plan.offer.recordSizeLimit !== undefined) plan.ctx.limitRecordSize(plan.offer.recordSizeLimit);
  sendEncryptedExtensions(plan, transcript);
  const auth = plan.auth;
  if (auth.kind === 'certificate') {
    if (auth.requestsCertificate) sendCertificateRequest(plan, transcript);
    sendCertificate(plan, transcript, auth.stapler);
    sendCertificateVerify(plan, transcript, auth.signer);
  }
  const sent = sendFinished(plan, keys);
  if (clientEarlySecret !== undefined && plan.config.earlyData !== undefined) {
    // §4.2.10: the client's 0-RTT is read under its early key until EndOfEarlyData, within the size we advertised.
    plan.ctx.logSecret('CLIENT_EARLY_TRAFFIC_SECRET', plan.offer.hello.random, clientEarlySecret);
    plan.ctx.setReadKey(plan.suite, clientEarlySecret);
    plan.ctx.earlyData.accept(plan.config.earlyData.maxSize);
  }
  return sent;
}

/** §4.1.3: our key share, the suite and, when resuming, the PSK we took; returns the (EC)DHE shared secret. */
function sendServerHello(plan: FlightPlan, transcript: Transcript): Buffer {
  const { ctx, offer, share, auth } = plan;
  const exchange = ctx.provider.generateKeyExchange(share.group);
  const sharedSecret = exchange.computeSharedSecret(share.keyExchange);
  // §4.2: extensions may appear in any order (only pre_shared_key must be last, and only in ClientHello). We write
  // key_share before supported_versions, as NSS does (the order of RFC 8448's traces).
  const extensions: RawExtension[] = [
    { type: ExtensionType.key_share, data: encodeServerKeyShare({ group: share.group, keyExchange: exchange.publicKey }) },
    { type: ExtensionType.supported_versions, data: encodeU16(ProtocolVersion.TLS13) },
  ];
  if (auth.kind === 'resumed') {
    // A ticket that allows 0-RTT is answered in NSS's order, pre_shared_key first (RFC 8448 §4); others as before.
    const psk = { type: ExtensionType.pre_shared_key, data: encodeU16(auth.binder.index) };
    if ((auth.resumption.ticket.maxEarlyData ?? 0) > 0) extensions.unshift(psk);
    else extensions.push(psk);
  }
  const serverHello = encodeServerHello({
    random: ctx.provider.randomBytes(32),
    legacySessionIdEcho: offer.hello.legacySessionId,
    cipherSuite: plan.suite.id,
    extensions,
  });
  transcript.add(ctx.sendHandshake(HandshakeType.server_hello, serverHello));
  // §D.4: the compatibility CCS follows our first handshake message (after an HRR it already went).
  if (plan.transcriptAfterRetry === undefined && offer.hello.legacySessionId.length > 0) ctx.sendChangeCipherSpec();
  return sharedSecret;
}

/** §7.1: handshake traffic secrets over ClientHello..ServerHello; we write under ours from here on. */
function installHandshakeKeys(plan: FlightPlan, transcript: Transcript, handshakeSecret: HandshakeSecret): HandshakeKeys {
  const { ctx, offer, suite } = plan;
  const helloHash = transcript.current();
  const clientHandshakeSecret = handshakeSecret.clientHandshakeTrafficSecret(helloHash);
  const serverHandshakeSecret = handshakeSecret.serverHandshakeTrafficSecret(helloHash);
  ctx.logSecret('CLIENT_HANDSHAKE_TRAFFIC_SECRET', offer.hello.random, clientHandshakeSecret);
  ctx.logSecret('SERVER_HANDSHAKE_TRAFFIC_SECRET', offer.hello.random, serverHandshakeSecret);
  ctx.setWriteKey(suite, serverHandshakeSecret);
  ctx.setReadKey(suite, clientHandshakeSecret);
  // §4.2.10: 0-RTT we refused is skipped: what fails to open under the handshake key.
  if (offer.hasEarlyData && plan.earlyData?.accepted !== true) ctx.earlyData.skip('protected');
  return { transcript, handshakeSecret, clientHandshakeSecret, serverHandshakeSecret };
}

/**
 * §4.3.1: the ALPN protocol we chose; our groups in preference order (§4.2.7 permits it, for the client's next
 * connection); our record_size_limit when the client sent one (RFC 8449 §4); an empty server_name when we used the
 * client's (RFC 6066 §3).
 */
function sendEncryptedExtensions(plan: FlightPlan, transcript: Transcript): void {
  const ee: RawExtension[] = [];
  if (plan.alpn !== false) ee.push({ type: ExtensionType.application_layer_protocol_negotiation, data: encodeAlpn([plan.alpn]) });
  // §4.2.7: only in answer to a client that listed its groups (readClientOffer: a listed group list is never empty).
  if (plan.offer.groups.length > 0) ee.push({ type: ExtensionType.supported_groups, data: encodeU16List(plan.config.groups) });
  // RFC 8449 §4: a server answers the client's extension with its own limit; ours is TLS 1.3's maximum, 2^14 + 1.
  if (plan.offer.recordSizeLimit !== undefined) {
    ee.push({ type: ExtensionType.record_size_limit, data: encodeRecordSizeLimit(TLS13_RECORD_SIZE_LIMIT) });
  }
  // RFC 6066 §3: an empty server_name acknowledges that we used the name.
  if (plan.offer.servername !== undefined) ee.push({ type: ExtensionType.server_name, data: Buffer.alloc(0) });
  // §4.2.10: an empty early_data says we accepted the client's 0-RTT.
  if (plan.earlyData?.accepted === true) ee.push({ type: ExtensionType.early_data, data: EMPTY_EARLY_DATA });
  transcript.add(plan.ctx.sendHandshake(HandshakeType.encrypted_extensions, encodeEncryptedExtensions(ee)));
}

/** §4.3.2: an empty context, the schemes we verify, and our anchors' names when we have them (§4.2.4). */
function sendCertificateRequest(plan: FlightPlan, transcript: Transcript): void {
  const config = plan.config;
  const extensions: RawExtension[] = [{ type: ExtensionType.signature_algorithms, data: encodeU16List(VERIFY_SCHEMES) }];
  if (config.certificateAuthorities.length > 0) {
    extensions.push({ type: ExtensionType.certificate_authorities, data: encodeCertificateAuthorities(config.certificateAuthorities) });
  }
  const body = encodeCertificateRequest({ requestContext: Buffer.alloc(0), extensions });
  transcript.add(plan.ctx.sendHandshake(HandshakeType.certificate_request, body));
}

/** §4.4.2: our chain, leaf first; §4.4.2.1: a staple in the leaf's entry when the client asked and the caller has one. */
function sendCertificate(plan: FlightPlan, transcript: Transcript, stapler: (() => Uint8Array | undefined) | undefined): void {
  const entries = certificateEntries(plan.config.certChain, stapler);
  const certificate = encodeCertificate({ requestContext: Buffer.alloc(0), entries });
  transcript.add(plan.ctx.sendHandshake(HandshakeType.certificate, certificate));
}

function certificateEntries(chain: readonly Buffer[], stapler: (() => Uint8Array | undefined) | undefined): CertificateEntry[] {
  const staple = stapler === undefined ? undefined : callOcspResponse(stapler);
  if (staple === undefined || staple.length === 0) return chain.map((certData) => ({ certData, extensions: [] }));
  const stapled = [{ type: ExtensionType.status_request, data: encodeCertificateStatus({ ocspResponse: staple }) }];
  return chain.map((certData, index) => ({ certData, extensions: index === 0 ? stapled : [] }));
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
    throw new TlsAlertError(
      'internal_error',
      `OCSP response of ${staple.length} bytes is over the ${MAX_STAPLED_OCSP_RESPONSE} a CertificateEntry can carry`,
    );
  }
  return staple;
}

/** §4.4.3: our signature over the transcript so far, with the scheme chosen from the client's list. */
function sendCertificateVerify(plan: FlightPlan, transcript: Transcript, signer: Signer): void {
  const signature = plan.ctx.provider.sign(signer.scheme, signer.key, certificateVerifyContent('server', transcript.current()));
  const body = encodeCertificateVerify({ algorithm: signer.scheme, signature });
  transcript.add(plan.ctx.sendHandshake(HandshakeType.certificate_verify, body));
}

/**
 * §4.4.4: our Finished, then the application traffic secrets over the
 * transcript through it (§7.1). We write under ours at once; the client's
 * flight is still read under its handshake key.
 */
function sendFinished(plan: FlightPlan, keys: HandshakeKeys): FlightSent {
  const { ctx, offer, suite } = plan;
  const transcript = keys.transcript;
  const serverFinished = finishedVerifyData(ctx.provider, suite.hash, keys.serverHandshakeSecret, transcript.current());
  transcript.add(ctx.sendHandshake(HandshakeType.finished, serverFinished));
  const master = keys.handshakeSecret.toMasterSecret();
  const finishedHash = transcript.current();
  const clientAppSecret = master.clientApplicationTrafficSecret(finishedHash);
  const serverAppSecret = master.serverApplicationTrafficSecret(finishedHash);
  ctx.logSecret('CLIENT_TRAFFIC_SECRET_0', offer.hello.random, clientAppSecret);
  ctx.logSecret('SERVER_TRAFFIC_SECRET_0', offer.hello.random, serverAppSecret);
  ctx.logSecret('EXPORTER_SECRET', offer.hello.random, () => master.exporterMasterSecret(finishedHash));
  ctx.setWriteKey(suite, serverAppSecret);
  return { transcript, master, clientHandshakeSecret: keys.clientHandshakeSecret, clientAppSecret };
}
