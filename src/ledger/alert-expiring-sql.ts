import { ALERTED_COLUMNS } from './alert-rows.js';
import { STOPPED_RENEWING_SERIALS_LONGER_THAN } from './attention.js';

/**
 * Expiring-certificate detection in SQL, for both backends (the SQLite and
 * PostgreSQL alert outboxes run the same statements; parameters are named,
 * `:now`, and the PostgreSQL side numbers them with sql-placeholders.ts). Only two
 * spellings differ by dialect, and `dialect` picks them: the profile list
 * (a JSON array through json_each on SQLite, a text[] on PostgreSQL) and the
 * join that fixes the loop order (SQLite's CROSS JOIN; PostgreSQL plans
 * joins itself and has no CROSS JOIN ... ON).
 *
 * The rules: valid, notAfter in (now, horizon], whole lifetime (notAfter -
 * issuedAt: notBefore is backdated a minute for clock skew) longer than the
 * threshold, not yet alerted at this threshold or a tighter one, and without
 * a successor. A successor is another valid certificate of the same identity,
 * issued no earlier, that lives past the horizon; the identity is the SPIFFE
 * ID when there is one, else the set of DNS/IP names, else (for the CA's own
 * certificates) subject and profile.
 *
 * Which certificates a threshold looks at (src/alerts/select-expiring.ts,
 * `isInScope`): with no profile list, what needs a person (every profile but
 * svid, plus SVIDs that stopped renewing: attention.ts); with a list, those
 * profiles, all of their certificates. Each part is its own statement over
 * its own index: certificates_attention_by_not_after for the non-SVIDs (a few
 * % of rows), spiffe_latest for the SVIDs that stopped renewing, and
 * certificates_valid_by_not_after only when a list names svid. The range
 * terms are spelled out literally so the planner can use the partial
 * indexes; each candidate's successor check then uses the SPIFFE ID, name and
 * subject indexes.
 */

export type SqlDialect = 'sqlite' | 'postgres';

export interface ExpiringStatements {
  /** Profiles other than svid: all of them (:profiles NULL) or those listed. */
  readonly others: string;
  /** SVIDs that stopped renewing (the default scope); also takes :dayFloor and :longFloor. */
  readonly stoppedSvids: string;
  /** Every SVID (a threshold whose profile list names svid). */
  readonly allSvids: string;
}

function expiringRules(dialect: SqlDialect): string {
  // SQLite: CROSS JOIN fixes the loop order (c's own names first, then who else carries each).
  const join = dialect === 'sqlite' ? 'CROSS JOIN' : 'JOIN';
  return `
     c.status = 'valid' AND c.not_after > :now AND c.not_after <= :horizon
     AND c.not_after - c.issued_at > :withinMs
     AND NOT EXISTS (SELECT 1 FROM alerts a WHERE a.serial = c.serial AND a.threshold_ms <= :withinMs)
     AND NOT EXISTS (
       SELECT 1 FROM certificates s
        WHERE c.spiffe_id IS NOT NULL AND s.spiffe_id = c.spiffe_id
          AND s.serial <> c.serial AND s.issued_at >= c.issued_at
          AND s.status = 'valid' AND s.not_after > :horizon)
     AND NOT EXISTS (
       SELECT 1
         FROM certificate_names cn
         ${join} certificate_names sn ON sn.type = cn.type AND sn.value = cn.value AND sn.serial <> cn.serial
         ${join} certificates s ON s.serial = sn.serial
        WHERE c.spiffe_id IS NULL AND cn.serial = c.serial AND cn.type IN ('dns', 'ip')
          AND s.spiffe_id IS NULL AND s.issued_at >= c.issued_at
          AND s.status = 'valid' AND s.not_after > :horizon
          -- the same set: as many names, and none of c's missing from s
          AND (SELECT count(*) FROM certificate_names x WHERE x.serial = s.serial AND x.type IN ('dns', 'ip'))
            = (SELECT count(*) FROM certificate_names y WHERE y.serial = c.serial AND y.type IN ('dns', 'ip'))
          AND NOT EXISTS (
            SELECT 1 FROM certificate_names y
             WHERE y.serial = c.serial AND y.type IN ('dns', 'ip')
               AND NOT EXISTS (SELECT 1 FROM certificate_names x WHERE x.serial = s.serial AND x.type = y.type AND x.value = y.value)))
     AND NOT EXISTS (
       SELECT 1 FROM certificates s
        WHERE c.spiffe_id IS NULL
          AND NOT EXISTS (SELECT 1 FROM certificate_names y WHERE y.serial = c.serial AND y.type IN ('dns', 'ip'))
          AND s.subject = c.subject AND s.profile = c.profile AND s.spiffe_id IS NULL
          AND NOT EXISTS (SELECT 1 FROM certificate_names x WHERE x.serial = s.serial AND x.type IN ('dns', 'ip'))
          AND s.serial <> c.serial AND s.issued_at >= c.issued_at
          AND s.status = 'valid' AND s.not_after > :horizon)`;
}

export function expiringStatements(dialect: SqlDialect): ExpiringStatements {
  const rules = expiringRules(dialect);
  const inProfileList = dialect === 'sqlite' ? 'c.profile IN (SELECT value FROM json_each(:profiles))' : 'c.profile = ANY(:profiles)';
  return {
    others: `
  SELECT ${ALERTED_COLUMNS}
    FROM certificates c
   WHERE c.profile <> 'svid' AND (:profiles IS NULL OR ${inProfileList})
     AND ${rules}
   ORDER BY c.not_after, c.serial`,
    stoppedSvids: `
  SELECT ${ALERTED_COLUMNS}
    FROM certificates c
   WHERE c.profile = 'svid' AND c.serial IN (${STOPPED_RENEWING_SERIALS_LONGER_THAN})
     AND ${rules}
   ORDER BY c.not_after, c.serial`,
    allSvids: `
  SELECT ${ALERTED_COLUMNS}
    FROM certificates c
   WHERE c.profile = 'svid'
     AND ${rules}
   ORDER BY c.not_after, c.serial`,
  };
}
