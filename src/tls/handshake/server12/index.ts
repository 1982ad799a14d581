import type { HandshakeMessage } from '../../codec/handshake-frame.js';
import type { ClientHello } from '../../codec/messages/client-hello.js';
import { DOWNGRADE_TLS12 } from '../../codec/messages/server-hello.js';
import type { ServerConfig } from '../../config.js';
import type { Tls12SuiteInfo } from '../../crypto/suites.js';
import { HandshakeLog12 } from '../../keyschedule/handshake-log12.js';
import { tls12KeyBlock } from '../../keyschedule/prf12.js';
import { Protector12 } from '../../record/protector12.js';
import type { Tls12SessionState } from '../../tickets12.js';
import { reverifyResumedClient } from '../peer.js';
import type { HandshakeContext, HandshakeState } from '../state.js';
import { chooseAlpn, isOcspRequested } from '../server/choose.js';
import { chooseGroup12, chooseScheme12, chooseSuite12, findResumption12 } from './choose.js';
import { ExpectClientCertificate12, ExpectClientKeyExchange12 } from './expect-client.js';
import { ExpectClientFinished12, sendServerFinished12, sendTicket12 } from './finish.js';
import {
  sendCertificate12,
  sendCertificateRequest12,
  sendCertificateStatus12,
  sendServerHello12,
  sendServerHelloDone12,
  sendServerKeyExchange12,
  takeStaple,
} from './flight.js';
import type { Keyed12, Negotiated12 } from './negotiated.js';
import { readClientOffer12 } from './offer.js';

/** RFC 8446 §4.1.3: a server that could speak TLS 1.3 but negotiates 1.2 ends ServerHello.random with DOWNGRADE_TLS12. */
function serverRandom(ctx: HandshakeContext, config: ServerConfig): Buffer {
  const random = Buffer.from(ctx.provider.randomBytes(32));
  if (config.maxVersion === 'TLSv1.3') DOWNGRADE_TLS12.copy(random, 24);
  return random;
}

/**
 * The TLS 1.2 server (RFC 5246 §7.3), entered from ExpectClientHello when
 * the version chosen is 1.2: an abbreviated handshake when the client brings
 * a ticket we can resume (RFC 5077 §3.1), else a full one.
 */
export function startTls12(ctx: HandshakeContext, config: ServerConfig, message: HandshakeMessage, hello: ClientHello): HandshakeState {
  ctx.useTls12();
  const offer = readClientOffer12(message, hello);
  const alpn = chooseAlpn(config, offer);
  const log = new HandshakeLog12(ctx.provider);
  log.add(message.raw);
  const base = { ctx, config, offer, alpn, log, serverRandom: serverRandom(ctx, config) };
  const issuesTicket = config.tickets !== undefined && offer.hasSessionTicket;
  const resumption = findResumption12(config, offer);
  if (resumption !== undefined) return resume({ ...base, suite: resumption.suite, issuesTicket }, resumption.state);
  return fullHandshake({ ...base, suite: chooseSuite12(config, offer), issuesTicket });
}

/** §7.3 full handshake: ServerHello, Certificate, [CertificateStatus], ServerKeyExchange, [CertificateRequest], ServerHelloDone. */
function fullHandshake(n: Negotiated12): HandshakeState {
  const { ctx, config, offer } = n;
  const group = chooseGroup12(config, offer);
  const signer = chooseScheme12(config, offer);
  const staple = config.ocspResponse !== undefined && isOcspRequested(offer) ? takeStaple(config.ocspResponse) : undefined;
  sendServerHello12(n, ctx.provider.randomBytes(32), { staple, isResumed: false });
  sendCertificate12(n);
  if (staple !== undefined) sendCertificateStatus12(n, staple);
  const exchange = ctx.provider.generateKeyExchange(group);
  sendServerKeyExchange12(n, exchange, signer);
  const requestsCertificate = config.clientAuth !== 'none';
  if (requestsCertificate) sendCertificateRequest12(n);
  sendServerHelloDone12(n);
  return requestsCertificate ? new ExpectClientCertificate12(n, exchange) : new ExpectClientKeyExchange12(n, exchange, undefined);
}

/**
 * RFC 5077 §3.1: ServerHello echoing the client's session id, a fresh
 * ticket, ChangeCipherSpec and Finished; then the client's. The identity the
 * ticket carries is verified again now (revocation may have happened since).
 */
function resume(n: Negotiated12, state: Tls12SessionState): HandshakeState {
  const { ctx, config, offer, suite } = n;
  const chain = reverifyResumedClient(config, state.peerChain, 'handshake_failure');
  sendServerHello12(n, offer.hello.legacySessionId, { staple: undefined, isResumed: true });
  ctx.logSecret('CLIENT_RANDOM', offer.hello.random, state.masterSecret);
  const keyed: Keyed12 = { n, masterSecret: state.masterSecret, keys: keyBlock(n, suite, state.masterSecret), group: undefined };
  if (n.issuesTicket) sendTicket12(keyed, chain?.chain.peer);
  sendServerFinished12(keyed);
  ctx.expectChangeCipherSpec(new Protector12(ctx.provider, suite, keyed.keys.client));
  return new ExpectClientFinished12(keyed, { kind: 'resumed', chain });
}

function keyBlock(n: Negotiated12, suite: Tls12SuiteInfo, masterSecret: Buffer): Keyed12['keys'] {
  return tls12KeyBlock(n.ctx.provider, suite, masterSecret, n.offer.hello.random, n.serverRandom);
}
