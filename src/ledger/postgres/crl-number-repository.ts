import { checkCrlNumberFloor } from '../crl-number-repository.js';
import type { PostgresDatabase } from './database.js';

/**
 * The CRL number on PostgreSQL (RFC 5280 §5.2.3: it only grows): the
 * `crl_number` sequence (migrations/postgres/0007), shared by every node.
 * `nextval` alone never hands a number out twice; the floor (`atLeast`, the
 * number a CRL state file recorded before the upgrade) needs `setval`, which
 * is not monotonic by itself: a setval racing another node's nextval could
 * move the sequence back. So each call takes a transaction-scoped advisory
 * lock first; CRL builds are rare (at most a few a second per cluster), and
 * the lock is held for one statement.
 */

/** pg_advisory_xact_lock key of the CRL number: 'crlnum' in ASCII; distinct from the migration runner's. */
const CRL_NUMBER_LOCK_KEY = 0x63_726c_6e75_6dn.toString();

export class PostgresCrlNumberRepository {
  constructor(private readonly database: PostgresDatabase) {}

  /** The next CRL number: above every number handed out before (by any node), and at least `atLeast`. Committed on return. */
  async next(atLeast = 1): Promise<number> {
    checkCrlNumberFloor(atLeast);
    return this.database.transaction(async (tx) => {
      await tx.run('SELECT pg_advisory_xact_lock($1)', [CRL_NUMBER_LOCK_KEY]);
      // setval runs only when nextval fell short of the floor (CASE evaluates its branches lazily).
      const taken = await tx.row<{ n: number }>(
        `SELECT CASE WHEN taken.n >= $1::bigint THEN taken.n ELSE setval('crl_number', $1::bigint) END AS n
           FROM (SELECT nextval('crl_number') AS n) AS taken`,
        [atLeast],
      );
      if (taken === undefined) throw new Error('the crl_number sequence returned no row');
      return taken.n;
    });
  }
}
