import type { ServerConfig } from '../../config.js';
import type { SuiteInfo } from '../../crypto/suites.js';
import type { BinderVerified } from '../peer.js';
import type { EarlyDataOutcome, EarlyDataRefusal } from '../../early-data-channel.js';
import type { Resumption } from './choose.js';
import type { ClientOffer } from './client-offer.js';

const refused = (reason: EarlyDataRefusal): EarlyDataOutcome => ({ accepted: false, reason });

/**
 * Whether to accept the 0-RTT a ClientHello offers (RFC 8446 §4.2.10), or
 * why not; undefined when it offers none. Cheap checks first; the strike
 * register last, so only a ClientHello that would otherwise be accepted
 * takes a place in it (§8.2). `binder`: the PSK binder verified, which the
 * register keys on (unique to this ClientHello).
 */
export function decideEarlyData(
  config: ServerConfig,
  offer: ClientOffer,
  suite: SuiteInfo,
  alpn: string | false,
  resumed: { readonly resumption: Resumption; readonly binder: BinderVerified } | undefined,
): EarlyDataOutcome | undefined {
  if (!offer.hasEarlyData) return undefined;
  const early = config.earlyData;
  if (early === undefined) return refused('disabled');
  if (resumed === undefined) return refused('not_resumed');
  const { resumption } = resumed;
  const ticket = resumption.ticket;
  // §4.2.10: early data is only for the first identity the client offered.
  if (resumed.binder.index !== 0) return refused('not_first_identity');
  if ((ticket.maxEarlyData ?? 0) === 0) return refused('ticket');
  // Only the instance whose strike register holds this ticket's ClientHellos may accept its 0-RTT (docs/architecture.md).
  if (ticket.instanceId === undefined || !ticket.instanceId.equals(early.instanceId)) return refused('other_instance');
  // §4.2.10: the same cipher suite and ALPN protocol as the connection the ticket came from.
  if (ticket.suite !== suite.id) return refused('suite');
  if (ticket.alpn !== (alpn === false ? '' : alpn)) return refused('alpn');
  const now = config.now();
  if (!isTicketAgeFresh(now, ticket.createdAt, ticket.ageAdd, resumption.obfuscatedTicketAge, early.ageToleranceMs))
    return refused('ticket_age');
  const verdict = early.register.strike(resumption.binder, now);
  if (verdict === 'replay') return refused('replay');
  // §8.2: a server that cannot record the ClientHello must not accept its early data.
  if (verdict === 'full') return refused('register_full');
  return { accepted: true };
}

/**
 * §8.3: the client's view of the ticket age (obfuscated_ticket_age minus
 * ticket_age_add, mod 2^32) within `toleranceMs` of ours (now minus when
 * we issued it): a ClientHello held back and replayed later falls outside.
 */
export function isTicketAgeFresh(now: number, createdAt: number, ageAdd: number, obfuscatedAge: number, toleranceMs: number): boolean {
  const clientAge = (obfuscatedAge - ageAdd) >>> 0;
  const serverAge = now - createdAt;
  return Math.abs(serverAge - clientAge) <= toleranceMs;
}
