import { TlsAlertError } from '../../alert.js';
import type { ServerConfig } from '../../config.js';
import { ExtensionType, HandshakeType, PskKeyExchangeMode } from '../../codec/enums.js';
import { decodeEndOfEarlyData, encodeMaxEarlyDataSize } from '../../codec/early-data.js';
import { checkExtensionsAllowed } from '../../codec/extensions.js';
import type { HandshakeMessage } from '../../codec/handshake-frame.js';
import { decodeCertificate } from '../../codec/messages/certificate.js';
import { decodeCertificateVerify } from '../../codec/messages/certificate-verify.js';
import { encodeNewSessionTicket } from '../../codec/messages/new-session-ticket.js';
import { certificateVerifyContent, VERIFY_SCHEMES } from '../../crypto/signatures.js';
import type { SuiteInfo } from '../../crypto/suites.js';
import { resumptionPsk, type MasterSecret } from '../../keyschedule/stages.js';
import type { Transcript } from '../../keyschedule/transcript.js';
import type { PeerCertificates } from '../../options.js';
import { encodeServerSessionState, ticketLifetimeSeconds, ticketPeerChain, type TicketKeys } from '../../tickets.js';
import { HandshakeDone, requireMessage, StateBase, type HandshakeContext, type HandshakeResult, type HandshakeState } from '../state.js';
import {
  peerOfClient,
  reverifyResumedClient,
  runPeerPolicy,
  verifyPeerChain,
  verifyPeerFinished,
  verifyPeerSignature,
  type BinderVerified,
  type ChainVerified,
  type SignatureVerified,
} from '../peer.js';
import type { FlightPlan, FlightSent } from './flight.js';

/** What the server holds while it reads the client's flight: what it chose, the transcript and the client's keys. */
interface AwaitingClient {
  readonly ctx: HandshakeContext;
  readonly config: ServerConfig;
  readonly suite: SuiteInfo;
  readonly group: number;
  readonly alpn: string | false;
  readonly servername: string | undefined;
  readonly transcript: Transcript;
  readonly master: MasterSecret;
  readonly clientHandshakeSecret: Buffer;
  readonly clientAppSecret: Buffer;
  /** §4.2.9: the client offered psk_dhe_ke, the only mode we resume with. */
  readonly canIssueTickets: boolean;
}

/** Who the client is by the time its Finished arrives, and how we know. */
type ClientIdentity =
  /** We asked for no certificate, or it sent an empty one where that is allowed (§4.4.2.4). */
  | { readonly kind: 'anonymous' }
  /** Its chain verified and its CertificateVerify proved it holds the leaf's key. */
  | { readonly kind: 'certificate'; readonly signature: SignatureVerified }
  /** Its PSK binder verified; the identity is the one the ticket carries, verified again now. */
  | { readonly kind: 'resumed'; readonly binder: BinderVerified; readonly chain: ChainVerified | undefined };

const ANONYMOUS: ClientIdentity = { kind: 'anonymous' };

/** The state after our flight: the client's Certificate when we asked for one, else its Finished. */
export function afterServerFlight(plan: FlightPlan, sent: FlightSent): HandshakeState {
  const { ctx, config, offer, auth } = plan;
  const awaiting: AwaitingClient = {
    ctx,
    config,
    suite: plan.suite,
    group: plan.share.group,
    alpn: plan.alpn,
    servername: offer.servername,
    transcript: sent.transcript,
    master: sent.master,
    clientHandshakeSecret: sent.clientHandshakeSecret,
    clientAppSecret: sent.clientAppSecret,
    canIssueTickets: offer.pskModes.includes(PskKeyExchangeMode.psk_dhe_ke),
  };
  if (auth.kind === 'resumed') {
    // A resumed connection carries the original identity, checked again now (revocation may have happened since).
    const chain = reverifyResumedClient(config, auth.resumption.ticket.peerChain, 'certificate_required');
    const finished = new ExpectFinished(awaiting, { kind: 'resumed', binder: auth.binder, chain });
    return plan.earlyData?.accepted === true ? new ExpectEndOfEarlyData(awaiting, finished) : finished;
  }
  return auth.requestsCertificate ? new ExpectCertificate(awaiting) : new ExpectFinished(awaiting, ANONYMOUS);
}

const NO_EXTENSIONS: ReadonlySet<number> = new Set();

/** §4.5: after accepted 0-RTT, EndOfEarlyData ends it; the rest of the client's flight is under its handshake key. */
class ExpectEndOfEarlyData extends StateBase {
  readonly name = 'ExpectEndOfEarlyData';

  constructor(
    private readonly awaiting: AwaitingClient,
    private readonly next: HandshakeState,
  ) {
    super();
  }

  protected process(message: HandshakeMessage): HandshakeState {
    requireMessage(message, HandshakeType.end_of_early_data, this.name);
    const { ctx, suite, transcript, clientHandshakeSecret } = this.awaiting;
    decodeEndOfEarlyData(message.body);
    transcript.add(message.raw);
    ctx.earlyData.end();
    ctx.setReadKey(suite, clientHandshakeSecret);
    return this.next;
  }
}

/** §4.4.2: the client's Certificate, answering our CertificateRequest. */
class ExpectCertificate extends StateBase {
  readonly name = 'ExpectCertificate';

