import { HandshakeType } from '../../codec/enums.js';
import type { HandshakeMessage } from '../../codec/handshake-frame.js';
import { decodeNewSessionTicket12 } from '../../codec/messages/tls12/new-session-ticket.js';
import { tls12KeyBlock, tls12VerifyData, type Tls12KeyBlock } from '../../keyschedule/prf12.js';
import { Protector12 } from '../../record/protector12.js';
import type { PeerCertificates } from '../../options.js';
import { describeChain, verifyPeerFinished12 } from '../peer.js';
import { HandshakeDone, requireMessage, type HandshakeResult, type HandshakeState } from '../state.js';
import { ClientState12 } from './state12.js';
import type { Tls12Keyed, Tls12Negotiated } from './negotiated12.js';
import { encodeTls12Session, ticketLifetime, type Tls12ClientSession } from './session12.js';

/*
 * The end of a TLS 1.2 handshake on the client: the server's
 * NewSessionTicket (RFC 5077 §3.3) when it announced one, its
 * ChangeCipherSpec (the connection installs the read state, RFC 5246 §7.1)
 * and its Finished (§7.4.9). In a full handshake our Finished went first; in
 * an abbreviated one (a ticket accepted, RFC 5077 §3.1) ours follows.
 */

/** Whose Finished goes first: ours (full handshake) or the server's (abbreviated). */
type Order = 'ours-sent' | 'server-first';

/** A ticket the server sent, waiting for its Finished to verify before it becomes a session. */
interface ReceivedTicket {
  readonly ticket: Buffer;
  readonly lifetimeHintSeconds: number;
}

/** After our flight (full) or the ServerHello (abbreviated): the ticket if announced, then the server's CCS and Finished. */
export function expectServerEnd12(keyed: Tls12Keyed, keys: Tls12KeyBlock, order: Order): HandshakeState {
  if (keyed.negotiated.isTicketExpected) return new ExpectNewSessionTicket12(keyed, keys, order);
  return expectChangeCipherSpec(keyed, keys, order, undefined);
}

/** RFC 5077 §3.1: the server accepted our ticket; the master secret is the session's, the keys new (RFC 5246 §6.3). */
export function startAbbreviated12(hello: Tls12Negotiated, session: Tls12ClientSession): HandshakeState {
  const { ctx, suite } = hello;
  const keys = tls12KeyBlock(ctx.provider, suite, session.masterSecret, hello.clientRandom, hello.serverRandom);
  ctx.logSecret('CLIENT_RANDOM', hello.clientRandom, session.masterSecret);
  return expectServerEnd12(
    { negotiated: hello, masterSecret: session.masterSecret, server: { kind: 'resumed', session } },
    keys,
    'server-first',
  );
}

function expectChangeCipherSpec(keyed: Tls12Keyed, keys: Tls12KeyBlock, order: Order, ticket: ReceivedTicket | undefined): HandshakeState {
  const { ctx, suite } = keyed.negotiated;
  ctx.expectChangeCipherSpec(new Protector12(ctx.provider, suite, keys.server));
  return new ExpectServerFinished12(keyed, keys, order, ticket);
}

/** RFC 5077 §3.3: the ticket comes after our Finished (full) or the ServerHello (abbreviated), before the server's CCS. */
class ExpectNewSessionTicket12 extends ClientState12 {
  readonly name = 'ExpectNewSessionTicket12';

  constructor(
    private readonly keyed: Tls12Keyed,
    private readonly keys: Tls12KeyBlock,
    private readonly order: Order,
  ) {
    super();
  }

  protected process(message: HandshakeMessage): HandshakeState {
    requireMessage(message, HandshakeType.new_session_ticket, this.name);
    const ticket = decodeNewSessionTicket12(message.body);
    this.keyed.negotiated.log.add(message.raw);
    // RFC 5077 §3.3: an empty ticket says the server changed its mind; there is nothing to keep.
    const received =
      ticket.ticket.length === 0 ? undefined : { ticket: Buffer.from(ticket.ticket), lifetimeHintSeconds: ticket.lifetimeHintSeconds };
    return expectChangeCipherSpec(this.keyed, this.keys, this.order, received);
  }
}

/** RFC 5246 §7.4.9: the server's Finished, under its new read state; then the connection is up. */
class ExpectServerFinished12 extends ClientState12 {
  readonly name = 'ExpectServerFinished12';

  constructor(
    private readonly keyed: Tls12Keyed,
    private readonly keys: Tls12KeyBlock,
    private readonly order: Order,
    private readonly ticket: ReceivedTicket | undefined,
  ) {
    super();
  }

  protected process(message: HandshakeMessage): HandshakeState {
    requireMessage(message, HandshakeType.finished, this.name);
    const { keyed } = this;
    const hello = keyed.negotiated;
    const { ctx, suite, log } = hello;
    const finished = verifyPeerFinished12(ctx.provider, message.body, suite, keyed.masterSecret, log.hash(suite.hash), 'server');
    log.add(message.raw);
    if (this.order === 'server-first') {
      ctx.changeWriteCipher(new Protector12(ctx.provider, suite, this.keys.client));
      sendFinished12(hello, keyed.masterSecret);
    }
    ctx.complete(this.result());
    return new HandshakeDone(finished);
  }

  private result(): HandshakeResult {
    const { negotiated: hello, server, masterSecret } = this.keyed;
    const peer = server.kind === 'resumed' ? resumedPeer(server.session.peerChain) : server.signature.peer;
    const session = this.ticket === undefined ? undefined : this.session(this.ticket, peer);
    return {
      suite: hello.suite,
      group: server.kind === 'certificate' ? server.group : undefined,
      alpnProtocol: hello.alpn,
      servername: hello.config.servername,
      peer,
      isResumed: server.kind === 'resumed',
      ocspResponse: server.kind === 'certificate' ? server.ocspResponse : undefined,
      resumptionMasterSecret: masterSecret,
      ...(session === undefined ? {} : { tls12Session: session }),
    };
  }

  /** The 'session' a verified Finished makes of the ticket: the master secret and the server identity behind it. */
  private session(ticket: ReceivedTicket, peer: PeerCertificates | undefined): Buffer {
    const { negotiated: hello, masterSecret } = this.keyed;
    return encodeTls12Session({
      suite: hello.suite.id,
      ticket: ticket.ticket,
      masterSecret,
      receivedAt: hello.config.now(),
      lifetimeSeconds: ticketLifetime(ticket.lifetimeHintSeconds),
      servername: hello.config.servername ?? '',
      alpn: hello.alpn === false ? '' : hello.alpn,
      peerChain: peer?.chain.map((c) => Buffer.from(c.raw)) ?? [],
    });
  }
}

/** The server identity of a resumed connection is the one verified when the ticket was issued. */
function resumedPeer(chain: readonly Buffer[]): PeerCertificates | undefined {
  return chain.length === 0 ? undefined : describeChain(chain).peer;
}

/** RFC 5246 §7.4.9: our Finished, over every handshake message before it, under our new write state. */
export function sendFinished12(hello: Tls12Negotiated, masterSecret: Buffer): void {
  const verifyData = tls12VerifyData(hello.ctx.provider, hello.suite.hash, masterSecret, 'client', hello.log.hash(hello.suite.hash));
  hello.log.add(hello.ctx.sendHandshake(HandshakeType.finished, verifyData));
}
