import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { readMigrations } from '../../../../src/ledger/migrate.js';
import { createTestDatabase } from '../../../helpers/postgres.js';
import { BACKENDS } from '../../../helpers/backends.js';
import { REPO_MIGRATIONS } from '../ledger-fixtures.js';
import { openLedgerBackend, PostgresDatabase } from '../../../../src/ledger/index.js';
import { readPostgresMigrations } from '../../../../src/ledger/postgres/migrate.js';

const LATEST = readMigrations(REPO_MIGRATIONS).length;

for (const backend of BACKENDS) {
  describe(`ledger backend: ${backend.name}`, () => {
    it('opens at the latest schema version and answers ping', async () => {
      const { opened, dispose } = await backend.open();
      try {
        assert.equal(opened.kind, backend.name);
        assert.equal(opened.ledger.schemaVersion, LATEST);
        assert.equal(await opened.ledger.ping(), true);
      } finally {
        await dispose();
      }
    });
  });
}

describe('PostgreSQL migrations', () => {
  it('are in lockstep with the SQLite ones, number for number and name for name', () => {
    const sqlite = readMigrations(REPO_MIGRATIONS).map((m) => `${m.version}_${m.name}`);
    const postgres = readPostgresMigrations(REPO_MIGRATIONS).map((m) => `${m.version}_${m.name}`);
    assert.deepEqual(postgres, sqlite);
  });

  it('run once when several nodes start at the same moment (advisory lock)', async () => {
    const database = await createTestDatabase('migrate');
    try {
      const nodes = await Promise.all(
        Array.from({ length: 4 }, () => openLedgerBackend({ kind: 'postgres', url: database.url, poolSize: 2 })),
      );
      for (const node of nodes) assert.equal(node.ledger.schemaVersion, LATEST);
      const probe = new PostgresDatabase({ url: database.url, poolSize: 1 });
      try {
        const rows = await probe.rows<{ version: number }>('SELECT version FROM schema_migrations ORDER BY version');
        assert.deepEqual(
          rows.map((row) => row.version),
          Array.from({ length: LATEST }, (_, index) => index + 1),
        );
      } finally {
        await probe.close();
      }
      await Promise.all(nodes.map((node) => node.ledger.close()));
    } finally {
      await database.drop();
    }
  });

  it('ping answers false once the database is gone, without throwing', async () => {
    const database = await createTestDatabase('ping');
    const opened = await openLedgerBackend({ kind: 'postgres', url: database.url, poolSize: 1, connectTimeoutMs: 1000 });
    try {
      assert.equal(await opened.ledger.ping(), true);
      await database.drop();
      assert.equal(await opened.ledger.ping(), false);
    } finally {
      await opened.ledger.close();
      await database.drop();
    }
  });
});
