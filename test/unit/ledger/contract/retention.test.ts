import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { countPrunable, pruneLedger, type LedgerBackend, type RetentionPolicy } from '../../../../src/ledger/index.js';
import { BACKENDS, type BackendUnderTest } from '../../../helpers/backends.js';
import { DAY, HOUR, makeRecord, NOW } from '../ledger-fixtures.js';
import { newAccount, newAuthorization, newOrder, TestClock } from './acme-fixtures.js';
import { assertRejectsDomainError, withRawSql, type RawSql } from './contract-fixtures.js';
import type { TestLedgerLocation } from '../../../helpers/backends.js';

/**
 * Retention (src/ledger/retention.ts, migrations/0009) on both backends: a
 * steady daily load, a fake clock moved a day at a time, a pass after each
 * day, and exact row counts: every table settles at the size the period
 * implies and stays there, while the rows retention must never touch stay.
 */

const PERIOD = 10 * DAY;
const CERTS_PER_DAY = 20;
const DAYS = 24;
/** Small batches, so a day's certificates take several transactions. */
const POLICY_BASE = { periodMs: PERIOD, batchSize: 7 } as const;
const WRAPPED_KEY = '-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED PRIVATE KEY-----\n';

async function count(raw: RawSql, sql: string): Promise<number> {
  const rows = await raw.rows<{ n: number | string }>(`SELECT count(*) AS n FROM ${sql}`);
  return Number(rows[0]?.n ?? -1);
}

interface Fixed {
  readonly root: string;
  readonly intermediate: string;
  readonly listener: string;
  readonly responder: string;
  readonly revokedUnexpired: string;
  readonly revokedExpired: string;
}

/** Rows present from the start, each with a reason to stay (or, for revokedExpired, to go once its notAfter is a period old). */
async function recordFixedRows(ledger: LedgerBackend): Promise<Fixed> {
  const shortLived = { notBefore: NOW - HOUR, notAfter: NOW + DAY, issuedAt: NOW };
  const root = makeRecord({ ...shortLived, profile: 'root', spiffeId: null, sans: [], subject: 'CN=root' });
  const intermediate = makeRecord({ ...shortLived, profile: 'intermediate', spiffeId: null, sans: [], subject: 'CN=intermediate' });
  const listener = makeRecord({ ...shortLived, profile: 'tls-server', spiffeId: null, sans: [{ type: 'dns', value: 'keysmith.test' }] });
  const responder = makeRecord({ ...shortLived, profile: 'ocsp-signer', spiffeId: null, sans: [] });
  const revokedUnexpired = makeRecord({ notBefore: NOW - HOUR, notAfter: NOW + 1000 * DAY, issuedAt: NOW });
  const revokedExpired = makeRecord({ notBefore: NOW - HOUR, notAfter: NOW + 2 * DAY, issuedAt: NOW });
  for (const record of [root, intermediate, listener, responder, revokedUnexpired, revokedExpired])
    await ledger.certificates.recordIssued(record);
  await ledger.certificates.revoke(revokedUnexpired.serial, 'keyCompromise', NOW);
  await ledger.certificates.revoke(revokedExpired.serial, 'superseded', NOW);
  await ledger.ocspResponders.record(responder.serial, WRAPPED_KEY, NOW);
  return {
    root: root.serial,
    intermediate: intermediate.serial,
    listener: listener.serial,
    responder: responder.serial,
    revokedUnexpired: revokedUnexpired.serial,
    revokedExpired: revokedExpired.serial,
  };
}

