import { timingSafeEqual } from 'node:crypto';
import type { RecordedClusterCheck } from '../ledger/index.js';
import type { Awaitable } from '../shared/awaitable.js';
import { clusterSecretPath, type ClusterSecret } from './cluster-secret.js';

/**
 * A node whose `ca/cluster.key` is not the cluster's would run, and fail in
 * the least helpful way: behind a round-robin balancer its ACME nonces are
 * refused by every other node (clients loop on badNonce, RFC 8555 §6.5) and
 * TLS session tickets minted elsewhere never resume on it. So the ledger
 * records the secret's check value on the first start (ClusterSecret.checkValue,
 * an HKDF output, never the secret) and every start compares its own with it,
 * in constant time, refusing to start on a difference with the file to copy.
 */

/** What the check needs from the ledger (ClusterCheckRepository on SQLite, PostgresClusterCheckRepository). */
export interface ClusterCheckLedger {
  recordOrGet(value: Uint8Array, recordedAt: number): Awaitable<RecordedClusterCheck>;
}

export class ClusterSecretMismatchError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ClusterSecretMismatchError';
  }
}

export type ClusterSecretCheck = 'recorded' | 'match';

export interface ClusterSecretCheckOptions {
  readonly ledger: ClusterCheckLedger;
  readonly secret: ClusterSecret;
  readonly dataDir: string;
  readonly now: number;
  /** True when this start created `cluster.key` (the node had none): the message then says so. */
  readonly created: boolean;
}

/**
 * 'recorded' when this node's check value is now the ledger's (first start,
 * or a ledger from before the check), 'match' when it was already; throws
 * ClusterSecretMismatchError otherwise.
 */
export async function checkClusterSecret(options: ClusterSecretCheckOptions): Promise<ClusterSecretCheck> {
  const ours = options.secret.checkValue();
  const recorded = await options.ledger.recordOrGet(ours, options.now);
  // The check value is derived from a secret: compared in constant time, as any MAC would be.
  const isSame = recorded.value.length === ours.length && timingSafeEqual(recorded.value, ours);
  if (isSame) return recorded.isNew ? 'recorded' : 'match';
  const path = clusterSecretPath(options.dataDir);
  const found = options.created
    ? `this node had no cluster secret and created ${path} at this start, but the ledger already belongs to a cluster with another one`
    : `the cluster secret ${path} is not this cluster's (its check value differs from the one the ledger's first node recorded)`;
  throw new ClusterSecretMismatchError(
    `${found}: copy cluster.key from a running node's <dataDir>/ca/ (the whole ca/ directory, as when joining) to ${path}, mode 0600, ` +
      'and start again. A node with another secret would refuse the ACME nonces and TLS session tickets of every other node.',
  );
}
