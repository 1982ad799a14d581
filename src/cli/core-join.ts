/**
 * What a starting node joins before it issues anything: the cluster's CA
 * (created on first start) and the cluster secret, both checked against
 * what the ledger records (openCore in compose.ts).
 */
import { caPaths, initCertificateAuthority, listIntermediates, revokedIntermediates } from '../ca/index.js';
import type { Config } from '../config/index.js';
import type { LedgerBackend, OpenedLedger } from '../ledger/index.js';
import type { Clock } from '../shared/clock.js';
import { caInitLockFor, joinCertificateAuthority, type CaLedger } from './ca-join.js';
import { ClusterSecret } from './cluster-secret.js';
import { checkClusterSecret, type ClusterCheckLedger } from './cluster-secret-check.js';

type InitializedCa = Awaited<ReturnType<typeof initCertificateAuthority>>;

/**
 * The ledger names the cluster's CA: a node whose ca/ is another refuses to start (ca-join.ts).
 * On PostgreSQL an advisory lock makes nodes starting together create one CA. On first start, creates it.
 */
export async function joinCa(config: Config, ledger: OpenedLedger, clock: Clock, notices: string[]): Promise<InitializedCa['material']> {
  const repositories: LedgerBackend = ledger.ledger;
  const lock = caInitLockFor(ledger);
  const { material, created, warnings } = await joinCertificateAuthority({
    ledger: repositories.certificates satisfies CaLedger,
    dataDir: config.dataDir,
    now: () => clock.now(),
    ...(lock === undefined ? {} : { lock }),
    init: async () =>
      initCertificateAuthority({
        dataDir: config.dataDir,
        trustDomain: config.trustDomain,
        algorithm: config.caAlgorithm,
        store: repositories.certificates,
        clock,
        // A revoked intermediate never signs again, whatever its schedule says (docs/ca-lifecycle.md).
        revoked: await revokedIntermediates(
          repositories.certificates,
          listIntermediates(caPaths(config.dataDir).dir).map((i) => i.serial),
        ),
        renewWarningShare: config.caRenewWarningPercent / 100,
        ...(config.caPassphrase === undefined ? {} : { passphrase: config.caPassphrase }),
      }),
  });
  for (const warning of warnings) notices.push(`warning: ${warning}`);
  if (created) notices.push(`created the CA hierarchy for spiffe://${config.trustDomain} in ${config.dataDir}/ca`);
  return material;
}

/**
 * The cluster secret (created on first start), checked before anything uses it: a node whose
 * cluster.key is not the one the ledger knows refuses to start (cluster-secret-check.ts).
 */
export async function joinCluster(config: Config, repositories: LedgerBackend, clock: Clock, notices: string[]): Promise<ClusterSecret> {
  const cluster = ClusterSecret.loadOrCreate(config.dataDir, (message) => notices.push(`warning: ${message}`));
  if (cluster.created) notices.push(`created the cluster secret ${config.dataDir}/ca/cluster.key (copy ca/ to every node of a cluster)`);
  await checkClusterSecret({
    ledger: repositories.clusterCheck satisfies ClusterCheckLedger,
    secret: cluster.secret,
    dataDir: config.dataDir,
    now: clock.now(),
    created: cluster.created,
  });
  return cluster.secret;
}
