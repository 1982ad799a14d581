import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import Database from 'better-sqlite3';
import { openLedger, type Ledger } from '../../../src/ledger/index.js';
import { planList } from '../../../src/ledger/certificate-list.js';
import type { CertificateQuery } from '../../../src/domain/certificates.js';
import { DAY, HOUR, makeRecord, makeTempDir, NOW, type TempDir } from './ledger-fixtures.js';

/**
 * Every query on a hot or periodic path is bounded by an index and
 * by what it returns, not by the ledger's size. The statements are the ones
 * the repositories really prepare: Database.prototype.prepare is watched while
 * a scenario drives every repository through its paths (issuance, revocation,
 * OCSP/mTLS status, listings and their pages, alert detection and delivery,
 * entries, join tokens, ACME), then each is given to EXPLAIN QUERY PLAN on the
 * real migrations. Without ANALYZE statistics (keysmith never runs it), the
 * plans on an empty file are the plans on a million rows.
 */

/**
 * Tables that grow with the fleet: a full scan of any of them is refused. The
 * alert outbox is left out: it grows by one row per long-lived certificate and
 * threshold (thousands a year, migrations/0002), and its runs by a few a day.
 */
const LARGE_TABLES = [
  'certificates',
  'certificate_names',
  'spiffe_latest',
  'registration_entries',
  'join_tokens',
  'acme_orders',
  'acme_authorizations',
  'acme_challenges',
  'acme_order_authorizations',
] as const;

/**
 * Statements allowed to walk a large table in index order, each with why that
 * is bounded by the page it returns: an ORDER BY the index provides and a
 * LIMIT, over rows the filter keeps nearly all of.
 */
const ORDERED_PAGE_WALKS: readonly { readonly scan: RegExp; readonly why: string }[] = [
  {
    scan: /^SCAN certificates USING INDEX certificates_by_issued_at$/,
    why: 'the default listing, and status=valid or profile=svid (95-98% of rows): a page of LIMIT rows, newest first',
  },
  {
    scan: /^SCAN certificates USING INDEX certificates_revoked_by_issued_at$/,
    why: 'status=revoked: a page of the revoked rows only (partial index)',
  },
  {
    scan: /^SCAN registration_entries USING INDEX registration_entries_by_created$/,
    why: 'the entry listing without filters: a page of LIMIT entries in creation order',
  },
  {
    scan: /^SCAN join_tokens USING INDEX join_tokens_by_created$/,
    why: '`keysmith tokens list`: a page of LIMIT tokens in creation order (an operator command, never a request path)',
  },
];

/** Offline statements that may scan (never on a request or timer path), each with where it runs. */
const OFFLINE_ONLY: readonly { readonly sql: RegExp; readonly why: string }[] = [
  { sql: /^SELECT count\(\*\) FROM certificates$/, why: 'CertificateRepository.count(): benches and tests only' },
];

function parameterNames(sql: string): { named: string[]; positional: number } {
  // String literals ('spiffe://...', ':' inside JSON paths) are no parameters.
  const code = sql.replace(/'(?:[^']|'')*'/g, "''");
  const named = [...new Set([...code.matchAll(/[:@$]([A-Za-z_][A-Za-z0-9_]*)/g)].map((m) => m[1] ?? ''))];
  const positional = [...code.matchAll(/\?(?!\d)/g)].length;
  return { named, positional };
}

function explain(db: Database.Database, sql: string): string[] {
  const { named, positional } = parameterNames(sql);
  const statement = db.prepare<unknown[], { detail: string }>(`EXPLAIN QUERY PLAN ${sql}`);
  const args: unknown[] =
    named.length > 0 ? [Object.fromEntries(named.map((name) => [name, null]))] : Array.from({ length: positional }, () => null);
  return statement.all(...args).map((row) => row.detail);
}

/** The plan lines that scan a large table, as `SCAN <table>[ USING ...]`. */
function largeScans(plan: readonly string[]): string[] {
  return plan.filter((line) => {
    const match = /^SCAN (\w+)(?: AS \w+)?/.exec(line);
    return match !== null && (LARGE_TABLES as readonly string[]).includes(match[1] ?? '');
  });
}

/** Every SQL text prepared while `drive` runs (SQL comments dropped: the texts are then matched on one line). */
function recordPrepared(drive: () => void): Set<string> {
  const seen = new Set<string>();
  const original = Database.prototype.prepare;
  Database.prototype.prepare = function prepare(this: Database.Database, source: string) {
    const oneLine = source
      .replace(/--[^\n]*/g, '')
      .trim()
      .replace(/\s+/g, ' ');
    if (!/^(PRAGMA|EXPLAIN)/i.test(oneLine)) seen.add(oneLine);
    return original.call(this, source);
  } as typeof original;
  try {
    drive();
  } finally {
    Database.prototype.prepare = original;
  }
  return seen;
}

