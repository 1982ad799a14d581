import { describeCertificate, toPem } from '../x509/index.js';
import { listIntermediates } from './intermediate-files.js';
import { LIFETIMES } from './profiles.js';
import { classifyIntermediates, type IntermediateStatus } from './rotation.js';

/** One intermediate of `ca/` with its state at a given instant. */
export interface IntermediateView extends IntermediateStatus {
  readonly certDer: Uint8Array;
  readonly certPem: string;
  readonly keyPath: string;
  readonly isOriginal: boolean;
  /** Its subject as the ledger writes issuers (the `issuer` of the leaves it signed). */
  readonly nameText: string;
}

/**
 * The longest a leaf keysmith signs can live (the largest profile maximum:
 * tls-server, 397 days), plus an hour for a node to notice an activation: a
 * retiring intermediate stays published this long after it stops signing,
 * unless it expires first. A bound, not the ledger's last leaf: it needs no
 * scan of the certificates and is the same on every node.
 */
export const LONGEST_LEAF_MS = Math.max(...Object.values(LIFETIMES).map((l) => l.maxTtlMs)) + 3_600_000;

/** Every intermediate in `caDir` with its state at `now`; `revoked` maps the serials the ledger records revoked to when. */
export function readIntermediates(
  caDir: string,
  now: number,
  options: { readonly longestLeafMs: number; readonly revoked: ReadonlyMap<string, number> },
): IntermediateView[] {
  const onDisk = listIntermediates(caDir);
  const facts = onDisk.map((i) => {
    const described = describeCertificate(i.certDer);
    return {
      serial: i.serial,
      notBefore: described.notBefore,
      notAfter: described.notAfter,
      preparedAt: i.preparedAt,
      activateAt: i.activateAt,
      revokedAt: options.revoked.get(i.serial),
      extra: { certDer: i.certDer, certPem: toPem(i.certDer), keyPath: i.keyPath, isOriginal: i.isOriginal, nameText: described.subject },
    };
  });
  const statuses = classifyIntermediates(facts, now, { longestLeafMs: options.longestLeafMs });
  return statuses.map((status, index) => {
    const extra = facts[index]?.extra;
    if (extra === undefined) throw new Error('unreachable: one status per intermediate');
    const { serial, notBefore, notAfter, preparedAt, activateAt, revokedAt, state, signedUntil, droppedAt } = status;
    return { serial, notBefore, notAfter, preparedAt, activateAt, revokedAt, state, signedUntil, droppedAt, ...extra };
  });
}
