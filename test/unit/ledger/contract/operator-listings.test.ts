import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import type { AcmeEabKeyRecord } from '../../../../src/domain/acme.js';
import type { JoinTokenRecord } from '../../../../src/domain/entries.js';
import { BACKENDS } from '../../../helpers/backends.js';
import { HOUR, NOW, makeRecord } from '../ledger-fixtures.js';
import { newAccount, uniqueId } from './acme-fixtures.js';
import { assertRejectsDomainError, collectPages, useBackend } from './contract-fixtures.js';

/**
 * What `keysmith tokens list|revoke` and `keysmith acme eab list|revoke` rest
 * on, on both backends (a real SQLite file, a real PostgreSQL database, the
 * real migrations): keyset pages in creation order, status filters, listings
 * that never carry a token hash or an HMAC key, and revocations that the
 * redemption and the binding then honour.
 */

function newToken(overrides: Partial<JoinTokenRecord> = {}): JoinTokenRecord {
  return {
    id: `jt-${randomBytes(9).toString('hex')}`,
    tokenHash: createHash('sha256').update(randomBytes(32)).digest('hex'),
    spiffeId: 'spiffe://keysmith.local/node/lister',
    expiresAt: NOW + HOUR,
    createdAt: NOW,
    createdBy: 'cli:tester',
    usedAt: null,
    usedBySerial: null,
    revokedAt: null,
    ...overrides,
  };
}

function newEabKey(overrides: Partial<AcmeEabKeyRecord> = {}): AcmeEabKeyRecord {
  return {
    keyId: uniqueId('eab'),
    hmacKey: Uint8Array.from(randomBytes(32)),
    createdAt: NOW,
    createdBy: 'cli:tester',
    boundAccount: null,
    boundAt: null,
    revokedAt: null,
    ...overrides,
  };
}

const SUMMARY_KEYS = ['createdAt', 'createdBy', 'expiresAt', 'id', 'revokedAt', 'spiffeId', 'usedAt', 'usedBySerial'];
const EAB_SUMMARY_KEYS = ['boundAccount', 'boundAt', 'createdAt', 'createdBy', 'keyId', 'revokedAt'];