const LISTING_SHAPES: readonly CertificateQuery[] = [
  {},
  { status: 'valid' },
  { status: 'revoked' },
  { status: 'expired' },
  { status: 'expired', profile: 'tls-server' },
  { profile: 'svid' },
  { profile: 'tls-server' },
  { profile: 'root' },
  { spiffeId: 'spiffe://keysmith.local/w' },
  { dnsName: 'a.example' },
  { status: 'revoked', profile: 'node' },
  { expiringWithinMs: 7 * DAY },
  { expiringWithinMs: 7 * DAY, include: 'all' },
  { expiringWithinMs: 7 * DAY, profile: 'svid' },
  { expiringWithinMs: 7 * DAY, profile: 'tls-server' },
  { expiringWithinMs: 7 * DAY, profile: 'tls-server', include: 'all' },
  { expiringWithinMs: 7 * DAY, spiffeId: 'spiffe://keysmith.local/w' },
  { expiringWithinMs: 7 * DAY, dnsName: 'a.example' },
  { status: 'valid', expiresAfter: NOW + DAY, expiresBefore: NOW + 2 * DAY },
  { expiresAfter: NOW + DAY, expiresBefore: NOW + 2 * DAY },
  { status: 'revoked', expiresAfter: NOW + DAY },
  { status: 'valid', profile: 'tls-server', expiresBefore: NOW + 2 * DAY },
];

function driveEveryPath(ledger: Ledger): void {
  const certs = ledger.certificates;
  const svid = makeRecord();
  const server = makeRecord({
    profile: 'tls-server',
    spiffeId: null,
    sans: [{ type: 'dns', value: 'a.example' }],
    notAfter: NOW + 90 * DAY,
  });
  certs.recordIssued(svid);
  certs.recordIssuedMany([makeRecord(), server]);
  certs.isSerialTaken(svid.serial);
  certs.findBySerial(svid.serial);
  certs.statusOf(svid.serial);
  certs.revoke(svid.serial, 'keyCompromise', NOW + 1);
  certs.count();
  for (const shape of LISTING_SHAPES) {
    const first = certs.list({ ...shape, now: NOW, limit: 1 });
    if (first.nextCursor !== null) certs.list({ ...shape, now: NOW, limit: 1, cursor: first.nextCursor });
  }
  certs.expiryTimeline({ from: NOW, now: NOW + HOUR, to: NOW + 90 * DAY });

  const thresholds = [
    { withinMs: 7 * DAY, profiles: null },
    { withinMs: 30 * DAY, profiles: ['svid' as const, 'root' as const] },
  ];
  const runId = ledger.alerts.startRun({ reason: 'catch-up', holder: 'plans', now: NOW + 85 * DAY, unlessFinishedSince: NOW });
  assert.ok(runId !== null);
  ledger.alerts.startRun({ reason: 'schedule', slot: NOW, holder: 'plans', now: NOW });
  const targets = [{ channel: 'webhook' as const, recipient: 'hooks.example' }];
  ledger.alerts.enqueueExpiring({ runId, now: NOW + 85 * DAY, thresholds, targets, keyFor: (serial, ms) => `${serial}-${ms}` });
  const waiting = ledger.alerts.waitingDeliveries({ perRecipient: 10, limit: 10 });
  const [messageId] = ledger.alerts.createMessages(runId, NOW, [
    { channel: 'webhook', recipient: 'hooks.example', kind: 'single', idempotencyKey: 'k', alertIds: waiting.map((w) => w.alertId) },
  ]);
  ledger.alerts.finishRun(runId, NOW, 1);
  ledger.alerts.dueMessages(NOW + 86 * DAY, 10);
  ledger.alerts.nextAttemptAt();
  if (messageId !== undefined) {
    ledger.alerts.messageItems(messageId);
    ledger.alerts.recordFailure(messageId, 'boom', NOW + 87 * DAY);
    ledger.alerts.markSent(messageId, NOW + 87 * DAY);
  }
  ledger.alerts.list();
  ledger.alerts.list({ status: 'sent' });
  ledger.leases.acquire('alerts', 'plans', NOW, 60_000);
  ledger.leases.renew('alerts', 'plans', NOW, 60_000);
  ledger.leases.release('alerts', 'plans');

  const parent = 'spiffe://keysmith.local/node/n1';
  const entry = ledger.entries.create(
    {
      id: 'entry-1',
      spiffeId: 'spiffe://keysmith.local/w',
      parentId: parent,
      x509TtlMs: HOUR,
      jwtTtlMs: HOUR,
      dnsNames: [],
      admin: false,
      expiresAt: null,
      createdBy: 'cli:plans',
    },
    NOW,
  );
  ledger.entries.list({ limit: 10 });
  ledger.entries.list({ parentId: parent, limit: 10 });
  ledger.entries.list({ spiffeId: 'spiffe://keysmith.local/w', limit: 10 });
  ledger.entries.findBySpiffeId('spiffe://keysmith.local/w');
  ledger.entries.get(entry.id);
  ledger.entries.update(entry.id, { x509TtlMs: 2 * HOUR }, NOW);
  ledger.entries.delete(entry.id);
  const tokenHash = 'a'.repeat(64);
  ledger.joinTokens.create({
    id: 'jt-0123456789abcdef01',
    tokenHash,
    spiffeId: 'spiffe://keysmith.local/node/n2',
    expiresAt: NOW + HOUR,
    createdAt: NOW,
    createdBy: 'cli:plans',
    usedAt: null,
    usedBySerial: null,
    revokedAt: null,
  });
  ledger.joinTokens.list({ now: NOW });
  ledger.joinTokens.list({
    now: NOW,
    status: 'unused',
    spiffeId: 'spiffe://keysmith.local/node/n2',
    cursor: 'eyJ0IjoxLCJpIjoianQtMDEyMzQ1Njc4OWFiY2RlZjAxIn0',
  });
  ledger.joinTokens.create({
    id: 'jt-0123456789abcdef02',
    tokenHash: 'b'.repeat(64),
    spiffeId: 'spiffe://keysmith.local/node/n3',
    expiresAt: NOW + HOUR,
    createdAt: NOW,
    createdBy: 'cli:plans',
    usedAt: null,
    usedBySerial: null,
    revokedAt: null,
  });
  ledger.joinTokens.revoke('jt-0123456789abcdef02', NOW);
  ledger.joinTokens.find(tokenHash);
  ledger.joinTokens.redeem(tokenHash, NOW + 1);
  ledger.joinTokens.attachSerial(tokenHash, server.serial);
  // ACME prepares all its statements together on first use.
  ledger.acme.authorizations.listInterruptedChallenges();
  ledger.acme.orders.resetInterruptedFinalizations();
}

