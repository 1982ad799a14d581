import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { openLedgerBackend, type JoinTokenRedemption } from '../../../../src/ledger/index.js';
import type { JoinTokenRecord } from '../../../../src/domain/entries.js';
import type { JoinTokenStore } from '../../../../src/svid/ports.js';
import { BACKENDS } from '../../../helpers/backends.js';
import { HOUR, NOW, makeRecord } from '../ledger-fixtures.js';
import { assertRejectsDomainError, CHECK_FAILED, useBackend, withRawSql } from './contract-fixtures.js';

/**
 * The join-token repository's contract, run on both backends (a real SQLite
 * file, a real PostgreSQL database, the real migrations). Concurrent
 * redemption on PostgreSQL is in join-token-race.test.ts.
 */

const NODE = 'spiffe://keysmith.local/node/n1';

function freshHash(): string {
  return createHash('sha256').update(randomBytes(32).toString('base64url')).digest('hex');
}

function newToken(overrides: Partial<JoinTokenRecord> = {}): JoinTokenRecord {
  return {
    id: `jt-${randomBytes(9).toString('hex')}`,
    tokenHash: freshHash(),
    spiffeId: NODE,
    expiresAt: NOW + HOUR,
    createdAt: NOW,
    createdBy: 'cli:tester',
    usedAt: null,
    usedBySerial: null,
    revokedAt: null,
    ...overrides,
  };
}

interface UsedColumns {
  used_at: number | null;
  used_by_serial: string | null;
}