/** One day of load at `now`: short-lived SVIDs, a redeemed and an unused join token, an ACME order, spent nonces, a delivered alert message. */
async function oneDay(ledger: LedgerBackend, raw: RawSql, accountId: string, now: number, day: number): Promise<void> {
  for (let i = 0; i < CERTS_PER_DAY; i++)
    await ledger.certificates.recordIssued(makeRecord({ notBefore: now - 60_000, notAfter: now + HOUR, issuedAt: now }));
  for (const isRedeemed of [true, false]) {
    const tokenHash = createHash('sha256').update(randomBytes(16)).digest('hex');
    await ledger.joinTokens.create({
      id: `jt-${randomBytes(9).toString('hex')}`,
      tokenHash,
      spiffeId: `spiffe://keysmith.local/node/n${day}`,
      expiresAt: now + 10 * 60_000,
      createdAt: now,
      createdBy: 'test',
      usedAt: null,
      usedBySerial: null,
      revokedAt: null,
    });
    if (isRedeemed) await ledger.joinTokens.redeem(tokenHash, now);
  }
  const authz = newAuthorization(accountId, `d${day}.example.test`, ['http-01'], { expiresAt: now + 2 * DAY, createdAt: now });
  await ledger.acme.orders.createOrder(newOrder(accountId, [authz], { expiresAt: now + 7 * DAY, createdAt: now }), now);
  for (let i = 0; i < 3; i++) assert.equal(await ledger.nonces.spend(`n${day}x${i}`, now + HOUR, now), true);
  const run = await raw.rows<{ id: number | string }>(
    `INSERT INTO alert_runs (reason, slot, holder, started_at, finished_at, enqueued) VALUES ('manual', NULL, 'test', ?, ?, 0) RETURNING id`,
    [now, now + 1000],
  );
  const runId = Number(run[0]?.id);
  await raw.run(
    `INSERT INTO alert_messages (channel, recipient, kind, idempotency_key, run_id, status, attempts, next_attempt_at, created_at, sent_at)
     VALUES ('webhook', 'https://hooks.example.test', 'digest', ?, ?, 'sent', 1, NULL, ?, ?)`,
    [`day-${day}`, runId, now, now + 2000],
  );
}

interface Counts {
  readonly certificates: number;
  readonly joinTokens: number;
  readonly orders: number;
  readonly authorizations: number;
  readonly challenges: number;
  readonly nonces: number;
  readonly messages: number;
  readonly runs: number;
}

async function counts(raw: RawSql): Promise<Counts> {
  return {
    certificates: await count(raw, 'certificates'),
    joinTokens: await count(raw, 'join_tokens'),
    orders: await count(raw, 'acme_orders'),
    authorizations: await count(raw, 'acme_authorizations'),
    challenges: await count(raw, 'acme_challenges'),
    nonces: await count(raw, 'acme_spent_nonces'),
    messages: await count(raw, 'alert_messages'),
    runs: await count(raw, 'alert_runs'),
  };
}

/**
 * What a pass on day `day` (after that day's load) leaves, by the period alone (days are DAY apart, cutoff = now - 10 days):
 * a certificate (notAfter = its day + 1 h) goes once 11 days old; a token (used or not) once it expired 10 days ago (11 days); an order (expires after 7 days) once 17 days old, and its
 * authorization (2 days) only with it; nonces once expired (only today's stay); a message and then its run once sent a period ago.
 */
function expected(day: number, fixedCertificates: number): Counts {
  const days = (age: number): number => Math.min(day + 1, age);
  return {
    certificates: days(11) * CERTS_PER_DAY + fixedCertificates,
    joinTokens: 2 * days(11),
    orders: days(17),
    authorizations: days(17),
    challenges: days(17),
    nonces: 3,
    // Sent 2 s after the day began: 11 days old before sent_at is a period ago.
    messages: days(11),
    runs: days(11),
  };
}

async function withLedger(
  backend: BackendUnderTest,
  use: (ledger: LedgerBackend, location: TestLedgerLocation) => Promise<void>,
): Promise<void> {
  const clock = new TestClock(NOW);
  const { opened, location, dispose } = await backend.open({ clock });
  try {
    await use(opened.ledger, location);
  } finally {
    await dispose();
  }
}