for (const backend of BACKENDS) {
  describe(`join token listing and revocation: ${backend.name}`, () => {
    const open = useBackend(backend);

    it('pages 1,203 tokens in creation order, 500 at a time, each once, never with a hash', async () => {
      const { ledger } = open();
      const spiffeId = 'spiffe://keysmith.local/node/paged';
      const made: JoinTokenRecord[] = [];
      for (let i = 0; i < 1_203; i++) made.push(newToken({ spiffeId, createdAt: NOW + Math.floor(i / 3), expiresAt: NOW + HOUR + i }));
      for (const token of made) await ledger.joinTokens.create(token);
      const { items, pages } = await collectPages(
        (q: Parameters<typeof ledger.joinTokens.list>[0]) => ledger.joinTokens.list(q),
        { now: NOW, spiffeId, limit: 500 },
        10,
      );
      assert.equal(pages, 3);
      assert.equal(items.length, 1_203);
      const expected = [...made].sort((a, b) => a.createdAt - b.createdAt || (a.id < b.id ? -1 : 1)).map((t) => t.id);
      assert.deepEqual(
        items.map((t) => t.id),
        expected,
      );
      for (const item of items) assert.deepEqual(Object.keys(item).sort(), SUMMARY_KEYS);
      const first = made[0];
      assert.ok(first !== undefined);
      const { tokenHash: _hash, ...summary } = first;
      assert.deepEqual(
        items.find((t) => t.id === first.id),
        summary,
      );
    });

    it('filters by status as redemption judges it: unused, used, expired (at expiresAt), revoked', async () => {
      const { ledger } = open();
      const spiffeId = 'spiffe://keysmith.local/node/states';
      const unused = newToken({ spiffeId, createdAt: NOW, expiresAt: NOW + HOUR });
      const used = newToken({ spiffeId, createdAt: NOW + 1, expiresAt: NOW + HOUR });
      const expired = newToken({ spiffeId, createdAt: NOW + 2, expiresAt: NOW + 100 });
      const revoked = newToken({ spiffeId, createdAt: NOW + 3, expiresAt: NOW + HOUR });
      for (const token of [unused, used, expired, revoked]) await ledger.joinTokens.create(token);
      assert.equal((await ledger.joinTokens.redeem(used.tokenHash, NOW + 50)).ok, true);
      const revokedSummary = await ledger.joinTokens.revoke(revoked.id, NOW + 60);
      assert.equal(revokedSummary.revokedAt, NOW + 60);
      assert.equal(revokedSummary.id, revoked.id);
      const ids = async (status: 'unused' | 'used' | 'expired' | 'revoked'): Promise<string[]> =>
        (await ledger.joinTokens.list({ now: NOW + 100, spiffeId, status })).items.map((t) => t.id);
      assert.deepEqual(await ids('unused'), [unused.id]);
      assert.deepEqual(await ids('used'), [used.id]);
      assert.deepEqual(await ids('expired'), [expired.id]);
      assert.deepEqual(await ids('revoked'), [revoked.id]);
      assert.deepEqual(
        (await ledger.joinTokens.list({ now: NOW + 99, spiffeId, status: 'unused' })).items.map((t) => t.id),
        [unused.id, expired.id],
      );
    });

    it('a revoked token is never redeemed; revoking twice, a used token or an unknown id is refused', async () => {
      const { ledger } = open();
      const token = newToken();
      await ledger.joinTokens.create(token);
      await ledger.joinTokens.revoke(token.id, NOW + 1);
      assert.deepEqual(await ledger.joinTokens.redeem(token.tokenHash, NOW + 2), { ok: false, reason: 'revoked' });
      assert.equal((await ledger.joinTokens.find(token.tokenHash))?.usedAt, null);
      await assertRejectsDomainError(
        () => ledger.joinTokens.revoke(token.id, NOW + 3),
        'conflict',
        new RegExp(`^join token ${token.id} is already revoked$`),
      );

      const spent = newToken();
      await ledger.joinTokens.create(spent);
      assert.equal((await ledger.joinTokens.redeem(spent.tokenHash, NOW + 1)).ok, true);
      const serial = makeRecord().serial;
      await ledger.certificates.recordIssued(makeRecord({ serial, profile: 'node' }));
      await ledger.joinTokens.attachSerial(spent.tokenHash, serial);
      await assertRejectsDomainError(
        () => ledger.joinTokens.revoke(spent.id, NOW + 2),
        'conflict',
        new RegExp(`^join token ${spent.id} was already used \\(node certificate ${serial}: revoke that certificate instead\\)$`),
      );
      await assertRejectsDomainError(
        () => ledger.joinTokens.revoke('jt-000000000000000000', NOW),
        'notFound',
        /^no join token jt-000000000000000000$/,
      );
      await assertRejectsDomainError(() => ledger.joinTokens.revoke('not-an-id', NOW), 'malformed');
    });

    it('refuses a cursor the listing did not hand out', async () => {
      await assertRejectsDomainError(
        () => open().ledger.joinTokens.list({ now: NOW, cursor: 'eyJ0IjoxfQ' }),
        'malformed',
        /^cursor is not one this listing handed out$/,
      );
    });
  });

  describe(`EAB key listing and revocation: ${backend.name}`, () => {
    const open = useBackend(backend);

    it('pages keys in creation order without their HMAC keys, and filters by status', async () => {
      const { ledger } = open();
      const keys: AcmeEabKeyRecord[] = [];
      for (let i = 0; i < 7; i++) keys.push(newEabKey({ createdAt: NOW + i }));
      for (const key of keys) await ledger.acme.eabKeys.createEabKey(key);
      const bound = keys[1];
      const revoked = keys[2];
      assert.ok(bound !== undefined && revoked !== undefined);
      await ledger.acme.accounts.createAccount(newAccount({ eabKeyId: bound.keyId, createdAt: NOW + 10 }));
      await ledger.acme.eabKeys.revokeEabKey(revoked.keyId, NOW + 20);

      const { items, pages } = await collectPages(
        (q: { cursor?: string; limit: number }) => ledger.acme.eabKeys.listEabKeys(q),
        { limit: 3 },
        10,
      );
      assert.equal(pages, 3);
      assert.deepEqual(
        items.map((k) => k.keyId),
        keys.map((k) => k.keyId),
      );
      for (const item of items) assert.deepEqual(Object.keys(item).sort(), EAB_SUMMARY_KEYS);
      assert.deepEqual(items[2], {
        keyId: revoked.keyId,
        createdAt: NOW + 2,
        createdBy: 'cli:tester',
        boundAccount: null,
        boundAt: null,
        revokedAt: NOW + 20,
      });
      const ids = async (status: 'unbound' | 'bound' | 'revoked'): Promise<string[]> =>
        (await ledger.acme.eabKeys.listEabKeys({ status, limit: 500 })).items.map((k) => k.keyId);
      assert.deepEqual(await ids('bound'), [bound.keyId]);
      assert.deepEqual(await ids('revoked'), [revoked.keyId]);
      assert.deepEqual(
        await ids('unbound'),
        keys.filter((k) => k !== bound && k !== revoked).map((k) => k.keyId),
      );
    });

    it('a revoked key binds no new account, and leaves no account behind', async () => {
      const { ledger } = open();
      const key = newEabKey();
      await ledger.acme.eabKeys.createEabKey(key);
      const summary = await ledger.acme.eabKeys.revokeEabKey(key.keyId, NOW + 5);
      assert.deepEqual(summary, {
        keyId: key.keyId,
        createdAt: NOW,
        createdBy: 'cli:tester',
        boundAccount: null,
        boundAt: null,
        revokedAt: NOW + 5,
      });
      assert.equal((await ledger.acme.eabKeys.findEabKey(key.keyId))?.revokedAt, NOW + 5);
      const account = newAccount({ eabKeyId: key.keyId });
      await assertRejectsDomainError(() => ledger.acme.accounts.createAccount(account), 'conflict');
      assert.equal(await ledger.acme.accounts.findAccount(account.id), undefined);
      assert.equal((await ledger.acme.eabKeys.findEabKey(key.keyId))?.boundAccount, null);
    });

    it('revokes a bound key (the account stays); twice or an unknown id is refused', async () => {
      const { ledger } = open();
      const key = newEabKey();
      await ledger.acme.eabKeys.createEabKey(key);
      const account = await ledger.acme.accounts.createAccount(newAccount({ eabKeyId: key.keyId, createdAt: NOW + 1 }));
      const revoked = await ledger.acme.eabKeys.revokeEabKey(key.keyId, NOW + 2);
      assert.equal(revoked.boundAccount, account.id);
      assert.equal((await ledger.acme.accounts.findAccount(account.id))?.status, 'valid');
      await assertRejectsDomainError(
        () => ledger.acme.eabKeys.revokeEabKey(key.keyId, NOW + 3),
        'conflict',
        new RegExp(`^EAB key ${key.keyId} is already revoked$`),
      );
      await assertRejectsDomainError(() => ledger.acme.eabKeys.revokeEabKey('eab-none', NOW), 'notFound', /^no EAB key eab-none$/);
    });
  });
}