describe('query plans of the hot and periodic paths (EXPLAIN QUERY PLAN, real migrations)', () => {
  let tmp: TempDir;
  let ledger: Ledger;
  let statements: Set<string>;
  let db: Database.Database;

  before(() => {
    tmp = makeTempDir();
    statements = recordPrepared(() => {
      ledger = openLedger({ path: tmp.file('plans.db'), clock: { now: () => NOW } });
      driveEveryPath(ledger);
    });
    db = new Database(tmp.file('plans.db'), { readonly: true });
  });
  after(() => {
    db.close();
    ledger.close();
    tmp.remove();
  });

  it('saw the statements of every repository', () => {
    const text = [...statements].join('\n');
    for (const table of [
      'certificates',
      'certificate_names',
      'alerts',
      'alert_messages',
      'leases',
      'registration_entries',
      'join_tokens',
      'acme_orders',
      'acme_challenges',
    ]) {
      assert.match(text, new RegExp(`\\b${table}\\b`), `no statement touching ${table} was prepared`);
    }
    assert.ok(statements.size >= 60, `only ${statements.size} statements were seen`);
  });

  it('scans no large table outright, and walks one in index order only for a LIMITed page', () => {
    const problems: string[] = [];
    for (const sql of statements) {
      if (OFFLINE_ONLY.some((allowed) => allowed.sql.test(sql))) continue;
      const plan = explain(db, sql);
      for (const scan of largeScans(plan)) {
        const walk = ORDERED_PAGE_WALKS.find((allowed) => allowed.scan.test(scan));
        if (walk !== undefined && /\bLIMIT\b/i.test(sql)) continue;
        problems.push(`${scan}\n    in: ${sql.slice(0, 300)}\n    plan: ${plan.join(' | ')}`);
      }
    }
    assert.deepEqual(problems, []);
  });

  it('finds a serial by its primary key on the status paths (OCSP, mTLS on every request, issuance)', () => {
    for (const sql of statements) {
      if (!/FROM certificates WHERE serial = \?$/.test(sql)) continue;
      assert.match(
        explain(db, sql).join(' | '),
        /^SEARCH certificates USING (COVERING )?INDEX sqlite_autoindex_certificates_1 \(serial=\?\)$/,
        sql,
      );
    }
  });

  it('reads expiring certificates from the notAfter indexes: what needs a person by default, every valid one with include=all', () => {
    const plan = (query: CertificateQuery): string => {
      const planned = planList({ ...query, now: NOW });
      assert.ok(planned !== null);
      return explain(db, planned.sql).join(' | ');
    };
    const attention = plan({ expiringWithinMs: 7 * DAY });
    assert.match(attention, /SEARCH certificates USING INDEX certificates_attention_by_not_after \(not_after>\? AND not_after<\?\)/);
    assert.match(
      attention,
      /SEARCH spiffe_latest USING COVERING INDEX spiffe_latest_day_svids_by_renewal_due \(renewal_due_at>\? AND renewal_due_at<\?\)/,
    );
    assert.match(
      attention,
      /SEARCH spiffe_latest USING COVERING INDEX spiffe_latest_long_svids_by_renewal_due \(renewal_due_at>\? AND renewal_due_at<\?\)/,
    );
    assert.doesNotMatch(attention, /certificates_valid_by_not_after/);
    assert.match(
      plan({ expiringWithinMs: 7 * DAY, include: 'all' }),
      /^SEARCH certificates USING INDEX certificates_valid_by_not_after \(not_after>\? AND not_after<\?\)$/,
    );
    assert.match(
      plan({ expiringWithinMs: 7 * DAY, profile: 'tls-server' }),
      /^SEARCH certificates USING INDEX certificates_attention_by_not_after \(not_after>\? AND not_after<\?\)$/,
    );
  });

  it('counts the expiry timeline from the valid-by-notAfter index alone (it carries the profile, migrations/0010), over the window only (GET /v1/certificates/timeline)', () => {
    const timeline = [...statements].find((sql) => /GROUP BY 1, 2/.test(sql) && /FROM certificates/.test(sql));
    assert.ok(timeline !== undefined, 'the timeline statement was prepared');
    assert.match(
      explain(db, timeline)[0] ?? '',
      /^SEARCH certificates USING COVERING INDEX certificates_valid_by_not_after \(not_after>\? AND not_after<\?\)$/,
    );
  });

  it('lists one day of the timeline by notAfter bounds from the notAfter indexes', () => {
    const plan = (query: CertificateQuery): string => {
      const planned = planList({ ...query, now: NOW });
      assert.ok(planned !== null);
      return explain(db, planned.sql).join(' | ');
    };
    assert.match(
      plan({ status: 'valid', expiresAfter: NOW + DAY, expiresBefore: NOW + 2 * DAY }),
      /^SEARCH certificates USING INDEX certificates_valid_by_not_after \(not_after>\? AND not_after<\?\)$/,
    );
    const anyStatus = plan({ expiresAfter: NOW + DAY, expiresBefore: NOW + 2 * DAY });
    assert.match(anyStatus, /SEARCH certificates USING INDEX certificates_valid_by_not_after \(not_after>\? AND not_after<\?\)/);
    assert.match(anyStatus, /SEARCH certificates USING INDEX certificates_revoked_by_not_after \(not_after>\? AND not_after<\?\)/);
  });

  it('runs alert detection over the non-SVID index and the SVIDs that stopped renewing, never over every live SVID', () => {
    const detection = [...statements].filter((sql) => /c\.not_after - c\.issued_at > :withinMs/.test(sql));
    assert.equal(detection.length, 3, 'others, stopped SVIDs, every SVID');
    const others = detection.find((sql) => sql.includes("c.profile <> 'svid'"));
    const stopped = detection.find((sql) => sql.includes('spiffe_latest'));
    assert.ok(others !== undefined && stopped !== undefined);
    assert.match(
      explain(db, others)[0] ?? '',
      /^SEARCH c USING INDEX certificates_attention_by_not_after \(not_after>\? AND not_after<\?\)$/,
    );
    assert.match(
      explain(db, stopped).join(' | '),
      /SEARCH spiffe_latest USING COVERING INDEX spiffe_latest_day_svids_by_renewal_due \(renewal_due_at>\? AND renewal_due_at<\?\).*SEARCH spiffe_latest USING COVERING INDEX spiffe_latest_long_svids_by_renewal_due/,
    );
  });
});
