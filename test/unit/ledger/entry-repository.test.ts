import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { openLedger, type Ledger } from '../../../src/ledger/index.js';
import { readMigrations } from '../../../src/ledger/migrate.js';
import type { EntryQuery, NewRegistrationEntry, RegistrationEntry } from '../../../src/shared/entry-records.js';
import type { EntryStore } from '../../../src/svid/ports.js';
import { HOUR, NOW, REPO_MIGRATIONS, assertDomainError, collectPages, makeTempDir, useLedgerFile, withRawDatabase, type TempDir } from './ledger-fixtures.js';

/** EntryRepository against a real SQLite file with the real migrations. */

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
function listAll(ledger: Ledger, query: EntryQuery): { ids: string[]; pages: number } {
  const { items, pages } = collectPages((q: EntryQuery) => ledger.entries.list(q), query, 1_000);
  return { ids: items.map((item) => item.id), pages };
}

describe('EntryRepository', () => {
  let ledger: Ledger;
  let path: string;
  useLedgerFile((file) => ({ path, ledger } = file));

  it('fits the SVID front end\'s EntryStore port and lives in migration 0003', () => {
    const store: EntryStore = ledger.entries;
    assert.ok(store);
    assert.ok(ledger.schemaVersion >= 3);
    assert.equal(ledger.schemaVersion, readMigrations(REPO_MIGRATIONS).length);
    const tables = withRawDatabase(path, (db) =>
      db.prepare<[], string>("SELECT name FROM sqlite_master WHERE type = 'table'").pluck().all(),
    );
    assert.ok(tables.includes('registration_entries'));
  });

  describe('create and get', () => {
    it('round-trips every field and stamps createdAt = updatedAt = now', () => {
      const input = newEntry({
        spiffeId: `${TD}/admin/ops`,
        dnsNames: ['api.example.org', 'api.internal'],
        admin: true,
        expiresAt: NOW + 30 * HOUR,
        x509TtlMs: 2 * HOUR,
        jwtTtlMs: 60_000,
      });
      const created = ledger.entries.create(input, NOW);
      const expected: RegistrationEntry = { ...input, createdAt: NOW, updatedAt: NOW };
      assert.deepEqual(created, expected);
      assert.deepEqual(ledger.entries.get(input.id), expected);
    });

    it('is durable on return: a second connection reads the row', () => {
      const input = newEntry();
      ledger.entries.create(input, NOW);
      const seen = withRawDatabase(path, (db) =>
        db.prepare<[string], string>('SELECT spiffe_id FROM registration_entries WHERE id = ?').pluck().get(input.id),
      );
      assert.equal(seen, input.spiffeId);
    });

    it('refuses a second entry for the same SPIFFE ID and parent with conflict, but allows another parent', () => {
      const first = newEntry();
      ledger.entries.create(first, NOW);
      assertDomainError(() => ledger.entries.create({ ...newEntry(), spiffeId: first.spiffeId }, NOW), 'conflict', /with parent/);
      const other = ledger.entries.create({ ...newEntry(), spiffeId: first.spiffeId, parentId: `${TD}/node/n2` }, NOW);
      assert.equal(other.spiffeId, first.spiffeId);
    });

    it('refuses a reused id with conflict', () => {
      const first = newEntry();
      ledger.entries.create(first, NOW);
      assertDomainError(() => ledger.entries.create({ ...newEntry(), id: first.id }, NOW), 'conflict', /id/);
    });

    it('refuses bad fields with malformed and stores nothing', () => {
      const before = ledger.entries.list({ limit: 500 }).items.length;
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
        assertDomainError(() => ledger.entries.create(newEntry(overrides), NOW), 'malformed');
      }
      assertDomainError(() => ledger.entries.create(newEntry(), Number.NaN), 'malformed');
      assert.equal(ledger.entries.list({ limit: 500 }).items.length, before);
    });

    it('keeps the admin rule in SQL as well: a raw admin row outside /admin is refused by a CHECK', () => {
      withRawDatabase(path, (db) => {
        const insert = db.prepare(
          `INSERT INTO registration_entries (id, spiffe_id, parent_id, x509_ttl_ms, jwt_ttl_ms, admin, created_at, updated_at, created_by)
           VALUES (?, ?, ?, 3600000, 300000, 1, 0, 0, 'raw')`,
        );
        assert.throws(() => insert.run('raw-1', `${TD}/workload/administrator`, NODE), /CHECK constraint failed/);
        assert.throws(() => insert.run('raw-2', `${TD}/adminx/a`, NODE), /CHECK constraint failed/);
        insert.run('raw-3', `${TD}/admin/a`, NODE);
        insert.run('raw-4', `${TD}/admin`, NODE);
        db.prepare("DELETE FROM registration_entries WHERE id LIKE 'raw-%'").run();
      });
    });

    it('answers undefined for an unknown or impossible id', () => {
      assert.equal(ledger.entries.get('no-such-entry'), undefined);
      assert.equal(ledger.entries.get('../etc/passwd'), undefined);
    });
  });

  describe('findBySpiffeId', () => {
    it('returns one entry per parent, oldest first, and nothing for an unknown ID', () => {
      const spiffeId = `${TD}/workload/shared`;
      const a = ledger.entries.create(newEntry({ spiffeId, parentId: `${TD}/node/a` }), NOW + 2);
      const b = ledger.entries.create(newEntry({ spiffeId, parentId: `${TD}/node/b` }), NOW + 1);
      assert.deepEqual(
        ledger.entries.findBySpiffeId(spiffeId).map((entry) => entry.id),
        [b.id, a.id],
      );
      assert.deepEqual(ledger.entries.findBySpiffeId(`${TD}/workload/nobody`), []);
    });
  });

  describe('list', () => {
    let listTmp: TempDir;
    let listLedger: Ledger;
    const all: RegistrationEntry[] = [];
    before(() => {
      listTmp = makeTempDir();
      listLedger = openLedger({ path: listTmp.file('list.db') });
      // 237 entries over 7 parents and 40 SPIFFE IDs (each pair once); created_at repeats, so ties are broken by id.
      for (let i = 0; i < 237; i += 1) {
        const entry = newEntry({
          id: `l-${(i * 7919) % 1000}`.padEnd(6, 'x'),
          spiffeId: `${TD}/workload/s${i % 40}`,
          parentId: `${TD}/node/p${i % 7}`,
        });
        all.push(listLedger.entries.create(entry, NOW + (i % 17)));
      }
      all.sort((x, y) => x.createdAt - y.createdAt || (x.id < y.id ? -1 : x.id > y.id ? 1 : 0));
    });
    after(() => {
      listLedger.close();
      listTmp.remove();
    });

    it('pages through every entry once in (createdAt, id) order at any page size', () => {
      for (const limit of [1, 7, 100, 236, 237, 500]) {
        const { ids, pages } = listAll(listLedger, { limit });
        assert.deepEqual(ids, all.map((entry) => entry.id), `limit ${limit}`);
        // One row more than served is read, so a full last page already says there is no next one.
        assert.equal(pages, Math.ceil(all.length / limit), `limit ${limit}`);
      }
    });

    it('serves 100 by default and says when there is no next page', () => {
      const page = listLedger.entries.list({});
      assert.equal(page.items.length, 100);
      assert.notEqual(page.nextCursor, null);
      const last = listLedger.entries.list({ limit: 500 });
      assert.equal(last.items.length, all.length);
      assert.equal(last.nextCursor, null);
    });

    it('filters by SPIFFE ID, by parent and by both', () => {
      const parent = `${TD}/node/p1`;
      const spiffeId = `${TD}/workload/s4`;
      assert.deepEqual(
        listAll(listLedger, { parentId: parent, limit: 9 }).ids,
        all.filter((entry) => entry.parentId === parent).map((entry) => entry.id),
      );
      assert.deepEqual(
        listAll(listLedger, { spiffeId, limit: 2 }).ids,
        all.filter((entry) => entry.spiffeId === spiffeId).map((entry) => entry.id),
      );
      const both = all.filter((entry) => entry.spiffeId === spiffeId && entry.parentId === parent);
      assert.ok(both.length > 0);
      assert.deepEqual(listAll(listLedger, { spiffeId, parentId: parent }).ids, both.map((entry) => entry.id));
      assert.deepEqual(listLedger.entries.list({ spiffeId: `${TD}/workload/none` }), { items: [], nextCursor: null });
    });

    it('does not repeat or skip an entry when one is created between pages', () => {
      const first = listLedger.entries.list({ limit: 50 });
      assert.ok(first.nextCursor !== null);
      const late = listLedger.entries.create(newEntry({ id: 'zz-late' }), NOW + 1_000);
      const rest = listAll(listLedger, { limit: 50, cursor: first.nextCursor }).ids;
      const seen = [...first.items.map((entry) => entry.id), ...rest];
      assert.deepEqual(seen, [...all.map((entry) => entry.id), late.id]);
      assert.equal(listLedger.entries.delete(late.id), true);
    });

    it('refuses a limit outside 1..500 and a cursor it did not hand out with malformed', () => {
      for (const limit of [0, 501, 2.5, -1]) assertDomainError(() => listLedger.entries.list({ limit }), 'malformed', /limit/);
      const forged = Buffer.from(JSON.stringify({ t: 'x', i: 'e' })).toString('base64url');
      for (const cursor of ['', '!!!', 'a'.repeat(600), forged, Buffer.from('not json').toString('base64url')]) {
        assertDomainError(() => listLedger.entries.list({ cursor }), 'malformed', /cursor/);
      }
    });
  });

  describe('update', () => {
    it('changes only the fields present, sets updatedAt, and clears the expiry with null', () => {
      const created = ledger.entries.create(newEntry({ dnsNames: ['a.example'], expiresAt: NOW + HOUR }), NOW);
      const moved = ledger.entries.update(created.id, { parentId: `${TD}/node/n9`, x509TtlMs: 2 * HOUR }, NOW + 10);
      assert.deepEqual(moved, { ...created, parentId: `${TD}/node/n9`, x509TtlMs: 2 * HOUR, updatedAt: NOW + 10 });
      const cleared = ledger.entries.update(created.id, { expiresAt: null, dnsNames: [] }, NOW + 20);
      assert.deepEqual(cleared, { ...moved, expiresAt: null, dnsNames: [], updatedAt: NOW + 20 });
      const unchanged = ledger.entries.update(created.id, {}, NOW + 30);
      assert.deepEqual(unchanged, { ...cleared, updatedAt: NOW + 30 });
      assert.deepEqual(ledger.entries.get(created.id), unchanged);
    });

    it('answers notFound for an unknown id', () => {
      assertDomainError(() => ledger.entries.update('missing-entry', { jwtTtlMs: 1000 }, NOW), 'notFound');
      assertDomainError(() => ledger.entries.update('bad id', { jwtTtlMs: 1000 }, NOW), 'notFound');
    });

    it('answers conflict when the new parent already has an entry for the SPIFFE ID, and changes nothing', () => {
      const spiffeId = `${TD}/workload/collide`;
      ledger.entries.create(newEntry({ spiffeId, parentId: `${TD}/node/x` }), NOW);
      const other = ledger.entries.create(newEntry({ spiffeId, parentId: `${TD}/node/y` }), NOW);
      assertDomainError(() => ledger.entries.update(other.id, { parentId: `${TD}/node/x`, jwtTtlMs: 1 }, NOW + 5), 'conflict');
      assert.deepEqual(ledger.entries.get(other.id), other);
    });

    it('refuses to make an entry outside /admin an admin entry, and bad patch fields, with malformed', () => {
      const created = ledger.entries.create(newEntry(), NOW);
      assertDomainError(() => ledger.entries.update(created.id, { admin: true }, NOW + 1), 'malformed', /admin/);
      assertDomainError(() => ledger.entries.update(created.id, { x509TtlMs: -5 }, NOW + 1), 'malformed');
      assertDomainError(() => ledger.entries.update(created.id, { dnsNames: ['UPPER.example'] }, NOW + 1), 'malformed');
      assertDomainError(() => ledger.entries.update(created.id, { parentId: 'node-1' }, NOW + 1), 'malformed');
      assert.deepEqual(ledger.entries.get(created.id), created);
    });
  });

  describe('delete', () => {
    it('removes the entry once and then reports false', () => {
      const created = ledger.entries.create(newEntry(), NOW);
      assert.equal(ledger.entries.delete(created.id), true);
      assert.equal(ledger.entries.get(created.id), undefined);
      assert.equal(ledger.entries.delete(created.id), false);
      assert.equal(ledger.entries.delete('not a valid id'), false);
      // The pair is free again.
      ledger.entries.create({ ...newEntry(), spiffeId: created.spiffeId, parentId: created.parentId }, NOW);
    });
  });
});
