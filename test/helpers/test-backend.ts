import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { resolve } from 'node:path';
import Database from 'better-sqlite3';
import { adminDatabaseUrl } from './postgres.js';

/**
 * Which ledger backend the tests that run `keysmith` as a child process
 * (test/e2e, test/hostile, test/interop) give it. KEYSMITH_TEST_BACKEND=postgres
 * runs the same tests with KEYSMITH_DATABASE_URL pointing at a fresh
 * database per data directory (so `keysmith init` and `keysmith serve` on one
 * directory share a ledger, as they share the SQLite file otherwise), on the
 * server KEYSMITH_TEST_DATABASE_URL names (scripts/run-tests.mjs starts one):
 *
 *   KEYSMITH_TEST_BACKEND=postgres node scripts/run-tests.mjs e2e
 *
 * The databases are made and dropped with psql, synchronously, because a
 * child is started synchronously (startProcess) and dropped from an 'exit'
 * hook, where nothing asynchronous runs.
 */

export type TestBackend = 'sqlite' | 'postgres';

export function testBackend(): TestBackend {
  const value = process.env['KEYSMITH_TEST_BACKEND'] ?? 'sqlite';
  if (value !== 'sqlite' && value !== 'postgres') throw new Error(`KEYSMITH_TEST_BACKEND: expected sqlite or postgres, got '${value}'`);
  return value;
}

/** data directory (absolute) -> the database made for it. */
const databases = new Map<string, { readonly name: string; readonly url: string }>();
let adminUrlUsed: string | undefined;

process.on('exit', () => {
  if (adminUrlUsed === undefined) return;
  for (const { name } of databases.values()) {
    // FORCE ends the connections of children the processes helper has just killed.
    psql(adminUrlUsed, `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`, false);
  }
});

/** Runs one statement with psql; returns its unaligned, tuples-only output. */
export function psql(url: string, sql: string, shouldThrow = true): string {
  const result = spawnSync('psql', ['-X', '-q', '-t', '-A', '-v', 'ON_ERROR_STOP=1', '-d', url, '-c', sql], {
    encoding: 'utf8',
    timeout: 30_000,
  });
  if (result.status !== 0 && shouldThrow) {
    throw new Error(`psql failed (${String(result.status ?? result.error)}): ${result.stderr.trim()}`);
  }
  return result.stdout ?? '';
}

/** The URL of the database for this data directory, made empty on first request. */
export function databaseUrlFor(dataDir: string): string {
  const key = resolve(dataDir);
  const known = databases.get(key);
  if (known !== undefined) return known.url;
  const admin = adminDatabaseUrl();
  const name = `keysmith_child_${process.pid}_${randomBytes(4).toString('hex')}`;
  psql(admin, `CREATE DATABASE ${name}`);
  adminUrlUsed = admin;
  const url = new URL(admin);
  url.pathname = `/${name}`;
  databases.set(key, { name, url: url.toString() });
  return url.toString();
}

/**
 * The environment for a `keysmith` child: unchanged on SQLite; on PostgreSQL
 * with KEYSMITH_DATABASE_URL added for its KEYSMITH_DATA_DIR, unless the test
 * set one itself (the cluster test points every node at one database).
 */
export function withTestBackend(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  if (testBackend() !== 'postgres') return env;
  if (env['KEYSMITH_DATABASE_URL'] !== undefined) return env;
  const dataDir = env['KEYSMITH_DATA_DIR'];
  // Without a data directory the child uses ./data; such tests stay on SQLite.
  if (dataDir === undefined || dataDir === '') return env;
  return { ...env, KEYSMITH_DATABASE_URL: databaseUrlFor(dataDir) };
}

/** Rows in the certificates table of the ledger a child with this environment uses, whichever backend. */
export function countCertificates(env: NodeJS.ProcessEnv, sqlitePath: string): number {
  const url = env['KEYSMITH_DATABASE_URL'];
  if (url !== undefined && url !== '') return Number(psql(url, 'SELECT count(*) FROM certificates').trim());
  const db = new Database(sqlitePath, { readonly: true, fileMustExist: true });
  try {
    const row = db.prepare('SELECT count(*) AS n FROM certificates').get() as { n: number };
    return row.n;
  } finally {
    db.close();
  }
}
