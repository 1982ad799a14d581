import { HandshakeType } from '../../codec/enums.js';
import type { HandshakeMessage } from '../../codec/handshake-frame.js';
import { encodeNewSessionTicket12 } from '../../codec/messages/tls12/new-session-ticket.js';
import { tls12VerifyData } from '../../keyschedule/prf12.js';
import type { PeerCertificates } from '../../options.js';
import { Protector12 } from '../../record/protector12.js';
import { ticketLifetimeSeconds, ticketPeerChain } from '../../tickets.js';
import { encodeTls12SessionState } from '../../tickets12.js';
import { peerOfClient, verifyPeerFinished12 } from '../peer.js';
import { HandshakeDone, requireMessage, StateBase, type HandshakeResult, type HandshakeState } from '../state.js';
import type { ClientIdentity12, Keyed12 } from './negotiated.js';

/**
 * RFC 5077 §3.3: a NewSessionTicket before our ChangeCipherSpec, sealing the
 * session with the rotating ticket keys; lifetime never past the client
 * certificate's notAfter. When none is left, an empty ticket (allowed by §3.3).
 */
export function sendTicket12(keyed: Keyed12, peer: PeerCertificates | undefined): void {
  const { ctx, config, suite, alpn, offer, log } = keyed.n;
  const tickets = config.tickets;
  const now = config.now();
  const lifetime = ticketLifetimeSeconds(config.ticketLifetimeSeconds, peer, now);
  let ticket: Buffer = Buffer.alloc(0);
  if (tickets !== undefined && lifetime > 0) {
    const state = encodeTls12SessionState({
      suite: suite.id,
      masterSecret: keyed.masterSecret,
      createdAt: now,
      lifetimeSeconds: lifetime,
      alpn: alpn === false ? '' : alpn,
      servername: offer.servername ?? '',
      peerChain: ticketPeerChain(peer),
    });
    ticket = tickets.seal(state);
  }
  const body = encodeNewSessionTicket12({ lifetimeHintSeconds: ticket.length === 0 ? 0 : lifetime, ticket });
  log.add(ctx.sendHandshake(HandshakeType.new_session_ticket, body));
}

/** RFC 5246 §7.1, §7.4.9: our ChangeCipherSpec, then our Finished under the new write state. */
export function sendServerFinished12(keyed: Keyed12): void {
  const { ctx, suite, log } = keyed.n;
  ctx.changeWriteCipher(new Protector12(ctx.provider, suite, keyed.keys.server));
  const verifyData = tls12VerifyData(ctx.provider, suite.hash, keyed.masterSecret, 'server', log.hash(suite.hash));
  log.add(ctx.sendHandshake(HandshakeType.finished, verifyData));
}

function resultOf(keyed: Keyed12, identity: ClientIdentity12): HandshakeResult {
  const { n } = keyed;
  return {
    suite: n.suite,
    group: keyed.group,
    alpnProtocol: n.alpn,
    servername: n.offer.servername,
    peer: peerOfClient(identity),
    isResumed: identity.kind === 'resumed',
    ocspResponse: undefined,
    resumptionMasterSecret: keyed.masterSecret,
  };
}

/**
 * §7.4.9: the client's Finished, after its ChangeCipherSpec. In a full
 * handshake our ticket, ChangeCipherSpec and Finished answer it; in an
 * abbreviated one (RFC 5077 §3.1) ours went first and the handshake is done.
 */
export class ExpectClientFinished12 extends StateBase {
  readonly name = 'ExpectClientFinished12';

  constructor(
    private readonly keyed: Keyed12,
    private readonly identity: ClientIdentity12,
  ) {
    super();
  }

  protected process(message: HandshakeMessage): HandshakeState {
    requireMessage(message, HandshakeType.finished, this.name);
    const { keyed, identity } = this;
    const { ctx, suite, log, issuesTicket } = keyed.n;
    const finished = verifyPeerFinished12(ctx.provider, message.body, suite, keyed.masterSecret, log.hash(suite.hash), 'client');
    log.add(message.raw);
    if (identity.kind !== 'resumed') {
      if (issuesTicket) sendTicket12(keyed, peerOfClient(identity));
      sendServerFinished12(keyed);
    }
    ctx.complete(resultOf(keyed, identity));
    return new HandshakeDone(finished);
  }
}
