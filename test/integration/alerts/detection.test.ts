import { after, afterEach, before, beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { alertKey, type ExpiryThreshold } from '../../../src/alerts/index.js';
import { openCore } from '../../../src/cli/compose.js';
import { loadConfig } from '../../../src/config/index.js';
import type { Ledger, LedgerBackend } from '../../../src/ledger/index.js';
import type { ProfileName } from '../../../src/domain/certificates.js';
import { certificate, DAY, FakeClock, HOUR, makeRunner, settings, T0, tempLedger, TRUST_DOMAIN, type TempLedger } from './helpers.js';

/**
 * What counts as expiring, over a real ledger file with the real
 * migrations: detection and enqueue in the ledger, driven by the runner with
 * an injected clock. Delivery is left out here (no channels: log only).
 */

async function detect(
  ledger: Pick<LedgerBackend, 'alerts' | 'leases'>,
  clock: FakeClock,
  thresholds: readonly ExpiryThreshold[] = settings().thresholds,
): Promise<string[]> {
  const outcome = await makeRunner(ledger, clock, settings({ thresholds })).run({ reason: 'manual' });
  assert.equal(outcome.status, 'ran');
  // The lease is released when the (empty) delivery pass is over; each acquisition holds its own token, so the next runner waits for it.
  if (outcome.status === 'ran') await outcome.delivered;
  return outcome.status === 'ran' ? outcome.enqueued.map((a) => `${a.serial}@${a.thresholdMs / DAY}d`) : [];
}

describe('expiry detection', () => {
  let tmp: TempLedger;
  let ledger: Ledger;
  let clock: FakeClock;
  beforeEach(() => {
    tmp = tempLedger();
    ledger = tmp.open();
    clock = new FakeClock();
  });
  afterEach(() => {
    ledger.close();
    tmp.remove();
  });

  it('alerts a 90-day certificate at day 83 exactly once: a second run and a restart add nothing', async () => {
    const cert = certificate({ issuedAt: T0, lifetimeMs: 90 * DAY });
    ledger.certificates.recordIssued(cert);
    clock.set(T0 + 82 * DAY);
    assert.deepEqual(await detect(ledger, clock), [], '8 days left is outside the 7-day threshold');
    clock.set(T0 + 83 * DAY);
    assert.deepEqual(await detect(ledger, clock), [`${cert.serial}@7d`]);
    assert.deepEqual(await detect(ledger, clock), []);
    clock.advance(HOUR);
    assert.deepEqual(await detect(ledger, clock), []);
    ledger.close();
    ledger = tmp.open();
    assert.deepEqual(await detect(ledger, clock), [], 'after a restart');
    const page = ledger.alerts.list();
    assert.equal(page.items.length, 1);
    assert.equal(page.items[0]?.idempotencyKey, alertKey(cert.serial, 7 * DAY));
  });

  it('gives a renewed certificate none: a later one with the same SPIFFE ID lives past the threshold', async () => {
    const spiffeId = `spiffe://${TRUST_DOMAIN}/db/primary`;
    const old = certificate({ issuedAt: T0, lifetimeMs: 90 * DAY, spiffeId });
    const renewed = certificate({ issuedAt: T0 + 60 * DAY, lifetimeMs: 90 * DAY, spiffeId });
    ledger.certificates.recordIssued(old);
    ledger.certificates.recordIssued(renewed);
    clock.set(T0 + 84 * DAY);
    assert.deepEqual(await detect(ledger, clock), []);
  });

  it('counts the same set of DNS/IP names as the same identity, in any order and case, and nothing less', async () => {
    const old = certificate({
      issuedAt: T0,
      lifetimeMs: 90 * DAY,
      spiffeId: null,
      profile: 'tls-server',
      dnsNames: ['api.example.org', 'www.example.org'],
      ipAddresses: ['10.0.0.7'],
    });
    const renewed = certificate({
      issuedAt: T0 + 60 * DAY,
      lifetimeMs: 90 * DAY,
      spiffeId: null,
      profile: 'tls-server',
      dnsNames: ['WWW.example.org', 'api.example.org'],
      ipAddresses: ['10.0.0.7'],
    });
    const fewerNames = certificate({
      issuedAt: T0,
      lifetimeMs: 90 * DAY,
      spiffeId: null,
      profile: 'tls-server',
      dnsNames: ['mail.example.org', 'smtp.example.org'],
    });
    const renewedSubset = certificate({
      issuedAt: T0 + 60 * DAY,
      lifetimeMs: 90 * DAY,
      spiffeId: null,
      profile: 'tls-server',
      dnsNames: ['mail.example.org'],
    });
    const moreNames = certificate({
      issuedAt: T0,
      lifetimeMs: 90 * DAY,
      spiffeId: null,
      profile: 'tls-server',
      dnsNames: ['a.example.org'],
    });
    const renewedSuperset = certificate({
      issuedAt: T0 + 60 * DAY,
      lifetimeMs: 90 * DAY,
      spiffeId: null,
      profile: 'tls-server',
      dnsNames: ['a.example.org', 'b.example.org'],
    });
    for (const c of [old, renewed, fewerNames, renewedSubset, moreNames, renewedSuperset]) ledger.certificates.recordIssued(c);
    clock.set(T0 + 84 * DAY);
    assert.deepEqual((await detect(ledger, clock)).sort(), [`${fewerNames.serial}@7d`, `${moreNames.serial}@7d`].sort());
  });

  it('does not count a successor that is revoked, expires within the threshold too, or was issued before', async () => {
    const spiffe = (name: string): string => `spiffe://${TRUST_DOMAIN}/svc/${name}`;
    // Node identities: certificates with SPIFFE IDs in the default scope whatever their renewals (SVIDs follow their own rule, below).
    const node = { profile: 'node' as const };
    const a = certificate({ ...node, issuedAt: T0, lifetimeMs: 90 * DAY, spiffeId: spiffe('a') });
    const aRevoked = certificate({ ...node, issuedAt: T0 + 60 * DAY, lifetimeMs: 90 * DAY, spiffeId: spiffe('a') });
    const b = certificate({ ...node, issuedAt: T0, lifetimeMs: 90 * DAY, spiffeId: spiffe('b') });
    // A 7-day stopgap that ends before the horizon: no successor, and too short-lived to be alerted itself.
    const bShort = certificate({ ...node, issuedAt: T0 + 83 * DAY, lifetimeMs: 7 * DAY, spiffeId: spiffe('b') });
    const cLong = certificate({ ...node, issuedAt: T0 - 10 * DAY, lifetimeMs: 200 * DAY, spiffeId: spiffe('c') });
    const c = certificate({ ...node, issuedAt: T0, lifetimeMs: 90 * DAY, spiffeId: spiffe('c') });
    for (const cert of [a, aRevoked, b, bShort, cLong, c]) ledger.certificates.recordIssued(cert);
    ledger.certificates.revoke(aRevoked.serial, 'superseded', T0 + 61 * DAY);
    clock.set(T0 + 84 * DAY);
    const found = await detect(ledger, clock);
    assert.deepEqual(found.sort(), [`${a.serial}@7d`, `${b.serial}@7d`, `${c.serial}@7d`].sort());
  });

  it('gives SVIDs with 1 h lifetimes none, however many expire within the threshold', async () => {
    for (let i = 0; i < 50; i += 1) ledger.certificates.recordIssued(certificate({ issuedAt: T0 + i * 60_000, lifetimeMs: HOUR }));
    clock.set(T0 + 30 * 60_000);
    assert.deepEqual(await detect(ledger, clock), []);
  });

  it('by default alerts an SVID only once its SPIFFE ID stopped renewing (newest of its ID, past half its lifetime)', async () => {
    const spiffe = (name: string): string => `spiffe://${TRUST_DOMAIN}/svc/${name}`;
    const day = [{ withinMs: DAY, profiles: null }];
    // 3-day SVIDs, so a 1-day threshold can see them at all (lifetime longer than the threshold).
    const renewing = certificate({ issuedAt: T0, lifetimeMs: 3 * DAY, spiffeId: spiffe('renewing') });
    const renewed = certificate({ issuedAt: T0 + 36 * HOUR, lifetimeMs: 3 * DAY, spiffeId: spiffe('renewing') });
    const stopped = certificate({ issuedAt: T0, lifetimeMs: 3 * DAY, spiffeId: spiffe('stopped') });
    for (const c of [renewing, renewed, stopped]) ledger.certificates.recordIssued(c);
    clock.set(T0 + 2 * DAY + HOUR);
    assert.deepEqual(await detect(ledger, clock, day), [`${stopped.serial}@1d`]);
    const everySvid = [{ withinMs: DAY, profiles: ['svid'] satisfies ProfileName[] }];
    assert.deepEqual(await detect(ledger, clock, everySvid), [], 'the renewed one has a successor living past the horizon');
    const fresh = certificate({ issuedAt: T0 + 2 * DAY + HOUR, lifetimeMs: 3 * DAY, spiffeId: spiffe('young') });
    ledger.certificates.recordIssued(fresh);
    clock.set(T0 + 4 * DAY + 2 * HOUR);
    assert.deepEqual(
      (await detect(ledger, clock, day)).sort(),
      [`${renewed.serial}@1d`, `${fresh.serial}@1d`].sort(),
      'each is now past its renewal point with nothing newer',
    );
  });

  it('gives revoked and already expired certificates none', async () => {
    const revoked = certificate({ issuedAt: T0, lifetimeMs: 90 * DAY });
    const expired = certificate({ issuedAt: T0 - 90 * DAY, lifetimeMs: 90 * DAY });
    ledger.certificates.recordIssued(revoked);
    ledger.certificates.recordIssued(expired);
    ledger.certificates.revoke(revoked.serial, 'keyCompromise', T0 + DAY);
    clock.set(T0 + 85 * DAY);
    assert.deepEqual(await detect(ledger, clock), []);
  });

  it('alerts once per threshold of a list, tightest first when several match at once', async () => {
    const thresholds = [
      { withinMs: 30 * DAY, profiles: null },
      { withinMs: 7 * DAY, profiles: null },
    ];
    const seenEarly = certificate({ issuedAt: T0, lifetimeMs: 365 * DAY, profile: 'tls-server', spiffeId: null });
    const seenLate = certificate({ issuedAt: T0, lifetimeMs: 365 * DAY, profile: 'tls-server', spiffeId: null });
    ledger.certificates.recordIssued(seenEarly);
    clock.set(T0 + 345 * DAY);
    assert.deepEqual(await detect(ledger, clock, thresholds), [`${seenEarly.serial}@30d`]);
    ledger.certificates.recordIssued(seenLate);
    clock.set(T0 + 360 * DAY);
    assert.deepEqual((await detect(ledger, clock, thresholds)).sort(), [`${seenEarly.serial}@7d`, `${seenLate.serial}@7d`].sort());
    clock.advance(DAY);
    assert.deepEqual(await detect(ledger, clock, thresholds), [], 'the 30d alert never follows the 7d one');
  });

  it('scopes a threshold to profiles (30d for the CA, 7d for everything)', async () => {
    const thresholds = [
      { withinMs: 7 * DAY, profiles: null },
      { withinMs: 30 * DAY, profiles: ['root', 'intermediate'] satisfies ProfileName[] },
    ];
    const server = certificate({
      issuedAt: T0,
      lifetimeMs: 90 * DAY,
      spiffeId: null,
      profile: 'tls-server',
      dnsNames: ['svc.example.org'],
    });
    const intermediate = certificate({
      issuedAt: T0,
      lifetimeMs: 90 * DAY,
      spiffeId: null,
      profile: 'intermediate',
      subject: 'CN=keysmith test intermediate',
    });
    ledger.certificates.recordIssued(server);
    ledger.certificates.recordIssued(intermediate);
    clock.set(T0 + 70 * DAY);
    assert.deepEqual(await detect(ledger, clock, thresholds), [`${intermediate.serial}@30d`]);
  });

  it('includes the OCSP responder certificate, but not a 7-day one right after issuance (its backdated notBefore does not count)', async () => {
    const subject = 'CN=keysmith OCSP responder';
    const weekly = certificate({ issuedAt: T0, lifetimeMs: 7 * DAY, spiffeId: null, profile: 'ocsp-signer', subject });
    ledger.certificates.recordIssued(weekly);
    clock.set(T0 + HOUR);
    assert.deepEqual(await detect(ledger, clock), []);
    const monthly = certificate({ issuedAt: T0 + HOUR, lifetimeMs: 30 * DAY, spiffeId: null, profile: 'ocsp-signer', subject });
    ledger.certificates.recordIssued(monthly);
    clock.set(T0 + 25 * DAY);
    assert.deepEqual(await detect(ledger, clock), [`${monthly.serial}@7d`], 'rotation stopped: the last responder certificate is alerted');
    const rotated = certificate({ issuedAt: T0 + 25 * DAY, lifetimeMs: 30 * DAY, spiffeId: null, profile: 'ocsp-signer', subject });
    ledger.certificates.recordIssued(rotated);
    clock.set(T0 + 50 * DAY);
    assert.deepEqual(await detect(ledger, clock), [`${rotated.serial}@7d`]);
  });
});

describe('expiry detection over the CA keysmith creates', () => {
  let dataDir: TempLedger;
  before(() => {
    dataDir = tempLedger();
  });
  after(() => dataDir.remove());

  it("includes the listener's certificate, the intermediate and the root; a renewed listener certificate gets none", async () => {
    const clock = new FakeClock(T0);
    const config = loadConfig({ env: { KEYSMITH_DATA_DIR: dataDir.dir, KEYSMITH_TRUST_DOMAIN: TRUST_DOMAIN } });
    let core = await openCore(config, { clock });
    const listener = async () => (await core.repositories.certificates.list({ profile: 'tls-server', limit: 10 })).items;
    try {
      assert.equal((await listener()).length, 1);
      const first = (await listener())[0]!;
      // Day 21: a start renews the listener certificate (a third of its 30 days left).
      clock.set(first.notAfter - 9 * DAY);
      await core.close();
      core = await openCore(config, { clock });
      assert.equal((await listener()).length, 2);
      clock.set(first.notAfter - 6 * DAY);
      assert.deepEqual(await detect(core.repositories, clock), [], 'the old listener certificate has a successor');
      const second = (await listener()).find((c) => c.serial !== first.serial)!;
      // The service kept running without a restart: nothing renewed the second one.
      clock.set(second.notAfter - 6 * DAY);
      assert.deepEqual(await detect(core.repositories, clock), [`${second.serial}@7d`]);

      const caThresholds = [
        { withinMs: 7 * DAY, profiles: null },
        { withinMs: 30 * DAY, profiles: ['root', 'intermediate'] satisfies ProfileName[] },
      ];
      const intermediate = (await core.repositories.certificates.list({ profile: 'intermediate', limit: 1 })).items[0]!;
      const root = (await core.repositories.certificates.list({ profile: 'root', limit: 1 })).items[0]!;
      clock.set(intermediate.notAfter - 20 * DAY);
      assert.deepEqual(await detect(core.repositories, clock, caThresholds), [`${intermediate.serial}@30d`]);
      clock.set(intermediate.notAfter - 5 * DAY);
      assert.deepEqual(await detect(core.repositories, clock, caThresholds), [`${intermediate.serial}@7d`]);
      clock.set(root.notAfter - 3 * DAY);
      assert.deepEqual(
        await detect(core.repositories, clock, caThresholds),
        [`${root.serial}@7d`],
        'first seen at 3 days left: the tightest threshold only',
      );
    } finally {
      await core.close();
    }
  });
});

// The ledger SQL against the reference rules (random ledgers, both backends): test/unit/ledger/contract/alert-detection.test.ts.