  constructor(private readonly awaiting: AwaitingClient) {
    super();
  }

  protected process(message: HandshakeMessage): HandshakeState {
    requireMessage(message, HandshakeType.certificate, this.name);
    const { config, transcript } = this.awaiting;
    const certificate = decodeCertificate(message.body);
    // §4.4.2: the context echoes CertificateRequest's, which was empty.
    if (certificate.requestContext.length !== 0) throw new TlsAlertError('illegal_parameter', 'certificate_request_context is not empty');
    // §4.4.2: entry extensions must answer ones in our CertificateRequest, which asked for none of them.
    for (const entry of certificate.entries) checkExtensionsAllowed(entry.extensions, 'certificate', NO_EXTENSIONS);
    transcript.add(message.raw);
    if (certificate.entries.length === 0) {
      // §4.4.2.4: a server that requires a certificate answers an empty one with certificate_required.
      if (config.clientAuth === 'require') throw new TlsAlertError('certificate_required', 'client sent no certificate');
      return new ExpectFinished(this.awaiting, ANONYMOUS);
    }
    const chain = verifyPeerChain(
      config.verifier,
      certificate.entries.map((e) => e.certData),
      { role: 'client' },
    );
    return new ExpectCertificateVerify(this.awaiting, chain);
  }
}

/** §4.4.3: proof that the client holds the certificate's key. */
class ExpectCertificateVerify extends StateBase {
  readonly name = 'ExpectCertificateVerify';

  constructor(
    private readonly awaiting: AwaitingClient,
    private readonly chain: ChainVerified,
  ) {
    super();
  }

  protected process(message: HandshakeMessage): HandshakeState {
    requireMessage(message, HandshakeType.certificate_verify, this.name);
    const { ctx, config, transcript } = this.awaiting;
    const verify = decodeCertificateVerify(message.body);
    const content = certificateVerifyContent('client', transcript.current());
    const signature = verifyPeerSignature(ctx.provider, VERIFY_SCHEMES, verify, this.chain.chain, content);
    transcript.add(message.raw);
    runPeerPolicy(config.verifyPeer, signature.peer);
    return new ExpectFinished(this.awaiting, { kind: 'certificate', signature });
  }
}

/** §4.4.4: the client's Finished; then the connection is up and tickets go out. */
class ExpectFinished extends StateBase {
  readonly name = 'ExpectFinished';

  constructor(
    private readonly awaiting: AwaitingClient,
    private readonly client: ClientIdentity,
  ) {
    super();
  }

  protected process(message: HandshakeMessage): HandshakeState {
    requireMessage(message, HandshakeType.finished, this.name);
    const a = this.awaiting;
    const finished = verifyPeerFinished(a.ctx.provider, message.body, a.suite, a.clientHandshakeSecret, a.transcript.current(), 'client');
    a.transcript.add(message.raw);
    a.ctx.setReadKey(a.suite, a.clientAppSecret);
    const resumptionMasterSecret = a.master.resumptionMasterSecret(a.transcript.current());
    const peer = peerOfClient(this.client);
    const result: HandshakeResult = {
      suite: a.suite,
      group: a.group,
      alpnProtocol: a.alpn,
      servername: a.servername,
      peer,
      isResumed: this.client.kind === 'resumed',
      ocspResponse: undefined,
      resumptionMasterSecret,
    };
    const tickets = a.config.tickets;
    if (tickets !== undefined && a.canIssueTickets) sendTicket(a, tickets, peer, resumptionMasterSecret);
    a.ctx.complete(result);
    return new HandshakeDone(finished);
  }
}

/** One NewSessionTicket (RFC 8446 §4.6.1); lifetime never past the client certificate's notAfter. */
function sendTicket(a: AwaitingClient, tickets: TicketKeys, peer: PeerCertificates | undefined, resumptionMasterSecret: Buffer): void {
  const config = a.config;
  const now = config.now();
  const lifetime = ticketLifetimeSeconds(config.ticketLifetimeSeconds, peer, now);
  if (lifetime <= 0) return;
  const nonce = config.provider.randomBytes(8);
  const ageAdd = config.provider.randomBytes(4).readUInt32BE(0);
  const psk = resumptionPsk(config.provider, a.suite.hash, resumptionMasterSecret, nonce);
  const early = config.earlyData;
  const state = encodeServerSessionState({
    ...(early === undefined ? {} : { maxEarlyData: early.maxSize, instanceId: early.instanceId }),
    suite: a.suite.id,
    psk,
    createdAt: now,
    ageAdd,
    lifetimeSeconds: lifetime,
    alpn: a.alpn === false ? '' : a.alpn,
    servername: a.servername ?? '',
    peerChain: ticketPeerChain(peer),
  });
  const ticket = tickets.seal(state);
  // §4.6.1: early_data with max_early_data_size says the ticket may carry 0-RTT.
  const extensions = early === undefined ? [] : [{ type: ExtensionType.early_data, data: encodeMaxEarlyDataSize(early.maxSize) }];
  const body = encodeNewSessionTicket({ lifetimeSeconds: lifetime, ageAdd, nonce, ticket, extensions });
  a.ctx.sendHandshake(HandshakeType.new_session_ticket, body);
}
