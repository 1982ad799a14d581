import type { GroupCommitTarget } from '../../../src/ledger/index.js';
import type { NewCertificateRecord } from '../../../src/domain/certificates.js';
import { makeRecord } from './ledger-fixtures.js';

/**
 * Shared by the GroupCommit tests (contract/group-commit.test.ts on both
 * backends, group-commit.test.ts for what only SQLite shows): a pass-through
 * over a real certificate repository (or the commit worker, commit-worker.test.ts) that counts the calls reaching it, i.e.
 * the transactions actually run.
 */

export interface CountingTarget {
  readonly target: GroupCommitTarget;
  /** Size of each recordIssuedMany call, in order. */
  readonly batches: number[];
  /** Serials of each single-row recordIssued call, in order. */
  readonly singles: string[];
}

export function counting(ledger: { readonly certificates: GroupCommitTarget }): CountingTarget {
  const repository = ledger.certificates;
  const batches: number[] = [];
  const singles: string[] = [];
  const target: GroupCommitTarget = {
    recordIssuedMany: (records) => {
      batches.push(records.length);
      return repository.recordIssuedMany(records);
    },
    recordIssued: (record) => {
      singles.push(record.serial);
      return repository.recordIssued(record);
    },
    isSerialTaken: (serial) => repository.isSerialTaken(serial),
    findBySerial: (serial) => repository.findBySerial(serial),
    revoke: (serial, reason, revokedAt) => repository.revoke(serial, reason, revokedAt),
    statusOf: (serial) => repository.statusOf(serial),
  };
  return { target, batches, singles };
}

export function records(count: number): NewCertificateRecord[] {
  return Array.from({ length: count }, () => makeRecord());
}
