import { TlsAlertError } from '../../alert.js';
import type { ClientConfig } from '../../config.js';
import { checkExtensionsAllowed, findExtension } from '../../codec/extensions.js';
import { ExtensionType } from '../../codec/enums.js';
import { decodeMaxEarlyDataSize } from '../../codec/early-data.js';
import type { HandshakeMessage } from '../../codec/handshake-frame.js';
import { decodeNewSessionTicket } from '../../codec/messages/new-session-ticket.js';
import { resumptionPsk } from '../../keyschedule/stages.js';
import type { ClientSession } from '../../tickets.js';
import type { HandshakeResult } from '../state.js';

/** Turns a NewSessionTicket into a session the application can store and offer later (§4.6.1). */
export function sessionFromTicket(message: HandshakeMessage, result: HandshakeResult, config: ClientConfig): ClientSession | undefined {
  const ticket = decodeNewSessionTicket(message.body);
  checkExtensionsAllowed(ticket.extensions, 'new_session_ticket');
  // §4.6.1: a lifetime of zero means "do not use"; over seven days is illegal.
  if (ticket.lifetimeSeconds > 7 * 24 * 3600) throw new TlsAlertError('illegal_parameter', 'ticket lifetime over seven days');
  if (ticket.lifetimeSeconds === 0) return undefined;
  // §4.6.1: early_data carries the most 0-RTT bytes the server takes with this ticket.
  const early = findExtension(ticket.extensions, ExtensionType.early_data);
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
    maxEarlyData: early === undefined ? 0 : decodeMaxEarlyDataSize(early),
  };
}
