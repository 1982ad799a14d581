import type { CrlPublisher } from '../ca/index.js';
import type { RevokedSerials } from '../http/index.js';
import { RevocationFeed, type FeedErrorContext, type OpenedLedger } from '../ledger/index.js';
import type { LedgerSource } from '../ocsp/index.js';

/** What a revocation heard from the cluster changes on this node. */
export interface RevocationTargets {
  readonly source: Pick<LedgerSource, 'drop'>;
  readonly crl: Pick<CrlPublisher, 'noteRevoked'>;
  readonly revokedSerials: Pick<RevokedSerials, 'add'>;
}

/**
 * One revoked serial, from any node: the OCSP cache answers from the ledger
 * again (now `revoked`), the client-certificate checks refuse it from the
 * next handshake and request on, and the CRL is rebuilt shortly. Each step
 * is idempotent: the node's own revocations arrive twice (Authority.onRevoked,
 * then its own NOTIFY), which costs nothing.
 */
export function revocationHandler(targets: RevocationTargets): (serial: string) => void {
  return (serial) => {
    targets.revokedSerials.add(serial);
    targets.source.drop(serial);
    targets.crl.noteRevoked();
  };
}

/**
 * On PostgreSQL, listens for the cluster's revocations (src/ledger/postgres/revocation-feed.ts);
 * on SQLite there is one process and Authority.onRevoked already reaches everything: undefined.
 */
export async function startRevocationFeed(
  ledger: OpenedLedger,
  targets: RevocationTargets,
  onError: (error: unknown, context: FeedErrorContext) => void,
): Promise<RevocationFeed | undefined> {
  if (ledger.kind !== 'postgres') return undefined;
  const feed = new RevocationFeed({ database: ledger.ledger.database, onRevoked: revocationHandler(targets), onError });
  await feed.start();
  return feed;
}
