import { afterEach, beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  AlertSchedule,
  alertKey,
  IDEMPOTENCY_HEADER,
  SIGNATURE_HEADER,
  type AlertRunner,
  type DeliveryReport,
  type RunOutcome,
} from '../../../src/alerts/index.js';
import { openLedgerBackend, type PostgresLedger } from '../../../src/ledger/index.js';
import { createTestDatabase, type TestDatabase } from '../../helpers/postgres.js';
import {
  certificate,
  DAY,
  FakeClock,
  makeRunner,
  MemoryLogger,
  settings,
  T0,
  verifySignature,
  WEBHOOK_SECRET,
  WebhookReceiver,
  webhookTo,
} from './helpers.js';

/**
 * Expiry alerts on a keysmith cluster: three nodes (three schedulers, each
 * with its own connection pool and holder, as three processes would have)
 * on one PostgreSQL database, and a real webhook receiver on 127.0.0.1
 * counting what arrives. A cron tick must run on one node, and each
 * certificate's alert reach the receiver once (once per attempt, when the
 * receiver fails the first one).
 */

const NODES = 3;
const CERTIFICATES = 5;
const SLOT = T0 + 83 * DAY;

interface Node {
  readonly ledger: PostgresLedger;
  readonly runner: AlertRunner;
  readonly schedule: AlertSchedule;
}

interface Cluster {
  readonly database: TestDatabase;
  readonly receiver: WebhookReceiver;
  readonly clock: FakeClock;
  readonly nodes: readonly Node[];
  /** The certificates that expire within the 7-day threshold at SLOT. */
  readonly serials: readonly string[];
  close(): Promise<void>;
}

async function startCluster(): Promise<Cluster> {
  const database = await createTestDatabase('alerts_cluster');
  const receiver = await WebhookReceiver.start();
  const clock = new FakeClock(SLOT);
  const nodes: Node[] = [];
  const close = async (): Promise<void> => {
    for (const node of nodes) {
      await node.schedule.stop();
      await node.ledger.close();
    }
    await receiver.close();
    await database.drop();
  };
  try {
    for (let index = 1; index <= NODES; index += 1) {
      const opened = await openLedgerBackend({ kind: 'postgres', url: database.url, poolSize: 3 });
      if (opened.kind !== 'postgres') throw new Error('expected PostgreSQL');
      const logger = new MemoryLogger();
      const runner = makeRunner(opened.ledger, clock, settings({ webhook: webhookTo(receiver) }), { holder: `node${index}`, logger });
      // A short retry: the nodes that find the lease held try again until the holder is done.
      const schedule = new AlertSchedule({ expression: '0 9 * * *', runner, clock, logger, leaseRetryMs: 50, leasePatienceMs: 60_000 });
      nodes.push({ ledger: opened.ledger, runner, schedule });
    }
    const serials: string[] = [];
    for (let i = 0; i < CERTIFICATES; i += 1) {
      // Server certificates issued 83 days before SLOT for 90 days, each its own name: all inside the 7-day threshold, none renewed.
      const cert = certificate({
        issuedAt: T0 - i * 60_000,
        lifetimeMs: 90 * DAY,
        profile: 'tls-server',
        spiffeId: null,
        dnsNames: [`svc${i}.cluster.example`],
      });
      await nodeAt({ nodes }, 0).ledger.certificates.recordIssued(cert);
      serials.push(cert.serial);
    }
    return { database, receiver, clock, nodes, serials, close };
  } catch (error) {
    await close();
    throw error;
  }
}

function nodeAt(cluster: Pick<Cluster, 'nodes'>, index: number): Node {
  const node = cluster.nodes[index];
  if (node === undefined) throw new Error(`no node ${index}`);
  return node;
}

function keysReceived(receiver: WebhookReceiver): string[] {
  return receiver.requests.map((r) => String(r.headers[IDEMPOTENCY_HEADER])).sort();
}

function sum(reports: readonly (DeliveryReport | null)[], field: 'sent' | 'retrying' | 'failed'): number {
  return reports.reduce((total, report) => total + (report?.[field] ?? 0), 0);
}

