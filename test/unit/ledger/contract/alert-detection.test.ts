import '../../../helpers/fast-check-seed.js';
import assert from 'node:assert/strict';
import { after, afterEach, before, beforeEach, describe, it } from 'node:test';
import fc from 'fast-check';
import { alertKey, selectExpiring, type ExpiryThreshold } from '../../../../src/alerts/index.js';
import type { OpenedLedger } from '../../../../src/ledger/index.js';
import type { CertificateRecord, NewCertificateRecord, ProfileName } from '../../../../src/domain/certificates.js';
import { BACKENDS, type BackendUnderTest, type OpenedTestLedger } from '../../../helpers/backends.js';
import { certificate, DAY, HOUR, T0, TRUST_DOMAIN } from '../../../integration/alerts/helpers.js';
import { emptyPostgresLedger } from './alert-fixtures.js';

/**
 * The detection SQL (src/ledger/alert-expiring-sql.ts, one text for both
 * backends) against the reference rules (src/alerts/select-expiring.ts), on
 * random ledgers: the same (certificate, threshold) pairs, across two runs.
 */

const PROFILES: readonly ProfileName[] = ['svid', 'tls-server', 'node', 'ocsp-signer', 'intermediate', 'root'];
const LIFETIMES = [HOUR, 3 * DAY, 7 * DAY - 1, 7 * DAY, 7 * DAY + 1, 10 * DAY, 30 * DAY, 90 * DAY];
const THRESHOLDS: readonly ExpiryThreshold[] = [
  { withinMs: DAY, profiles: null },
  { withinMs: 7 * DAY, profiles: null },
  { withinMs: 30 * DAY, profiles: ['root', 'intermediate', 'tls-server'] },
  { withinMs: 2 * DAY, profiles: ['svid', 'node'] },
];
/** Runs per backend: a fresh SQLite file is cheap; PostgreSQL empties one database between runs. */
const RUNS: Readonly<Record<BackendUnderTest['name'], number>> = { sqlite: 100, postgres: 60 };

const certArb = fc.record({
  identity: fc.oneof(
    fc.record({ kind: fc.constant('spiffe' as const), n: fc.integer({ min: 0, max: 3 }) }),
    fc.record({ kind: fc.constant('names' as const), names: fc.subarray(['a.example', 'B.example', '10.0.0.1'], { minLength: 1 }) }),
    fc.record({ kind: fc.constant('subject' as const), n: fc.integer({ min: 0, max: 1 }) }),
  ),
  profile: fc.constantFrom(...PROFILES),
  issuedDay: fc.integer({ min: 0, max: 120 }),
  lifetimeMs: fc.constantFrom(...LIFETIMES),
  isRevoked: fc.boolean(),
});
type CertSpec = typeof certArb extends fc.Arbitrary<infer T> ? T : never;

function recordOf(spec: CertSpec, index: number): NewCertificateRecord {
  const id = spec.identity;
  const isName = (v: string): boolean => !/^\d/.test(v);
  return certificate({
    issuedAt: T0 + spec.issuedDay * DAY,
    lifetimeMs: spec.lifetimeMs,
    profile: spec.profile,
    spiffeId: id.kind === 'spiffe' ? `spiffe://${TRUST_DOMAIN}/w/${id.n}` : null,
    dnsNames: id.kind === 'names' ? id.names.filter(isName) : [],
    ipAddresses: id.kind === 'names' ? id.names.filter((v) => !isName(v)) : [],
    subject: id.kind === 'subject' ? `CN=ca ${id.n}` : `CN=${index}`,
  });
}

/** The reference's view of a recorded certificate (what findBySerial would return). */
function asRecord(record: NewCertificateRecord, isRevoked: boolean): CertificateRecord {
  return isRevoked
    ? { ...record, status: 'revoked', revokedAt: record.issuedAt + 1, revocationReason: 'superseded' }
    : { ...record, status: 'valid', revokedAt: null, revocationReason: null };
}

