import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { importJWK, jwtVerify } from 'jose';
import type { LedgerBackend } from '../../../src/ledger/index.js';
import { SvidService, type SvidCaller, type SvidIssuer } from '../../../src/svid/index.js';
import { BACKENDS, type OpenedTestLedger } from '../../helpers/backends.js';
import { FixedClock } from '../ca/helpers.js';
import { HOUR, makeCsrs, MINUTE, NODE, openBench, rejectsWith, TD, WEB, type Bench, type CsrSet } from './helpers.js';

/**
 * The SVID front end does not know which ledger it runs on: the same service
 * calls (entries, JWT-SVIDs, join tokens) give the same answers over the
 * SQLite ledger and the PostgreSQL one. X.509 issuance needs the certificate
 * repository and is left to the tests of that slice: the issuer here refuses,
 * and no test below reaches it.
 */

const refusingIssuer: SvidIssuer = {
  issue: () => Promise.reject(new Error('no X.509 issuance in these tests')),
  bundlePem: () => '',
};

const OPEN_RATE = { joinTokenRateLimit: { burst: 1000, perSecond: 1000 } };

/** For its JWT signing key (made beside a CA) and a CSR; its own SQLite ledger is not the one under test. */
let keys: Bench;
let csrs: CsrSet;

before(async () => {
  keys = await openBench('svid-backends');
  csrs = makeCsrs(keys.dir.path);
});

after(() => keys.close());

for (const backend of BACKENDS) {
  describe(`SvidService on the ${backend.name} ledger`, () => {
    let opened: OpenedTestLedger;
    let ledger: LedgerBackend;
    const clock = new FixedClock(Date.UTC(2026, 0, 1));

    before(async () => {
      opened = await backend.open({ clock });
      ledger = opened.opened.ledger;
    });
    after(async () => {
      await opened.dispose();
    });

    function service(): SvidService {
      return new SvidService({
        entries: ledger.entries,
        joinTokens: ledger.joinTokens,
        issuer: refusingIssuer,
        jwtSigner: keys.jwt,
        clock,
        trustDomain: TD,
        options: OPEN_RATE,
      });
    }

    it('creates, reads, lists, changes and deletes an entry; a duplicate is a conflict', async () => {
      const svids = service();
      const spiffeId = `${WEB}/crud`;
      const entry = await svids.createEntry('cli:alice', { spiffeId, parentId: NODE, dnsNames: ['Crud.Example.org'] });
      assert.deepEqual(entry, {
        id: entry.id,
        spiffeId,
        parentId: NODE,
        x509TtlMs: HOUR,
        jwtTtlMs: 5 * MINUTE,
        dnsNames: ['crud.example.org'],
        admin: false,
        expiresAt: null,
        createdAt: clock.now(),
        updatedAt: clock.now(),
        createdBy: 'cli:alice',
      });
      assert.deepEqual(await svids.getEntry(entry.id), entry);
      await rejectsWith(
        svids.createEntry('cli:bob', { spiffeId, parentId: NODE }),
        'conflict',
        new RegExp(`^an entry for ${spiffeId} with parent ${NODE} exists$`),
      );
      assert.deepEqual(await svids.listEntries({ spiffeId }), { items: [entry], nextCursor: null });

      clock.advance(1000);
      const changed = await svids.updateEntry(entry.id, { x509TtlMs: 2 * HOUR });
      assert.deepEqual(changed, { ...entry, x509TtlMs: 2 * HOUR, updatedAt: clock.now() });
      await svids.deleteEntry(entry.id);
      await rejectsWith(svids.getEntry(entry.id), 'notFound', new RegExp(`^no registration entry ${entry.id}$`));
      await rejectsWith(svids.deleteEntry(entry.id), 'notFound', /^no registration entry /);
    });

    it('signs a JWT-SVID for the child an entry grants, and refuses another parent', async () => {
      const svids = service();
      const spiffeId = `${WEB}/jwt`;
      await svids.createEntry('cli:alice', { spiffeId, parentId: NODE, jwtTtlMs: 2 * MINUTE });
      const node: SvidCaller = { spiffeId: NODE, serial: '0a', kind: 'node' };
      const issued = await svids.issueJwt(node, { audience: ['db'], spiffeId });
      const [authority] = svids.jwtAuthorities();
      assert.ok(authority !== undefined);
      const { payload } = await jwtVerify(issued.token, await importJWK(authority, 'ES256'), {
        audience: 'db',
        currentDate: new Date(clock.now()),
      });
      assert.equal(payload.sub, spiffeId);
      assert.equal(issued.expiresAt - issued.issuedAt, 2 * MINUTE);
      const stranger: SvidCaller = { spiffeId: `spiffe://${TD}/node/other`, serial: '0b', kind: 'node' };
      await rejectsWith(svids.issueJwt(stranger, { audience: ['db'], spiffeId }), 'forbidden', /no registration entry lets/);
    });

    it("stores only a join token's hash, and refuses a token another node already redeemed", async () => {
      const svids = service();
      const created = await svids.createJoinToken('cli:alice', `spiffe://${TD}/node/joiner`, 10 * MINUTE);
      const tokenHash = createHash('sha256').update(created.token).digest('hex');
      assert.deepEqual(await ledger.joinTokens.find(tokenHash), {
        id: created.id,
        tokenHash,
        spiffeId: `spiffe://${TD}/node/joiner`,
        expiresAt: clock.now() + 10 * MINUTE,
        createdAt: clock.now(),
        createdBy: 'cli:alice',
        usedAt: null,
        usedBySerial: null,
        revokedAt: null,
      });
      // Another node got there first: this one must refuse, before any issuance.
      assert.equal((await ledger.joinTokens.redeem(tokenHash, clock.now())).ok, true);
      await rejectsWith(
        svids.attestJoinToken({ token: created.token, csr: csrs.p256 }, '192.0.2.1'),
        'unauthorized',
        /^join token has already been used$/,
      );
    });

    it('refuses a revoked join token (keysmith tokens revoke) and issues nothing', async () => {
      const svids = service();
      const created = await svids.createJoinToken('cli:alice', `spiffe://${TD}/node/revoked`, 10 * MINUTE);
      assert.match(created.id, /^jt-[0-9a-f]{18}$/);
      await ledger.joinTokens.revoke(created.id, clock.now());
      await rejectsWith(
        svids.attestJoinToken({ token: created.token, csr: csrs.p256 }, '192.0.2.2'),
        'unauthorized',
        /^join token has been revoked$/,
      );
      const tokenHash = createHash('sha256').update(created.token).digest('hex');
      const stored = await ledger.joinTokens.find(tokenHash);
      assert.equal(stored?.usedAt, null);
      assert.equal(stored?.usedBySerial, null);
    });
  });
}
