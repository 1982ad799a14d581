/**
 * The issuing half of a core (compose.ts openCore): the Authority over the CA
 * material, its certificates committed in groups (on SQLite by a worker
 * thread), CSR checks and leaf signatures on a pool of crypto workers.
 */
import { availableParallelism } from 'node:os';
import type { Config } from '../config/index.js';
import { Authority, type AuthorityDeps } from '../ca/index.js';
import { type CommitWorker, GroupCommit, type LedgerBackend, type OpenedLedger } from '../ledger/index.js';
import type { Clock } from '../shared/clock.js';
import { CryptoPool } from '../x509/index.js';

export interface Signing {
  readonly authority: Authority;
  /** The crypto worker pool (absent with cryptoWorkers 0). */
  readonly cryptoPool: CryptoPool | undefined;
  /** SQLite: the thread that commits issued certificates; undefined on PostgreSQL. */
  readonly commitWorker: CommitWorker | undefined;
  /** Where a crypto worker's uncaught error is reported from now on; until called, a warning on stderr. */
  reportCryptoWorkerErrors(report: (error: Error) => void): void;
  /** Commits what is queued, stops the commit worker, then the crypto workers (the ledger stays open). */
  close(): Promise<void>;
}

/** Where certificates send relying parties (compose.ts revocationBaseUrl, crlUrl). */
export interface RevocationUrls {
  readonly ocspUrl: string;
  readonly crlUrl: string;
}

export function openSigning(
  config: Config,
  ledger: OpenedLedger,
  material: AuthorityDeps['material'],
  clock: Clock,
  urls: RevocationUrls,
): Signing {
  const repositories: LedgerBackend = ledger.ledger;
  // Rows signed in the same event-loop turn share one durable commit (group commit); each caller still waits for its own.
  // SQLite: the commits run on a worker thread with its own connection, so the disk wait never holds the event loop.
  const commitWorker = ledger.kind === 'sqlite' ? ledger.ledger.commitWorker() : undefined;
  const certificateWriter = new GroupCommit(commitWorker ?? repositories.certificates);
  // CSR checks and leaf signatures on worker threads, one per core (README "Performance of issuance"); started on first use.
  const cryptoWorkers = config.cryptoWorkers ?? availableParallelism();
  // The message only: an error from a signing thread is never logged with more than what it says.
  let reportWorkerError = (error: Error): void =>
    console.error(`keysmith: warning: a crypto worker failed and is replaced: ${error.message}`);
  const cryptoPool =
    cryptoWorkers > 0 ? new CryptoPool({ workers: cryptoWorkers, onWorkerError: (error) => reportWorkerError(error) }) : undefined;
  const authority = new Authority({
    ...(cryptoPool === undefined ? {} : { leafSigner: cryptoPool }),
    material,
    store: certificateWriter,
    clock,
    ocspUrl: urls.ocspUrl,
    crlUrl: urls.crlUrl,
    crlShards: config.crlShards,
  });
  return {
    authority,
    cryptoPool,
    commitWorker,
    reportCryptoWorkerErrors: (report) => {
      reportWorkerError = report;
    },
    close: async () => {
      // Queued rows are committed before the database goes; then the commit worker stops.
      try {
        await certificateWriter.close();
        await commitWorker?.close();
      } finally {
        await cryptoPool?.close();
      }
    },
  };
}
