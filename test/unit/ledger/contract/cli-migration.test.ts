import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openLedgerBackend } from '../../../../src/ledger/index.js';
import { BACKENDS } from '../../../helpers/backends.js';
import { NOW, REPO_MIGRATIONS } from '../ledger-fixtures.js';
import { withRawSql } from './contract-fixtures.js';

/**
 * The `_cli` migration (join token ids and revocation, EAB key revocation) on
 * a ledger that already holds tokens and keys, on both backends: every
 * existing token gets a distinct well-formed id, nothing is revoked, and the
 * rows are otherwise unchanged.
 */

/** migrations/ and migrations/postgres/ without the _cli pair and anything after it (the integrator may renumber it). */
function migrationsBeforeCli(): string {
  const dir = mkdtempSync(join(tmpdir(), 'keysmith-pre-cli-'));
  mkdirSync(join(dir, 'postgres'));
  const all = readdirSync(REPO_MIGRATIONS)
    .filter((f) => /^\d{4}_.+\.sql$/.test(f))
    .sort();
  const cli = all.findIndex((f) => f.endsWith('_cli.sql'));
  assert.ok(cli > 0, 'a *_cli.sql migration exists');
  for (const file of all.slice(0, cli)) {
    copyFileSync(join(REPO_MIGRATIONS, file), join(dir, file));
    copyFileSync(join(REPO_MIGRATIONS, 'postgres', file), join(dir, 'postgres', file));
  }
  return dir;
}

const HASHES = [0, 1, 2].map((i) => createHash('sha256').update(`token ${i}`).digest('hex'));

interface TokenRow {
  id: string;
  token_hash: string;
  spiffe_id: string;
  used_at: number | null;
  revoked_at: number | null;
}

for (const backend of BACKENDS) {
  describe(`migration _cli over existing rows: ${backend.name}`, () => {
    const dirs: string[] = [];
    after(() => {
      for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
    });

    it('gives each existing token a distinct id, revokes nothing, keeps EAB keys', async () => {
      const migrationsDir = migrationsBeforeCli();
      dirs.push(migrationsDir);
      const test = await backend.open({ migrationsDir });
      try {
        await withRawSql(test.location, async (raw) => {
          for (const [i, hash] of HASHES.entries()) {
            await raw.run(
              'INSERT INTO join_tokens (token_hash, spiffe_id, expires_at, created_at, created_by, used_at) VALUES (?, ?, ?, ?, ?, ?)',
              [hash, `spiffe://keysmith.local/node/n${i}`, NOW + 1000, NOW + i, 'cli:old', i === 0 ? NOW + 10 : null],
            );
          }
          await raw.run('INSERT INTO acme_eab_keys (key_id, hmac_key, created_at, created_by) VALUES (?, ?, ?, ?)', [
            'eab-old',
            randomBytes(32),
            NOW,
            'cli:old',
          ]);
        });
        // The old connection stays open (idle): another process upgrading a live ledger.
        const upgraded = await openLedgerBackend(test.location.kind === 'sqlite' ? test.location : { ...test.location, poolSize: 2 });
        try {
          const rows = await withRawSql(test.location, (raw) =>
            raw.rows<TokenRow>('SELECT id, token_hash, spiffe_id, used_at, revoked_at FROM join_tokens ORDER BY created_at'),
          );
          assert.deepEqual(
            rows.map((r) => r.token_hash),
            HASHES,
          );
          assert.deepEqual(
            rows.map((r) => r.spiffe_id),
            ['n0', 'n1', 'n2'].map((n) => `spiffe://keysmith.local/node/${n}`),
          );
          assert.deepEqual(
            rows.map((r) => r.used_at),
            [NOW + 10, null, null],
          );
          assert.deepEqual(
            rows.map((r) => r.revoked_at),
            [null, null, null],
          );
          for (const row of rows) assert.match(row.id, /^jt-[0-9a-f]{18}$/);
          assert.equal(new Set(rows.map((r) => r.id)).size, 3);
          const listed = await upgraded.ledger.joinTokens.list({ now: NOW });
          assert.deepEqual(
            listed.items.map((t) => t.id),
            rows.map((r) => r.id),
          );
          const key = await upgraded.ledger.acme.eabKeys.findEabKey('eab-old');
          assert.equal(key?.revokedAt, null);
          assert.equal(key?.createdBy, 'cli:old');
        } finally {
          await upgraded.ledger.close();
        }
      } finally {
        await test.dispose();
      }
    });
  });
}
