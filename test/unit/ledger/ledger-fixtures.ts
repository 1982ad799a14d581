import { createHash, randomBytes } from 'node:crypto';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import assert from 'node:assert/strict';
import { after, afterEach, before, beforeEach } from 'node:test';
import Database from 'better-sqlite3';
import { openLedger, type Ledger } from '../../../src/ledger/index.js';
import { isDomainError, type DomainErrorKind } from '../../../src/shared/errors.js';
import { findMigrationsDir, readMigrations } from '../../../src/ledger/migrate.js';
import type { NewCertificateRecord } from '../../../src/domain/certificates.js';

/** Shared by the ledger tests: temporary directories, records, raw SQLite access for inspection. */

export const REPO_MIGRATIONS = findMigrationsDir();
export const HOUR = 3_600_000;
export const DAY = 24 * HOUR;
/** A pinned "now" for every test: 2025-01-01T00:00:00Z. */
export const NOW = Date.UTC(2025, 0, 1);

export interface TempDir {
  readonly path: string;
  file(name: string): string;
  remove(): void;
}

export function makeTempDir(): TempDir {
  const path = mkdtempSync(join(tmpdir(), 'keysmith-ledger-'));
  return {
    path,
    file: (name) => join(path, name),
    remove: () => rmSync(path, { recursive: true, force: true }),
  };
}

/**
 * A migrations directory holding the first `count` repository migrations
 * plus any extra files (name to SQL).
 */
export function makeMigrationsDir(parent: TempDir, name: string, count: number, extra: Record<string, string> = {}): string {
  const dir = parent.file(name);
  mkdirSync(dir);
  for (const migration of readMigrations(REPO_MIGRATIONS).slice(0, count)) {
    const file = `${String(migration.version).padStart(4, '0')}_${migration.name}.sql`;
    copyFileSync(join(REPO_MIGRATIONS, file), join(dir, file));
  }
  for (const [file, sql] of Object.entries(extra)) writeFileSync(join(dir, file), sql);
  return dir;
}

let nextSerial = 0x10_0000;

/** A fresh lowercase-hex serial, unique within the test process. */
export function freshSerial(): string {
  nextSerial += 1;
  return nextSerial.toString(16);
}

/** A record with random "DER" (the ledger stores bytes, it does not parse them) and its real fingerprint. */
export function makeRecord(overrides: Partial<NewCertificateRecord> = {}): NewCertificateRecord {
  const der = overrides.der ?? randomBytes(300 + Math.floor(Math.random() * 400));
  const serial = overrides.serial ?? freshSerial();
  return {
    serial,
    issuer: 'CN=keysmith intermediate',
    subject: `CN=workload ${serial}`,
    sans: [{ type: 'uri', value: `spiffe://keysmith.local/workload/${serial}` }],
    spiffeId: `spiffe://keysmith.local/workload/${serial}`,
    profile: 'svid',
    requester: 'system',
    notBefore: NOW - 5 * 60_000,
    notAfter: NOW + HOUR,
    issuedAt: NOW,
    ...overrides,
    der,
    fingerprint: overrides.fingerprint ?? createHash('sha256').update(der).digest('hex'),
  };
}

/** A raw connection for looking at what the ledger wrote. */
export function withRawDatabase<T>(path: string, look: (db: Database.Database) => T): T {
  const db = new Database(path);
  try {
    return look(db);
  } finally {
    db.close();
  }
}

export function integrityCheck(path: string): string {
  return withRawDatabase(path, (db) => String(db.pragma('integrity_check', { simple: true })));
}

export function recordedVersions(path: string): number[] {
  return withRawDatabase(path, (db) => db.prepare<[], number>('SELECT version FROM schema_migrations ORDER BY version').pluck().all());
}

export interface LedgerFile {
  readonly tmp: TempDir;
  readonly path: string;
  readonly ledger: Ledger;
}

/**
 * A fresh ledger file for the enclosing suite (or for each test with
 * `each`), handed to `onOpen`; closed and integrity-checked afterwards.
 */
export function useLedgerFile(onOpen: (file: LedgerFile) => void, options: { each?: boolean; busyTimeoutMs?: number } = {}): void {
  let file: LedgerFile | undefined;
  (options.each === true ? beforeEach : before)(() => {
    const tmp = makeTempDir();
    const path = tmp.file('ledger.db');
    file = {
      tmp,
      path,
      ledger: openLedger({ path, ...(options.busyTimeoutMs === undefined ? {} : { busyTimeoutMs: options.busyTimeoutMs }) }),
    };
    onOpen(file);
  });
  (options.each === true ? afterEach : after)(() => {
    if (file === undefined) return;
    file.ledger.close();
    assert.equal(integrityCheck(file.path), 'ok');
    file.tmp.remove();
  });
}

/** Asserts that `fn` throws a DomainError of `kind`, its detail matching `message` when given. */
export function assertDomainError(fn: () => unknown, kind: DomainErrorKind, message?: RegExp): void {
  assert.throws(fn, (error: unknown) => {
    assert.ok(isDomainError(error), `expected DomainError, got ${String(error)}`);
    assert.equal(error.kind, kind, error.message);
    if (message !== undefined) assert.match(error.detail, message);
    return true;
  });
}

/** Every page of a keyset listing, following nextCursor; fails on a loop (more than `maxPages`). */
export function collectPages<Query extends { readonly cursor?: string }, Item>(
  list: (query: Query) => { readonly items: readonly Item[]; readonly nextCursor: string | null },
  query: Query,
  maxPages: number,
): { items: Item[]; pages: number } {
  const items: Item[] = [];
  let cursor: string | undefined;
  let pages = 0;
  for (;;) {
    const page = list(cursor === undefined ? query : { ...query, cursor });
    pages += 1;
    assert.ok(pages < maxPages, 'pagination does not end');
    items.push(...page.items);
    if (page.nextCursor === null) return { items, pages };
    cursor = page.nextCursor;
  }
}