for (const backend of BACKENDS) {
  describe(`retention: ${backend.name}`, () => {
    it('keeps every table at the size the period implies under a steady load, day after day, and never prunes CA, listener, responder or revoked-unexpired rows', async () => {
      await withLedger(backend, async (ledger, location) => {
        await withRawSql(location, async (raw) => {
          const fixed = await recordFixedRows(ledger);
          const account = await ledger.acme.accounts.createAccount(newAccount());
          const policy: RetentionPolicy = { ...POLICY_BASE, keepSerials: [fixed.listener] };
          for (let day = 0; day < DAYS; day++) {
            const now = NOW + day * DAY;
            await oneDay(ledger, raw, account.id, now, day);
            const before = await counts(raw);
            // The revoked certificate whose notAfter (day 2) is a period old goes on day 12; the five other fixed rows never.
            const fixedAfter = day >= 12 ? 5 : 6;
            const fixedBefore = day >= 13 ? 5 : 6;
            const dryRun = await countPrunable(ledger.retention, policy, now);
            const report = await pruneLedger(ledger.retention, policy, now);
            const after = await counts(raw);
            assert.deepEqual(after, expected(day, fixedAfter), `day ${day}`);
            assert.equal(report['certificates'], before.certificates - after.certificates, `day ${day}: the report counts what went`);
            assert.equal(
              before.certificates,
              expected(day, fixedBefore).certificates + (day >= 11 ? CERTS_PER_DAY : 0),
              `day ${day}: before the pass`,
            );
            // The dry run counts what was eligible before the pass; certificates depend on no earlier step here.
            assert.equal(dryRun['certificates'], report['certificates'], `day ${day}: dry run`);
            assert.equal(report['join_tokens'], before.joinTokens - after.joinTokens);
            assert.equal(report['acme_orders'], before.orders - after.orders);
          }
          const kept = await raw.rows<{ serial: string; status: string }>(
            'SELECT serial, status FROM certificates WHERE serial IN (?, ?, ?, ?, ?, ?) ORDER BY serial',
            [fixed.root, fixed.intermediate, fixed.listener, fixed.responder, fixed.revokedUnexpired, fixed.revokedExpired],
          );
          assert.deepEqual(
            kept.map((row) => row.serial),
            [fixed.root, fixed.intermediate, fixed.listener, fixed.responder, fixed.revokedUnexpired].sort(),
          );
          assert.equal((await ledger.certificates.findBySerial(fixed.revokedUnexpired))?.status, 'revoked');
          // spiffe_latest never points at a pruned certificate.
          assert.equal(await count(raw, 'spiffe_latest l WHERE NOT EXISTS (SELECT 1 FROM certificates c WHERE c.serial = l.serial)'), 0);
        });
      });
    });

    it('never prunes a revoked certificate before its notAfter, whatever the period (the CRL lists it until then)', async () => {
      await withLedger(backend, async (ledger, location) => {
        await withRawSql(location, async (raw) => {
          const record = makeRecord({ notBefore: NOW - HOUR, notAfter: NOW + DAY, issuedAt: NOW - HOUR });
          await ledger.certificates.recordIssued(record);
          await ledger.certificates.revoke(record.serial, 'keyCompromise', NOW);
          const zeroPeriod = { periodMs: 0 };
          assert.equal((await pruneLedger(ledger.retention, zeroPeriod, NOW + DAY - 1))['certificates'], 0);
          assert.equal(await count(raw, 'certificates'), 1);
          assert.equal((await pruneLedger(ledger.retention, zeroPeriod, NOW + DAY))['certificates'], 1);
          assert.equal(await count(raw, 'certificates'), 0);
        });
      });
    });

    it('stops a step after maxBatchesPerStep batches and finishes on the next pass', async () => {
      await withLedger(backend, async (ledger, location) => {
        await withRawSql(location, async (raw) => {
          for (let i = 0; i < 25; i++)
            await ledger.certificates.recordIssued(makeRecord({ notBefore: NOW - HOUR, notAfter: NOW, issuedAt: NOW - HOUR }));
          const policy = { periodMs: 0, batchSize: 10, maxBatchesPerStep: 2 };
          assert.equal((await pruneLedger(ledger.retention, policy, NOW))['certificates'], 20);
          assert.equal(await count(raw, 'certificates'), 5);
          assert.equal((await pruneLedger(ledger.retention, policy, NOW))['certificates'], 5);
          assert.equal(await count(raw, 'certificates'), 0);
        });
      });
    });

    it('refuses a negative period and a batch outside 1..5000 with DomainError malformed, before any SQL', async () => {
      await withLedger(backend, async (ledger) => {
        await assertRejectsDomainError(
          () => ledger.retention.pruneBatch('certificates', { now: NOW, periodMs: -1, limit: 10, keepSerials: [] }),
          'malformed',
        );
        await assertRejectsDomainError(
          () => ledger.retention.pruneBatch('certificates', { now: NOW, periodMs: 0, limit: 0, keepSerials: [] }),
          'malformed',
        );
        await assertRejectsDomainError(
          () => ledger.retention.pruneBatch('certificates', { now: NOW, periodMs: 0, limit: 5001, keepSerials: [] }),
          'malformed',
        );
      });
    });
  });
}