describe('expiry alerts on three nodes sharing PostgreSQL', () => {
  let cluster: Cluster;
  beforeEach(async () => {
    cluster = await startCluster();
  });
  afterEach(() => cluster.close());

  it('runs one tick on one node and delivers each certificate once', async () => {
    const { nodes, receiver, serials } = cluster;
    const outcomes: RunOutcome[] = await Promise.all(nodes.map((node) => node.schedule.runSlot(SLOT)));

    const ran = outcomes.filter((o) => o.status === 'ran');
    assert.equal(ran.length, 1, `outcomes: ${JSON.stringify(outcomes.map((o) => (o.status === 'ran' ? o.status : o.reason)))}`);
    assert.deepEqual(
      outcomes.flatMap((o) => (o.status === 'skipped' ? [o.reason] : [])),
      ['already-ran', 'already-ran'],
      'the other two waited for the lease, then found the slot taken',
    );
    const [winner] = ran;
    assert.ok(winner?.status === 'ran');
    assert.deepEqual(winner.enqueued.map((a) => a.serial).sort(), [...serials].sort());
    assert.deepEqual(await winner.delivered, { sent: CERTIFICATES, retrying: 0, failed: 0, isPartial: false });

    // Later passes on every node find nothing left to send.
    for (const node of nodes) assert.deepEqual(await node.runner.deliverDue(), { sent: 0, retrying: 0, failed: 0, isPartial: false });

    assert.equal(receiver.requests.length, CERTIFICATES, 'one request per certificate, none twice');
    assert.deepEqual(keysReceived(receiver), serials.map((serial) => alertKey(serial, 7 * DAY)).sort());
    for (const request of receiver.requests) {
      const header = request.headers[SIGNATURE_HEADER];
      assert.ok(verifySignature(WEBHOOK_SECRET, request.body, typeof header === 'string' ? header : undefined));
    }

    const ledger = nodeAt(cluster, 0).ledger;
    const runs = await ledger.database.rows<{ slot: number | null; holder: string; finished: boolean }>(
      'SELECT slot, holder, finished_at IS NOT NULL AS finished FROM alert_runs ORDER BY id',
    );
    assert.equal(runs.length, 1, 'one run row: the slot is claimed once');
    assert.equal(runs[0]?.slot, SLOT);
    assert.equal(runs[0]?.finished, true);
    assert.match(runs[0]?.holder ?? '', /^node[1-3]$/);
    const messages = await ledger.database.rows<{ status: string; attempts: number; count: number }>(
      'SELECT status, attempts, count(*) AS count FROM alert_messages GROUP BY status, attempts',
    );
    assert.deepEqual(messages, [{ status: 'sent', attempts: 1, count: CERTIFICATES }]);
    assert.deepEqual(
      (await ledger.alerts.list()).items.map((a) => a.status),
      Array(CERTIFICATES).fill('sent'),
    );
    assert.equal(await ledger.leases.holderOf('alerts', SLOT), undefined, 'the lease was released');
  });

  it('retries on one node at a time: three nodes resending at once send each message once more', async () => {
    const { nodes, receiver, serials, clock } = cluster;
    // The receiver refuses the first attempt of each alert, then accepts.
    receiver.behaviour = (index) => (index < CERTIFICATES ? 503 : 200);
    const first = await nodeAt(cluster, 0).schedule.runSlot(SLOT);
    assert.ok(first.status === 'ran');
    assert.deepEqual(await first.delivered, { sent: 0, retrying: CERTIFICATES, failed: 0, isPartial: false });
    const retryAt = await nodeAt(cluster, 1).runner.nextAttemptAt();
    assert.ok(retryAt !== null && retryAt > SLOT);

    clock.set(retryAt);
    const reports = await Promise.all(nodes.map((node) => node.runner.deliverDue()));
    assert.equal(sum(reports, 'sent'), CERTIFICATES, `reports: ${JSON.stringify(reports)}`);
    assert.equal(sum(reports, 'retrying') + sum(reports, 'failed'), 0);
    assert.equal(receiver.requests.length, 2 * CERTIFICATES, 'each alert: one refused attempt, one accepted, no third');
    const expected = serials.map((serial) => alertKey(serial, 7 * DAY));
    assert.deepEqual(keysReceived(receiver), [...expected, ...expected].sort());
    assert.deepEqual(await nodeAt(cluster, 2).runner.nextAttemptAt(), null, 'nothing left pending');
  });
});