for (const backend of BACKENDS) {
  describe(`JoinTokenRepository contract: ${backend.name}`, () => {
    const open = useBackend(backend);

    /** What another connection sees of a token's use. */
    async function usedColumns(tokenHash: string): Promise<UsedColumns[]> {
      return withRawSql(open().location, (raw) =>
        raw.rows<UsedColumns>('SELECT used_at, used_by_serial FROM join_tokens WHERE token_hash = ?', [tokenHash]),
      );
    }

    it("fits the SVID front end's JoinTokenStore port", () => {
      const store: JoinTokenStore = open().ledger.joinTokens;
      assert.ok(store);
    });

    describe('create', () => {
      it('stores the hash and fields, unused', async () => {
        const { ledger } = open();
        const token = newToken();
        assert.equal(await ledger.joinTokens.create(token), undefined);
        assert.deepEqual(await ledger.joinTokens.find(token.tokenHash), token);
      });

      it('refuses the same hash twice with conflict, without echoing the hash', async () => {
        const { ledger } = open();
        const token = newToken();
        await ledger.joinTokens.create(token);
        const error = await assertRejectsDomainError(
          () => ledger.joinTokens.create({ ...newToken(), tokenHash: token.tokenHash }),
          'conflict',
          /^this join token is already stored$/,
        );
        assert.ok(!error.message.includes(token.tokenHash));
      });

      it('refuses bad fields with malformed and stores nothing', async () => {
        const { ledger } = open();
        const cases: Partial<JoinTokenRecord>[] = [
          { tokenHash: 'ab' },
          { tokenHash: 'A'.repeat(64) },
          { spiffeId: 'spiffe://keysmith.local/workload/w1' },
          { spiffeId: 'spiffe://keysmith.local/nodes/n1' },
          { spiffeId: 'not a spiffe id' },
          { expiresAt: NOW },
          { createdAt: 1.5 },
          { createdBy: '' },
          { usedAt: NOW },
          { usedBySerial: '0a' },
        ];
        for (const overrides of cases) {
          const token = newToken(overrides);
          await assertRejectsDomainError(() => ledger.joinTokens.create(token), 'malformed');
          if (/^[0-9a-f]{64}$/.test(token.tokenHash)) assert.equal(await ledger.joinTokens.find(token.tokenHash), undefined);
        }
      });

      it('keeps the node-path rule in SQL as well', async () => {
        await withRawSql(open().location, async (raw) => {
          const insert = (hash: string, spiffeId: string, id = `jt-${randomBytes(9).toString('hex')}`): Promise<number> =>
            raw.run('INSERT INTO join_tokens (id, token_hash, spiffe_id, expires_at, created_at, created_by) VALUES (?, ?, ?, 2, 1, ?)', [
              id,
              hash,
              spiffeId,
              'raw',
            ]);
          await assert.rejects(insert(freshHash(), 'spiffe://keysmith.local/workload/node/x'), CHECK_FAILED);
          await assert.rejects(insert('ab'.repeat(31), NODE), CHECK_FAILED);
          // migrations/0008: the public id's shape, and a token redeemed or revoked, never both.
          await assert.rejects(insert(freshHash(), NODE, 'jt-XYZ'), CHECK_FAILED);
          await assert.rejects(
            raw.run(
              'INSERT INTO join_tokens (id, token_hash, spiffe_id, expires_at, created_at, created_by, used_at, revoked_at) VALUES (?, ?, ?, 2, 1, ?, 1, 1)',
              [`jt-${randomBytes(9).toString('hex')}`, freshHash(), NODE, 'raw'],
            ),
            CHECK_FAILED,
          );
        });
      });
    });

    describe('redeem', () => {
      it('marks a known, unused, unexpired token used once; the second attempt says used', async () => {
        const { ledger } = open();
        const token = newToken();
        await ledger.joinTokens.create(token);
        const outcome = await ledger.joinTokens.redeem(token.tokenHash, NOW + 10);
        assert.deepEqual(outcome, { ok: true, record: { ...token, usedAt: NOW + 10 } });
        assert.deepEqual(await ledger.joinTokens.redeem(token.tokenHash, NOW + 11), { ok: false, reason: 'used' });
        // Committed on return: another connection sees the mark.
        assert.deepEqual(await usedColumns(token.tokenHash), [{ used_at: NOW + 10, used_by_serial: null }]);
      });

      it('says unknown for a hash never stored', async () => {
        assert.deepEqual(await open().ledger.joinTokens.redeem(freshHash(), NOW), { ok: false, reason: 'unknown' });
      });

      it('says expired from expiresAt on, and leaves the token unused', async () => {
        const { ledger } = open();
        const token = newToken();
        await ledger.joinTokens.create(token);
        assert.deepEqual(await ledger.joinTokens.redeem(token.tokenHash, token.expiresAt), { ok: false, reason: 'expired' });
        assert.equal((await ledger.joinTokens.find(token.tokenHash))?.usedAt, null);
        const justBefore = await ledger.joinTokens.redeem(token.tokenHash, token.expiresAt - 1);
        assert.deepEqual(justBefore, { ok: true, record: { ...token, usedAt: token.expiresAt - 1 } });
      });

      it('reports used before expired for a replayed token past its expiry', async () => {
        const { ledger } = open();
        const token = newToken();
        await ledger.joinTokens.create(token);
        assert.equal((await ledger.joinTokens.redeem(token.tokenHash, NOW + 1)).ok, true);
        assert.deepEqual(await ledger.joinTokens.redeem(token.tokenHash, token.expiresAt + 1), { ok: false, reason: 'used' });
      });

      it('lets exactly one of two ledgers on the same database redeem each token, whichever asks first', async () => {
        const { ledger, location } = open();
        const second = await openLedgerBackend(location);
        try {
          const tokens = Array.from({ length: 12 }, () => newToken());
          for (const token of tokens) await ledger.joinTokens.create(token);
          for (const [index, token] of tokens.entries()) {
            // Both ledgers ask for every token at once, in turn first; each asks twice.
            const nodes = index % 2 === 0 ? [ledger, second.ledger] : [second.ledger, ledger];
            const asked = nodes.flatMap((node, n) => [
              node.joinTokens.redeem(token.tokenHash, NOW + 1 + n),
              node.joinTokens.redeem(token.tokenHash, NOW + 3 + n),
            ]);
            const outcomes: JoinTokenRedemption[] = await Promise.all(asked);
            const wins = outcomes.filter((outcome) => outcome.ok);
            assert.equal(wins.length, 1, `token ${index}`);
            assert.deepEqual(
              outcomes.filter((outcome) => !outcome.ok),
              [
                { ok: false, reason: 'used' },
                { ok: false, reason: 'used' },
                { ok: false, reason: 'used' },
              ],
            );
            const [win] = wins;
            assert.ok(win?.ok === true);
            assert.deepEqual(await usedColumns(token.tokenHash), [{ used_at: win.record.usedAt, used_by_serial: null }]);
          }
        } finally {
          await second.ledger.close();
        }
      });

      it('refuses a malformed hash or time with malformed', async () => {
        const { ledger } = open();
        await assertRejectsDomainError(() => ledger.joinTokens.redeem('not-a-hash', NOW), 'malformed');
        await assertRejectsDomainError(() => ledger.joinTokens.redeem(freshHash(), Number.POSITIVE_INFINITY), 'malformed');
      });
    });

    describe('attachSerial', () => {
      it('links the node certificate to a redeemed token; repeating it is harmless, another serial is a conflict', async () => {
        const { ledger } = open();
        const token = newToken();
        await ledger.joinTokens.create(token);
        assert.equal((await ledger.joinTokens.redeem(token.tokenHash, NOW + 1)).ok, true);
        const certificate = makeRecord({ profile: 'node', spiffeId: NODE });
        const other = makeRecord({ profile: 'node', spiffeId: NODE });
        await ledger.certificates.recordIssuedMany([certificate, other]);
        await ledger.joinTokens.attachSerial(token.tokenHash, certificate.serial);
        await ledger.joinTokens.attachSerial(token.tokenHash, certificate.serial);
        assert.equal((await ledger.joinTokens.find(token.tokenHash))?.usedBySerial, certificate.serial);

        await assertRejectsDomainError(
          () => ledger.joinTokens.attachSerial(token.tokenHash, other.serial),
          'conflict',
          new RegExp(`^the join token is already attached to certificate ${certificate.serial}$`),
        );
        assert.deepEqual(await usedColumns(token.tokenHash), [{ used_at: NOW + 1, used_by_serial: certificate.serial }]);
      });

      it('answers conflict for a token not redeemed, notFound for an unknown token or serial', async () => {
        const { ledger } = open();
        const certificate = makeRecord({ profile: 'node', spiffeId: NODE });
        await ledger.certificates.recordIssued(certificate);
        const unredeemed = newToken();
        await ledger.joinTokens.create(unredeemed);
        await assertRejectsDomainError(
          () => ledger.joinTokens.attachSerial(unredeemed.tokenHash, certificate.serial),
          'conflict',
          /^the join token has not been redeemed$/,
        );
        await assertRejectsDomainError(
          () => ledger.joinTokens.attachSerial(freshHash(), certificate.serial),
          'notFound',
          /^no such join token$/,
        );

        const redeemed = newToken();
        await ledger.joinTokens.create(redeemed);
        assert.equal((await ledger.joinTokens.redeem(redeemed.tokenHash, NOW + 1)).ok, true);
        await assertRejectsDomainError(
          () => ledger.joinTokens.attachSerial(redeemed.tokenHash, 'abcdef0123'),
          'notFound',
          /^no certificate with serial abcdef0123 in the ledger$/,
        );
        assert.equal((await ledger.joinTokens.find(redeemed.tokenHash))?.usedBySerial, null);
        await assertRejectsDomainError(() => ledger.joinTokens.attachSerial(redeemed.tokenHash, 'XYZ'), 'malformed');
      });
    });
  });
}
