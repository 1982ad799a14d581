/**
 * The cluster secret: 32 random bytes in `<dataDir>/ca/cluster.key` (0600),
 * made once beside the CA keys and shared by copying `ca/` to every node of a
 * cluster (README, "Running several nodes"). Nodes derive the same keys from
 * it without talking: TLS session-ticket keys per rotation period (a ticket
 * resumes on any node) and the ACME nonce MAC key (a nonce minted on one node
 * is accepted on another). The ledger keeps a check value derived from it, so
 * a node with another secret refuses to start (cluster-secret-check.ts). The raw secret is never used as a key itself: each
 * purpose takes its own HKDF-SHA256 output (RFC 5869) under a distinct info label.
 */
import { hkdfSync, randomBytes } from 'node:crypto';
import { existsSync, linkSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { fixMode, syncDirectory, writeDurably } from '../ca/index.js';

export const CLUSTER_SECRET_FILE = 'cluster.key';
const SECRET_BYTES = 32;
const DERIVED_KEY_BYTES = 32;

/**
 * The HKDF info labels, one per purpose, versioned so that a change of use
 * takes a new label rather than reusing an old key. The ticket label gets the
 * period appended (see ticketKeyForPeriod); no label is a prefix of another.
 */
const LABELS = {
  ticketKey: 'keysmith v1 tls session-ticket key; period ',
  acmeNonceKey: 'keysmith v1 acme nonce mac key',
  checkValue: 'keysmith v1 cluster key check',
} as const;

export function clusterSecretPath(dataDir: string): string {
  return join(dataDir, 'ca', CLUSTER_SECRET_FILE);
}

let stagingCount = 0;

/** The secret of a cluster and the keys derived from it; the bytes themselves never leave this object. */
export class ClusterSecret {
  private readonly secret: Buffer;

  private constructor(secret: Buffer) {
    this.secret = secret;
  }

  /**
   * Reads `<dataDir>/ca/cluster.key`, creating it when absent (the CA
   * directory must exist: it is made first). A file of any other length than
   * 32 bytes stops the start with the path in the message; a loose mode is
   * tightened to 0600 and reported through `warn`.
   */
  static loadOrCreate(dataDir: string, warn: (message: string) => void): { readonly secret: ClusterSecret; readonly created: boolean } {
    const path = clusterSecretPath(dataDir);
    const dir = join(dataDir, 'ca');
    if (!existsSync(dir)) throw new Error(`no CA in ${dir}: create the CA before the cluster secret`);
    let created = false;
    if (!existsSync(path)) created = createSecretFile(dir, path);
    fixMode(path, 0o600, warn);
    const bytes = readFileSync(path);
    if (bytes.length !== SECRET_BYTES) {
      throw new Error(
        `the cluster secret ${path} holds ${bytes.length} bytes, not ${SECRET_BYTES}: copy it again from a node of the cluster`,
      );
    }
    return { secret: new ClusterSecret(bytes), created };
  }

  /** For tests: a secret from given bytes (exactly 32). */
  static fromBytes(bytes: Uint8Array): ClusterSecret {
    if (bytes.length !== SECRET_BYTES) throw new TypeError(`a cluster secret is ${SECRET_BYTES} bytes, not ${bytes.length}`);
    return new ClusterSecret(Buffer.from(bytes));
  }

  /**
   * The session-ticket key of one rotation period (the TLS engine's
   * `ticketKeyForPeriod`): every node computes the same key for the same
   * period, and a key of one period says nothing about another's.
   */
  ticketKeyForPeriod(period: number): Uint8Array {
    if (!Number.isSafeInteger(period) || period < 0) throw new RangeError(`ticket key period ${period}`);
    return this.derive(`${LABELS.ticketKey}${period}`);
  }

  /** The key that MACs ACME nonces (src/acme/nonces.ts). */
  acmeNonceKey(): Uint8Array {
    return this.derive(LABELS.acmeNonceKey);
  }

  /**
   * What the ledger records to tell this secret from another
   * (cluster-secret-check.ts): an HKDF output under its own label, so it
   * gives away neither the secret nor any key derived for another purpose.
   */
  checkValue(): Uint8Array {
    return this.derive(LABELS.checkValue);
  }

  private derive(info: string): Uint8Array {
    // RFC 5869 §3.1: the secret is already uniformly random, so no salt is needed; the info label separates the uses.
    return new Uint8Array(hkdfSync('sha256', this.secret, Buffer.alloc(0), Buffer.from(info, 'utf8'), DERIVED_KEY_BYTES));
  }

  /** Never print the secret (a stray console.log or a structured log of a config object). */
  toJSON(): string {
    return '[cluster secret]';
  }
}

/**
 * Writes the secret to a staging file and links it into place: the file
 * appears whole or not at all, and when another process (a second node
 * starting on the same directory) made one first, theirs wins. True when ours did.
 */
function createSecretFile(dir: string, path: string): boolean {
  const staging = join(dir, `.${CLUSTER_SECRET_FILE}.${process.pid}.${++stagingCount}`);
  rmSync(staging, { force: true });
  let isOurs = true;
  try {
    writeDurably(staging, randomBytes(SECRET_BYTES), 0o600);
    try {
      linkSync(staging, path);
    } catch (err) {
      if (!(err instanceof Error && 'code' in err && err.code === 'EEXIST')) throw err;
      isOurs = false;
    }
  } finally {
    rmSync(staging, { force: true });
  }
  syncDirectory(dir);
  return isOurs;
}
