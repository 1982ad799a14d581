import { readFileSync } from 'node:fs';
import { caPaths, listIntermediates } from '../ca/index.js';
import { AdvisoryLock, CA_INIT_LOCK_KEY, type OpenedLedger } from '../ledger/index.js';
import type { Awaitable } from '../shared/awaitable.js';
import type { CertificatePage, CertificateQuery } from '../domain/certificates.js';
import { describeCertificate, fromPem } from '../x509/index.js';

/**
 * A node joins a cluster with a copy of the first node's `<dataDir>/ca/`
 * (mounted like a secret), never with a CA of its own. The ledger records
 * the CA's own certificates (profile 'intermediate' and 'root', requester
 * 'system'), so it names the cluster's active intermediate; a node whose
 * ca/ holds another one, or none while the ledger has one, would sign
 * certificates nobody else's bundle trusts: it refuses to start instead,
 * naming both certificates.
 *
 * The check reads the ledger through one Awaitable method, so the SQLite
 * repository (synchronous) and the PostgreSQL one (promises) both fit.
 */

/** What the check needs from the ledger: the certificates listing, filtered by profile and status. */
export interface CaLedger {
  list(query: CertificateQuery): Awaitable<CertificatePage>;
}

/**
 * Runs `work` while no other node runs it: on PostgreSQL an advisory lock,
 * so that nodes starting together on an empty database create one CA. One
 * process per SQLite file needs none.
 */
export interface CaInitLock {
  exclusive<T>(work: () => Promise<T>): Promise<T>;
}

/** The lock for CA initialisation on this ledger: a PostgreSQL advisory lock; none on SQLite (one process per file). */
export function caInitLockFor(opened: OpenedLedger): CaInitLock | undefined {
  return opened.kind === 'postgres' ? new AdvisoryLock(opened.ledger.database, CA_INIT_LOCK_KEY) : undefined;
}

/** One intermediate, as the message names it. */
export interface IntermediateIdentity {
  readonly serial: string;
  /** SHA-256 of the DER, lowercase hex. */
  readonly fingerprint: string;
  readonly notAfter: number;
}

export class CaMismatchError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CaMismatchError';
  }
}

/** The ledger holds few CA certificates (one intermediate per rotation); one page covers them. */
const CA_PAGE = 500;

/**
 * The cluster's newest intermediate: of the valid, unexpired intermediates
 * the ledger records, the newest (latest notBefore; serial breaks a tie so
 * every node picks the same one); after `keysmith ca rotate` that is the
 * prepared one, which every node's ca/ must then hold too. Undefined when
 * the ledger has none yet.
 */
export async function activeIntermediate(ledger: CaLedger, now: number): Promise<IntermediateIdentity | undefined> {
  const page = await ledger.list({ profile: 'intermediate', status: 'valid', limit: CA_PAGE });
  const current = page.items.filter((c) => c.notAfter > now);
  current.sort((a, b) => b.notBefore - a.notBefore || (a.serial < b.serial ? -1 : a.serial > b.serial ? 1 : 0));
  const newest = current[0];
  return newest === undefined ? undefined : { serial: newest.serial, fingerprint: newest.fingerprint, notAfter: newest.notAfter };
}

/** The intermediate certificate in `<dataDir>/ca/`, or undefined when the file is not there. */
export function localIntermediate(dataDir: string): IntermediateIdentity | undefined {
  const path = caPaths(dataDir).intermediateCert;
  let pem: string;
  try {
    pem = readFileSync(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  const described = describeCertificate(fromPem(pem));
  return { serial: described.serial, fingerprint: described.fingerprint, notAfter: described.notAfter };
}

export type CaCheck =
  /** The ledger has no intermediate yet: this node may create the CA, or record the one in its ca/. */
  { readonly outcome: 'ledger-empty' } | { readonly outcome: 'match'; readonly intermediate: IntermediateIdentity };

function describe(intermediate: IntermediateIdentity): string {
  return `serial ${intermediate.serial} (SHA-256 ${intermediate.fingerprint})`;
}

/**
 * Compares `<dataDir>/ca/` with the ledger's active intermediate; throws
 * CaMismatchError naming both when they differ, or when the ledger has a CA
 * and this data directory has none.
 */
export async function checkCaAgainstLedger(ledger: CaLedger, dataDir: string, now: number): Promise<CaCheck> {
  const active = await activeIntermediate(ledger, now);
  const local = localIntermediate(dataDir);
  const dir = caPaths(dataDir).dir;
  if (active === undefined) return { outcome: 'ledger-empty' };
  if (local === undefined) {
    throw new CaMismatchError(
      `the ledger's active intermediate CA is ${describe(active)}, but ${dir} holds no CA: ` +
        `copy the first node's <dataDir>/ca/ directory there (and give the same KEYSMITH_CA_PASSPHRASE) to join this cluster; ` +
        'keysmith does not create a second CA on a ledger that has one',
    );
  }
  // After a rotation the ledger's newest intermediate may be a prepared or rotated one (ca/intermediates/<serial>/).
  const held = listIntermediates(dir).map((i) => describeCertificate(i.certDer).fingerprint);
  if (!held.includes(active.fingerprint)) {
    throw new CaMismatchError(
      `${dir} holds intermediate CA ${describe(local)}, but the ledger's active intermediate is ${describe(active)}: ` +
        `this node's ca/ is not the cluster's; replace it with a copy of the first node's <dataDir>/ca/ ` +
        "(or point KEYSMITH_DATABASE_URL at this CA's own database)",
    );
  }
  return { outcome: 'match', intermediate: active };
}

export interface JoinOptions<T> {
  readonly ledger: CaLedger;
  readonly dataDir: string;
  readonly now: () => number;
  /** Loads the CA in `<dataDir>/ca/`, creating and recording it when absent (initCertificateAuthority). */
  readonly init: () => Promise<T>;
  readonly lock?: CaInitLock;
}

/**
 * Checks, then loads or creates the CA, then checks again that what this
 * node holds is the ledger's active intermediate, all under the lock: the
 * first node on an empty ledger creates the CA and records it; every later
 * node (or a second `keysmith init`) finds it and either matches or stops.
 */
export async function joinCertificateAuthority<T>(options: JoinOptions<T>): Promise<T> {
  const run = async (): Promise<T> => {
    await checkCaAgainstLedger(options.ledger, options.dataDir, options.now());
    const result = await options.init();
    const after = await checkCaAgainstLedger(options.ledger, options.dataDir, options.now());
    if (after.outcome !== 'match') {
      // init records the intermediate before returning; finding none means the ledger did not keep the row.
      throw new CaMismatchError(`the intermediate CA in ${caPaths(options.dataDir).dir} was not found in the ledger after it was recorded`);
    }
    return result;
  };
  return options.lock === undefined ? run() : options.lock.exclusive(run);
}