for (const backend of BACKENDS) {
  describe(`expiry detection SQL and the reference rules agree: ${backend.name}`, () => {
    let current: OpenedTestLedger | undefined;
    /** An empty ledger for the next run. */
    async function emptyLedger(): Promise<OpenedLedger> {
      if (current !== undefined && current.opened.kind === 'postgres') {
        await emptyPostgresLedger(current.opened);
        return current.opened;
      }
      await current?.dispose();
      current = await backend.open();
      return current.opened;
    }
    before(async () => {
      current = await backend.open();
    });
    after(async () => {
      await current?.dispose();
    });

    it('selects the same (certificate, threshold) pairs on random ledgers, across two runs', async () => {
      await fc.assert(
        fc.asyncProperty(
          fc.array(certArb, { minLength: 1, maxLength: 25 }),
          fc.subarray([...THRESHOLDS], { minLength: 1 }),
          fc.integer({ min: 0, max: 130 }),
          fc.integer({ min: 0, max: 40 }),
          async (specs, thresholds, firstDay, gapDays) => {
            const opened = await emptyLedger();
            const records: CertificateRecord[] = [];
            for (const [index, spec] of specs.entries()) {
              const record = recordOf(spec, index);
              await opened.ledger.certificates.recordIssued(record);
              if (spec.isRevoked) await opened.ledger.certificates.revoke(record.serial, 'superseded', record.issuedAt + 1);
              records.push(asRecord(record, spec.isRevoked));
            }
            const asPairs = (list: readonly { serial: string; thresholdMs: number }[]): string[] =>
              list.map((p) => `${p.serial}@${p.thresholdMs}`).sort();
            let alerted: { serial: string; thresholdMs: number }[] = [];
            for (const [index, now] of [T0 + firstDay * DAY, T0 + (firstDay + gapDays) * DAY].entries()) {
              const runId = await opened.ledger.alerts.startRun({ reason: 'manual', holder: 'prop', now });
              assert.ok(runId !== null);
              const sql = await opened.ledger.alerts.enqueueExpiring({ runId, now, thresholds, targets: [], keyFor: alertKey });
              const reference = selectExpiring(now, records, thresholds, alerted);
              assert.deepEqual(asPairs(sql), asPairs(reference), `run ${index + 1} at day ${(now - T0) / DAY}`);
              alerted = [...alerted, ...reference];
            }
          },
        ),
        { numRuns: RUNS[backend.name] },
      );
    });
  });
}

for (const backend of BACKENDS) {
  describe(`expiry detection, each part of a threshold's scope: ${backend.name}`, () => {
    let test: OpenedTestLedger;
    beforeEach(async () => {
      test = await backend.open();
    });
    afterEach(() => test.dispose());

    const now = T0 + 100 * DAY;
    async function detect(thresholds: readonly ExpiryThreshold[]): Promise<string[]> {
      const runId = await test.opened.ledger.alerts.startRun({ reason: 'manual', holder: 'scope', now });
      assert.ok(runId !== null);
      const found = await test.opened.ledger.alerts.enqueueExpiring({ runId, now, thresholds, targets: [], keyFor: alertKey });
      return found.map((a) => `${a.serial}@${a.thresholdMs / DAY}d`);
    }
    const record = async (spec: Parameters<typeof certificate>[0]): Promise<NewCertificateRecord> => {
      const made = certificate(spec);
      await test.opened.ledger.certificates.recordIssued(made);
      return made;
    };

    it('default scope: other profiles by identity (SPIFFE ID, name set, subject), SVIDs only once they stopped renewing', async () => {
      const spiffe = (name: string): string => `spiffe://${TRUST_DOMAIN}/scope/${name}`;
      const names = { spiffeId: null, profile: 'tls-server' as const };
      // Renewed under the same names, in another order and case: no alert.
      await record({ ...names, issuedAt: now - 85 * DAY, lifetimeMs: 90 * DAY, dnsNames: ['a.example', 'b.example'] });
      await record({ ...names, issuedAt: now - 20 * DAY, lifetimeMs: 90 * DAY, dnsNames: ['B.example', 'a.example'] });
      const lone = await record({ ...names, issuedAt: now - 85 * DAY, lifetimeMs: 90 * DAY, dnsNames: ['c.example'] });
      const ca = { spiffeId: null, profile: 'intermediate' as const, subject: 'CN=scope intermediate' };
      await record({ ...ca, issuedAt: now - 360 * DAY, lifetimeMs: 365 * DAY });
      await record({ ...ca, issuedAt: now - 30 * DAY, lifetimeMs: 365 * DAY });
      const stopped = await record({ issuedAt: now - 88 * DAY, lifetimeMs: 90 * DAY, spiffeId: spiffe('stopped') });
      await record({ issuedAt: now - 88 * DAY, lifetimeMs: 90 * DAY, spiffeId: spiffe('renewing') });
      await record({ issuedAt: now - 40 * DAY, lifetimeMs: 90 * DAY, spiffeId: spiffe('renewing') });
      const node = await record({ issuedAt: now - 86 * DAY, lifetimeMs: 90 * DAY, profile: 'node', spiffeId: spiffe('node') });
      assert.deepEqual(
        (await detect([{ withinMs: 7 * DAY, profiles: null }])).sort(),
        [`${lone.serial}@7d`, `${stopped.serial}@7d`, `${node.serial}@7d`].sort(),
      );
    });

    it('a profile list names svid: every SVID of the window, renewing or not', async () => {
      const spiffeId = `spiffe://${TRUST_DOMAIN}/scope/busy`;
      const older = await record({ issuedAt: now - 2 * DAY, lifetimeMs: 3 * DAY, spiffeId });
      const newer = await record({ issuedAt: now - DAY, lifetimeMs: 3 * DAY, spiffeId });
      assert.deepEqual(await detect([{ withinMs: 2 * DAY, profiles: null }]), [], 'neither stopped renewing');
      assert.deepEqual(
        await detect([{ withinMs: 2 * DAY, profiles: ['svid'] }]),
        [`${older.serial}@2d`, `${newer.serial}@2d`],
        'in notAfter order',
      );
    });
  });
}
