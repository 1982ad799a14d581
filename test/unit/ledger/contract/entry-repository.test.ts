import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import type { LedgerBackend } from '../../../../src/ledger/index.js';
import { readMigrations } from '../../../../src/ledger/migrate.js';
import type { EntryQuery, NewRegistrationEntry, RegistrationEntry } from '../../../../src/domain/entries.js';
import type { EntryStore } from '../../../../src/svid/ports.js';
import pg from 'pg';
import { openLedgerBackend } from '../../../../src/ledger/index.js';
import { BACKENDS, type OpenedTestLedger } from '../../../helpers/backends.js';
import { adminDatabaseUrl } from '../../../helpers/postgres.js';
import { HOUR, NOW, REPO_MIGRATIONS } from '../ledger-fixtures.js';
import { assertRejectsDomainError, CHECK_FAILED, collectPages, useBackend, withRawSql } from './contract-fixtures.js';

/**
 * The registration-entry repository's contract, run on both backends (a real
 * SQLite file, a real PostgreSQL database, the real migrations): the same
 * calls give the same answers, refusals and pages.
 */

const TD = 'spiffe://keysmith.local';
const NODE = `${TD}/node/n1`;

let nextId = 0;
function newEntry(overrides: Partial<NewRegistrationEntry> = {}): NewRegistrationEntry {
  nextId += 1;
  return {
    id: `e-${String(nextId).padStart(5, '0')}`,
    spiffeId: `${TD}/workload/w${nextId}`,
    parentId: NODE,
    x509TtlMs: HOUR,
    jwtTtlMs: 5 * 60_000,
    dnsNames: [],
    admin: false,
    expiresAt: null,
    createdBy: 'cli:tester',
    ...overrides,
  };
}

/** Every page of a listing, following nextCursor. */
async function listAll(ledger: LedgerBackend, query: EntryQuery): Promise<{ ids: string[]; pages: number }> {
  const { items, pages } = await collectPages((q: EntryQuery) => ledger.entries.list(q), query, 1_000);
  return { ids: items.map((item) => item.id), pages };
}

