import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { openLedger, type Ledger } from '../../../src/ledger/index.js';
import type { JoinTokenRecord } from '../../../src/shared/entry-records.js';
import { isDomainError } from '../../../src/shared/errors.js';
import type { JoinTokenStore } from '../../../src/svid/ports.js';
import { HOUR, NOW, assertDomainError, makeRecord, useLedgerFile, withRawDatabase } from './ledger-fixtures.js';

/** JoinTokenRepository against a real SQLite file with the real migrations. */

const NODE = 'spiffe://keysmith.local/node/n1';

function freshHash(): string {
  return createHash('sha256').update(randomBytes(32).toString('base64url')).digest('hex');
}

function newToken(overrides: Partial<JoinTokenRecord> = {}): JoinTokenRecord {
  return {
    tokenHash: freshHash(),
    spiffeId: NODE,
    expiresAt: NOW + HOUR,
    createdAt: NOW,
    createdBy: 'cli:tester',
    usedAt: null,
    usedBySerial: null,
    ...overrides,
  };
}

describe('JoinTokenRepository', () => {
  let ledger: Ledger;
  let path: string;
  useLedgerFile((file) => ({ path, ledger } = file));

  it('fits the SVID front end\'s JoinTokenStore port', () => {
    const store: JoinTokenStore = ledger.joinTokens;
    assert.ok(store);
  });

  describe('create', () => {
    it('stores the hash and fields, unused', () => {
      const token = newToken();
      ledger.joinTokens.create(token);
      assert.deepEqual(ledger.joinTokens.find(token.tokenHash), token);
    });

    it('refuses the same hash twice with conflict, without echoing the hash', () => {
      const token = newToken();
      ledger.joinTokens.create(token);
      assert.throws(
        () => ledger.joinTokens.create({ ...newToken(), tokenHash: token.tokenHash }),
        (error: unknown) => {
          assert.ok(isDomainError(error, 'conflict'));
          assert.ok(!error.message.includes(token.tokenHash));
          return true;
        },
      );
    });

    it('refuses bad fields with malformed and stores nothing', () => {
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
        assertDomainError(() => ledger.joinTokens.create(token), 'malformed');
        if (/^[0-9a-f]{64}$/.test(token.tokenHash)) assert.equal(ledger.joinTokens.find(token.tokenHash), undefined);
      }
    });

    it('keeps the node-path rule in SQL as well', () => {
      withRawDatabase(path, (db) => {
        const insert = db.prepare(
          'INSERT INTO join_tokens (token_hash, spiffe_id, expires_at, created_at, created_by) VALUES (?, ?, 2, 1, ?)',
        );
        assert.throws(() => insert.run(freshHash(), 'spiffe://keysmith.local/workload/node/x', 'raw'), /CHECK constraint failed/);
        assert.throws(() => insert.run('ab'.repeat(31), NODE, 'raw'), /CHECK constraint failed/);
      });
    });
  });

  describe('redeem', () => {
    it('marks a known, unused, unexpired token used once; the second attempt says used', () => {
      const token = newToken();
      ledger.joinTokens.create(token);
      const outcome = ledger.joinTokens.redeem(token.tokenHash, NOW + 10);
      assert.deepEqual(outcome, { ok: true, record: { ...token, usedAt: NOW + 10 } });
      assert.deepEqual(ledger.joinTokens.redeem(token.tokenHash, NOW + 11), { ok: false, reason: 'used' });
      // Durable on return: another connection sees the mark.
      const usedAt = withRawDatabase(path, (db) =>
        db.prepare<[string], number>('SELECT used_at FROM join_tokens WHERE token_hash = ?').pluck().get(token.tokenHash),
      );
      assert.equal(usedAt, NOW + 10);
    });

    it('says unknown for a hash never stored', () => {
      assert.deepEqual(ledger.joinTokens.redeem(freshHash(), NOW), { ok: false, reason: 'unknown' });
    });

    it('says expired from expiresAt on, and leaves the token unused', () => {
      const token = newToken();
      ledger.joinTokens.create(token);
      assert.deepEqual(ledger.joinTokens.redeem(token.tokenHash, token.expiresAt), { ok: false, reason: 'expired' });
      assert.equal(ledger.joinTokens.find(token.tokenHash)?.usedAt, null);
      const justBefore = ledger.joinTokens.redeem(token.tokenHash, token.expiresAt - 1);
      assert.equal(justBefore.ok, true);
    });

    it('lets exactly one of two connections to the same file redeem a token', () => {
      const token = newToken();
      ledger.joinTokens.create(token);
      const second = openLedger({ path });
      try {
        const outcomes = [
          second.joinTokens.redeem(token.tokenHash, NOW + 1),
          ledger.joinTokens.redeem(token.tokenHash, NOW + 2),
          second.joinTokens.redeem(token.tokenHash, NOW + 3),
        ];
        assert.deepEqual(
          outcomes.map((outcome) => outcome.ok),
          [true, false, false],
        );
      } finally {
        second.close();
      }
    });

    it('refuses a malformed hash or time with malformed', () => {
      assertDomainError(() => ledger.joinTokens.redeem('not-a-hash', NOW), 'malformed');
      assertDomainError(() => ledger.joinTokens.redeem(freshHash(), Number.POSITIVE_INFINITY), 'malformed');
    });
  });

  describe('attachSerial', () => {
    it('links the node certificate to a redeemed token; repeating it is harmless, another serial is a conflict', () => {
      const token = newToken();
      ledger.joinTokens.create(token);
      assert.equal(ledger.joinTokens.redeem(token.tokenHash, NOW + 1).ok, true);
      const certificate = makeRecord({ profile: 'node', spiffeId: NODE });
      ledger.certificates.recordIssued(certificate);
      ledger.joinTokens.attachSerial(token.tokenHash, certificate.serial);
      ledger.joinTokens.attachSerial(token.tokenHash, certificate.serial);
      assert.equal(ledger.joinTokens.find(token.tokenHash)?.usedBySerial, certificate.serial);

      const other = makeRecord({ profile: 'node', spiffeId: NODE });
      ledger.certificates.recordIssued(other);
      assertDomainError(() => ledger.joinTokens.attachSerial(token.tokenHash, other.serial), 'conflict', /already attached/);
      assert.equal(ledger.joinTokens.find(token.tokenHash)?.usedBySerial, certificate.serial);
    });

    it('answers conflict for a token not redeemed, notFound for an unknown token or serial', () => {
      const certificate = makeRecord({ profile: 'node', spiffeId: NODE });
      ledger.certificates.recordIssued(certificate);
      const unredeemed = newToken();
      ledger.joinTokens.create(unredeemed);
      assertDomainError(() => ledger.joinTokens.attachSerial(unredeemed.tokenHash, certificate.serial), 'conflict', /not been redeemed/);
      assertDomainError(() => ledger.joinTokens.attachSerial(freshHash(), certificate.serial), 'notFound');

      const redeemed = newToken();
      ledger.joinTokens.create(redeemed);
      assert.equal(ledger.joinTokens.redeem(redeemed.tokenHash, NOW + 1).ok, true);
      assertDomainError(() => ledger.joinTokens.attachSerial(redeemed.tokenHash, 'abcdef0123'), 'notFound', /no certificate/);
      assert.equal(ledger.joinTokens.find(redeemed.tokenHash)?.usedBySerial, null);
      assertDomainError(() => ledger.joinTokens.attachSerial(redeemed.tokenHash, 'XYZ'), 'malformed');
    });
  });
});
