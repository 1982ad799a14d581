import { HandshakeType } from '../../codec/enums.js';
import type { HandshakeMessage } from '../../codec/handshake-frame.js';
import { encodeEndOfEarlyData } from '../../codec/early-data.js';
import { encodeCertificate } from '../../codec/messages/certificate.js';
import { encodeCertificateVerify } from '../../codec/messages/certificate-verify.js';
import { certificateVerifyContent } from '../../crypto/signatures.js';
import { finishedVerifyData, type MasterSecret } from '../../keyschedule/stages.js';
import type { PeerCertificates } from '../../options.js';
import { describeChain, verifyPeerFinished } from '../peer.js';
import { HandshakeDone, requireMessage, StateBase, type HandshakeResult, type HandshakeState } from '../state.js';
import type { CertificateRequested, ClientHandshakeKeys, ServerIdentity } from './negotiated.js';

/** §4.4.4: the server's Finished; then our own flight, and the connection is up. */
export class ExpectFinished extends StateBase {
  readonly name = 'ExpectFinished';

  constructor(
    private readonly keys: ClientHandshakeKeys,
    private readonly alpn: string | false,
    private readonly server: ServerIdentity,
  ) {
    super();
  }

  protected process(message: HandshakeMessage): HandshakeState {
    requireMessage(message, HandshakeType.finished, this.name);
    const { keys, server } = this;
    const finished = verifyPeerFinished(
      keys.ctx.provider,
      message.body,
      keys.suite,
      keys.serverHandshakeSecret,
      keys.transcript.current(),
      'server',
    );
    keys.transcript.add(message.raw);
    const secrets = installApplicationReadKey(keys);
    sendClientFlight(keys, server.kind === 'certificate' ? server.request : undefined, secrets.clientAppSecret);
    const result: HandshakeResult = {
      suite: keys.suite,
      group: keys.group,
      alpnProtocol: this.alpn,
      servername: keys.config.servername,
      peer: server.kind === 'resumed' ? resumedPeer(server.session.peerChain) : server.signature.peer,
      isResumed: server.kind === 'resumed',
      ocspResponse: server.kind === 'certificate' ? server.ocspResponse : undefined,
      resumptionMasterSecret: secrets.master.resumptionMasterSecret(keys.transcript.current()),
    };
    keys.ctx.complete(result);
    return new HandshakeDone(finished);
  }
}

/** §7.1: the application traffic secrets over the transcript through the server's Finished; we read under the server's now. */
function installApplicationReadKey(keys: ClientHandshakeKeys): { master: MasterSecret; clientAppSecret: Buffer } {
  const { ctx, random } = keys;
  const master = keys.handshakeSecret.toMasterSecret();
  const serverFinishedHash = keys.transcript.current();
  const clientAppSecret = master.clientApplicationTrafficSecret(serverFinishedHash);
  const serverAppSecret = master.serverApplicationTrafficSecret(serverFinishedHash);
  ctx.logSecret('CLIENT_TRAFFIC_SECRET_0', random, clientAppSecret);
  ctx.logSecret('SERVER_TRAFFIC_SECRET_0', random, serverAppSecret);
  ctx.logSecret('EXPORTER_SECRET', random, () => master.exporterMasterSecret(serverFinishedHash));
  ctx.setReadKey(keys.suite, serverAppSecret);
  return { master, clientAppSecret };
}

/**
 * Our second flight under the client handshake key (§4.4), step by step as
 * the server's: the compatibility CCS first (§D.4), then Certificate and
 * CertificateVerify when asked, then Finished; then our application key.
 */
function sendClientFlight(keys: ClientHandshakeKeys, request: CertificateRequested | undefined, clientAppSecret: Buffer): void {
  const ctx = keys.ctx;
  ctx.sendChangeCipherSpec();
  // §4.5: accepted 0-RTT ends with EndOfEarlyData, under the early key.
  if (keys.earlyData === 'accepted') keys.transcript.add(ctx.sendHandshake(HandshakeType.end_of_early_data, encodeEndOfEarlyData()));
  ctx.setWriteKey(keys.suite, keys.clientHandshakeSecret);
  if (request !== undefined) {
    const scheme = sendCertificate(keys, request);
    if (scheme !== undefined) sendCertificateVerify(keys, scheme);
  }
  sendFinished(keys);
  ctx.setWriteKey(keys.suite, clientAppSecret);
}

/**
 * §4.4.2: our chain if our key can sign with a scheme the server accepts;
 * else an empty Certificate (§4.4.2.3). Returns the scheme to sign with, or
 * undefined when we sent no chain.
 */
function sendCertificate(keys: ClientHandshakeKeys, request: CertificateRequested): number | undefined {
  const config = keys.config;
  const scheme = config.signSchemes.find((s) => request.schemes.includes(s));
  const chain = scheme === undefined ? [] : config.certChain;
  const body = encodeCertificate({ requestContext: Buffer.alloc(0), entries: chain.map((certData) => ({ certData, extensions: [] })) });
  keys.transcript.add(keys.ctx.sendHandshake(HandshakeType.certificate, body));
  return chain.length === 0 ? undefined : scheme;
}

/** §4.4.3: our signature over the transcript through our Certificate. */
function sendCertificateVerify(keys: ClientHandshakeKeys, scheme: number): void {
  // signSchemes is empty without a key, so a scheme means a key; this only narrows the type.
  const key = keys.config.privateKey;
  if (key === undefined) return;
  const signature = keys.ctx.provider.sign(scheme, key, certificateVerifyContent('client', keys.transcript.current()));
  keys.transcript.add(keys.ctx.sendHandshake(HandshakeType.certificate_verify, encodeCertificateVerify({ algorithm: scheme, signature })));
}

/** §4.4.4: our Finished, under the client handshake traffic secret. */
function sendFinished(keys: ClientHandshakeKeys): void {
  const finished = finishedVerifyData(keys.ctx.provider, keys.suite.hash, keys.clientHandshakeSecret, keys.transcript.current());
  keys.transcript.add(keys.ctx.sendHandshake(HandshakeType.finished, finished));
}

/** The server identity of a resumed connection is the one verified when the ticket was issued. */
function resumedPeer(chain: readonly Buffer[]): PeerCertificates | undefined {
  return chain.length === 0 ? undefined : describeChain(chain).peer;
}