for (const backend of BACKENDS) {
  describe(`EntryRepository contract: ${backend.name}`, () => {
    const open = useBackend(backend);

    it("fits the SVID front end's EntryStore port and lives in migration 0003", async () => {
      const { ledger, location } = open();
      const store: EntryStore = ledger.entries;
      assert.ok(store);
      assert.equal(ledger.schemaVersion, readMigrations(REPO_MIGRATIONS).length);
      const tables = await withRawSql(location, (raw) =>
        raw.rows<{ name: string }>(
          location.kind === 'sqlite'
            ? "SELECT name FROM sqlite_master WHERE type = 'table'"
            : "SELECT table_name AS name FROM information_schema.tables WHERE table_schema = 'public'",
        ),
      );
      assert.ok(tables.some((table) => table.name === 'registration_entries'));
    });

    describe('create and get', () => {
      it('round-trips every field and stamps createdAt = updatedAt = now', async () => {
        const { ledger } = open();
        const input = newEntry({
          spiffeId: `${TD}/admin/ops`,
          dnsNames: ['api.example.org', 'api.internal'],
          admin: true,
          expiresAt: NOW + 30 * HOUR,
          x509TtlMs: 2 * HOUR,
          jwtTtlMs: 60_000,
        });
        const created = await ledger.entries.create(input, NOW);
        const expected: RegistrationEntry = { ...input, createdAt: NOW, updatedAt: NOW };
        assert.deepEqual(created, expected);
        assert.deepEqual(await ledger.entries.get(input.id), expected);
      });

      it('is committed on return: a second connection reads the row', async () => {
        const { ledger, location } = open();
        const input = newEntry();
        await ledger.entries.create(input, NOW);
        const seen = await withRawSql(location, (raw) =>
          raw.rows<{ spiffe_id: string }>('SELECT spiffe_id FROM registration_entries WHERE id = ?', [input.id]),
        );
        assert.deepEqual(seen, [{ spiffe_id: input.spiffeId }]);
      });

      it('refuses a second entry for the same SPIFFE ID and parent with conflict, but allows another parent', async () => {
        const { ledger } = open();
        const first = newEntry();
        await ledger.entries.create(first, NOW);
        await assertRejectsDomainError(
          () => ledger.entries.create({ ...newEntry(), spiffeId: first.spiffeId }, NOW),
          'conflict',
          new RegExp(`^an entry for ${first.spiffeId} with parent ${NODE} exists$`),
        );
        const other = await ledger.entries.create({ ...newEntry(), spiffeId: first.spiffeId, parentId: `${TD}/node/n2` }, NOW);
        assert.equal(other.spiffeId, first.spiffeId);
      });

      it('refuses a reused id with conflict', async () => {
        const { ledger } = open();
        const first = newEntry();
        await ledger.entries.create(first, NOW);
        await assertRejectsDomainError(
          () => ledger.entries.create({ ...newEntry(), id: first.id }, NOW),
          'conflict',
          new RegExp(`^a registration entry with id ${first.id} exists$`),
        );
      });

      it('refuses bad fields with malformed and stores nothing', async () => {
        const { ledger } = open();
        const before = (await ledger.entries.list({ limit: 500 })).items.length;
        const cases: Partial<NewRegistrationEntry>[] = [
          { id: 'has space' },
          { id: '' },
          { spiffeId: 'https://keysmith.local/w' },
          { spiffeId: `${TD}/a/../b` },
          { parentId: 'spiffe://Keysmith.local/node/n1' },
          { x509TtlMs: 0 },
          { jwtTtlMs: 1.5 },
          { dnsNames: ['API.example.org'] },
          { dnsNames: [''] },
          { admin: true },
          { expiresAt: Number.NaN },
          { createdBy: '' },
        ];
        for (const overrides of cases) {
          await assertRejectsDomainError(() => ledger.entries.create(newEntry(overrides), NOW), 'malformed');
        }
        await assertRejectsDomainError(() => ledger.entries.create(newEntry(), Number.NaN), 'malformed');
        assert.equal((await ledger.entries.list({ limit: 500 })).items.length, before);
      });

      it('keeps the admin rule in SQL as well: a raw admin row outside /admin is refused by a CHECK', async () => {
        const { location } = open();
        await withRawSql(location, async (raw) => {
          const insert = (id: string, spiffeId: string): Promise<number> =>
            raw.run(
              `INSERT INTO registration_entries (id, spiffe_id, parent_id, x509_ttl_ms, jwt_ttl_ms, admin, created_at, updated_at, created_by)
               VALUES (?, ?, ?, 3600000, 300000, 1, 0, 0, 'raw')`,
              [id, spiffeId, NODE],
            );
          await assert.rejects(insert('raw-1', `${TD}/workload/administrator`), CHECK_FAILED);
          await assert.rejects(insert('raw-2', `${TD}/adminx/a`), CHECK_FAILED);
          assert.equal(await insert('raw-3', `${TD}/admin/a`), 1);
          assert.equal(await insert('raw-4', `${TD}/admin`), 1);
          assert.equal(await raw.run("DELETE FROM registration_entries WHERE id LIKE 'raw-%'"), 2);
        });
      });

      it('answers undefined for an unknown or impossible id', async () => {
        const { ledger } = open();
        assert.equal(await ledger.entries.get('no-such-entry'), undefined);
        assert.equal(await ledger.entries.get('../etc/passwd'), undefined);
      });
    });

    describe('findBySpiffeId', () => {
      it('returns one entry per parent, oldest first, and nothing for an unknown ID', async () => {
        const { ledger } = open();
        const spiffeId = `${TD}/workload/shared`;
        const a = await ledger.entries.create(newEntry({ spiffeId, parentId: `${TD}/node/a` }), NOW + 2);
        const b = await ledger.entries.create(newEntry({ spiffeId, parentId: `${TD}/node/b` }), NOW + 1);
        assert.deepEqual(
          (await ledger.entries.findBySpiffeId(spiffeId)).map((entry) => entry.id),
          [b.id, a.id],
        );
        assert.deepEqual(await ledger.entries.findBySpiffeId(`${TD}/workload/nobody`), []);
      });
    });

    describe('list', () => {
      let listed: OpenedTestLedger;
      let ledger: LedgerBackend;
      const all: RegistrationEntry[] = [];
      before(async () => {
        listed = await backend.open();
        ledger = listed.opened.ledger;
        // 237 entries over 7 parents and 40 SPIFFE IDs (each pair once); created_at repeats, so ties are broken by id.
        for (let i = 0; i < 237; i += 1) {
          const entry = newEntry({
            id: `l-${(i * 7919) % 1000}`.padEnd(6, 'x'),
            spiffeId: `${TD}/workload/s${i % 40}`,
            parentId: `${TD}/node/p${i % 7}`,
          });
          all.push(await ledger.entries.create(entry, NOW + (i % 17)));
        }
        // Bytewise id order (UTF-16 code units = bytes for these ASCII ids), as both backends sort.
        all.sort((x, y) => x.createdAt - y.createdAt || (x.id < y.id ? -1 : x.id > y.id ? 1 : 0));
      });
      after(async () => {
        await listed.dispose();
      });

      it('pages through every entry once in (createdAt, id) order at any page size', async () => {
        for (const limit of [1, 7, 100, 236, 237, 500]) {
          const { ids, pages } = await listAll(ledger, { limit });
          assert.deepEqual(
            ids,
            all.map((entry) => entry.id),
            `limit ${limit}`,
          );
          // One row more than served is read, so a full last page already says there is no next one.
          assert.equal(pages, Math.ceil(all.length / limit), `limit ${limit}`);
        }
      });

      it("orders ids bytewise, whatever the database's collation", async () => {
        // Punctuation and case: a linguistic collation would put 'l-0' after 'lA' or ignore the '-'; bytes put '-' (0x2d) before 'A' (0x41) before 'a'.
        const ids = ['k~z', 'kA', 'k-b', 'ka', 'k.a', 'k_a'];
        for (const id of ids) await ledger.entries.create(newEntry({ id }), NOW - 1);
        const page = await ledger.entries.list({ limit: ids.length });
        assert.deepEqual(
          page.items.map((entry) => entry.id),
          ['k-b', 'k.a', 'kA', 'k_a', 'ka', 'k~z'],
        );
        for (const id of ids) assert.equal(await ledger.entries.delete(id), true);
      });

      it('serves 100 by default and says when there is no next page', async () => {
        const page = await ledger.entries.list({});
        assert.equal(page.items.length, 100);
        assert.notEqual(page.nextCursor, null);
        const last = await ledger.entries.list({ limit: 500 });
        assert.equal(last.items.length, all.length);
        assert.equal(last.nextCursor, null);
      });

      it('filters by SPIFFE ID, by parent and by both', async () => {
        const parent = `${TD}/node/p1`;
        const spiffeId = `${TD}/workload/s4`;
        assert.deepEqual(
          (await listAll(ledger, { parentId: parent, limit: 9 })).ids,
          all.filter((entry) => entry.parentId === parent).map((entry) => entry.id),
        );
        assert.deepEqual(
          (await listAll(ledger, { spiffeId, limit: 2 })).ids,
          all.filter((entry) => entry.spiffeId === spiffeId).map((entry) => entry.id),
        );
        const both = all.filter((entry) => entry.spiffeId === spiffeId && entry.parentId === parent);
        assert.ok(both.length > 0);
        assert.deepEqual(
          (await listAll(ledger, { spiffeId, parentId: parent })).ids,
          both.map((entry) => entry.id),
        );
        assert.deepEqual(await ledger.entries.list({ spiffeId: `${TD}/workload/none` }), { items: [], nextCursor: null });
      });

      it('does not repeat or skip an entry when one is created between pages', async () => {
        const first = await ledger.entries.list({ limit: 50 });
        assert.ok(first.nextCursor !== null);
        const late = await ledger.entries.create(newEntry({ id: 'zz-late' }), NOW + 1_000);
        const rest = (await listAll(ledger, { limit: 50, cursor: first.nextCursor })).ids;
        const seen = [...first.items.map((entry) => entry.id), ...rest];
        assert.deepEqual(seen, [...all.map((entry) => entry.id), late.id]);
        assert.equal(await ledger.entries.delete(late.id), true);
      });

      it('refuses a limit outside 1..500 and a cursor it did not hand out with malformed', async () => {
        for (const limit of [0, 501, 2.5, -1]) await assertRejectsDomainError(() => ledger.entries.list({ limit }), 'malformed', /limit/);
        const forged = Buffer.from(JSON.stringify({ t: 'x', i: 'e' })).toString('base64url');
        for (const cursor of ['', '!!!', 'a'.repeat(600), forged, Buffer.from('not json').toString('base64url')]) {
          await assertRejectsDomainError(() => ledger.entries.list({ cursor }), 'malformed', /cursor/);
        }
      });
    });

    describe('update', () => {
      it('changes only the fields present, sets updatedAt, and clears the expiry with null', async () => {
        const { ledger } = open();
        const created = await ledger.entries.create(newEntry({ dnsNames: ['a.example'], expiresAt: NOW + HOUR }), NOW);
        const moved = await ledger.entries.update(created.id, { parentId: `${TD}/node/n9`, x509TtlMs: 2 * HOUR }, NOW + 10);
        assert.deepEqual(moved, { ...created, parentId: `${TD}/node/n9`, x509TtlMs: 2 * HOUR, updatedAt: NOW + 10 });
        const cleared = await ledger.entries.update(created.id, { expiresAt: null, dnsNames: [] }, NOW + 20);
        assert.deepEqual(cleared, { ...moved, expiresAt: null, dnsNames: [], updatedAt: NOW + 20 });
        const unchanged = await ledger.entries.update(created.id, {}, NOW + 30);
        assert.deepEqual(unchanged, { ...cleared, updatedAt: NOW + 30 });
        assert.deepEqual(await ledger.entries.get(created.id), unchanged);
      });

      it('answers notFound for an unknown id', async () => {
        const { ledger } = open();
        await assertRejectsDomainError(
          () => ledger.entries.update('missing-entry', { jwtTtlMs: 1000 }, NOW),
          'notFound',
          /^no registration entry missing-entry$/,
        );
        await assertRejectsDomainError(() => ledger.entries.update('bad id', { jwtTtlMs: 1000 }, NOW), 'notFound');
      });

      it('answers conflict when the new parent already has an entry for the SPIFFE ID, and changes nothing', async () => {
        const { ledger } = open();
        const spiffeId = `${TD}/workload/collide`;
        await ledger.entries.create(newEntry({ spiffeId, parentId: `${TD}/node/x` }), NOW);
        const other = await ledger.entries.create(newEntry({ spiffeId, parentId: `${TD}/node/y` }), NOW);
        await assertRejectsDomainError(
          () => ledger.entries.update(other.id, { parentId: `${TD}/node/x`, jwtTtlMs: 1 }, NOW + 5),
          'conflict',
          new RegExp(`^another entry for the same SPIFFE ID already has parent ${TD}/node/x$`),
        );
        assert.deepEqual(await ledger.entries.get(other.id), other);
      });

      it('refuses to make an entry outside /admin an admin entry, and bad patch fields, with malformed', async () => {
        const { ledger } = open();
        const created = await ledger.entries.create(newEntry(), NOW);
        await assertRejectsDomainError(() => ledger.entries.update(created.id, { admin: true }, NOW + 1), 'malformed', /admin/);
        await assertRejectsDomainError(() => ledger.entries.update(created.id, { x509TtlMs: -5 }, NOW + 1), 'malformed');
        await assertRejectsDomainError(() => ledger.entries.update(created.id, { dnsNames: ['UPPER.example'] }, NOW + 1), 'malformed');
        await assertRejectsDomainError(() => ledger.entries.update(created.id, { parentId: 'node-1' }, NOW + 1), 'malformed');
        assert.deepEqual(await ledger.entries.get(created.id), created);
      });
    });

    describe('delete', () => {
      it('removes the entry once and then reports false', async () => {
        const { ledger } = open();
        const created = await ledger.entries.create(newEntry(), NOW);
        assert.equal(await ledger.entries.delete(created.id), true);
        assert.equal(await ledger.entries.get(created.id), undefined);
        assert.equal(await ledger.entries.delete(created.id), false);
        assert.equal(await ledger.entries.delete('not a valid id'), false);
        // The pair is free again.
        await ledger.entries.create({ ...newEntry(), spiffeId: created.spiffeId, parentId: created.parentId }, NOW);
      });
    });
  });
}

describe('EntryRepository on PostgreSQL with a linguistic default collation', () => {
  it('still lists ids bytewise, as SQLite does, and pages across them without a gap', async () => {
    // An ICU en-US database sorts 'k_a k-b k.a k~z ka kA'; the listing must not follow it.
    const name = `keysmith_icu_${process.pid}_${randomBytes(4).toString('hex')}`;
    const admin = new pg.Client({ connectionString: adminDatabaseUrl() });
    await admin.connect();
    try {
      await admin.query(`CREATE DATABASE ${name} LOCALE_PROVIDER icu ICU_LOCALE 'en-US' LOCALE 'C' TEMPLATE template0`);
      const url = new URL(adminDatabaseUrl());
      url.pathname = `/${name}`;
      const opened = await openLedgerBackend({ kind: 'postgres', url: url.toString(), poolSize: 2 });
      try {
        const ids = ['k~z', 'kA', 'k-b', 'ka', 'k.a', 'k_a'];
        for (const id of ids) await opened.ledger.entries.create(newEntry({ id }), NOW);
        const bytewise = ['k-b', 'k.a', 'kA', 'k_a', 'ka', 'k~z'];
        assert.deepEqual((await listAll(opened.ledger, { limit: 2 })).ids, bytewise);
        assert.deepEqual((await listAll(opened.ledger, { limit: 5 })).ids, bytewise);
      } finally {
        await opened.ledger.close();
      }
    } finally {
      await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await admin.end();
    }
  });
});
