import { randomBytes } from 'node:crypto';
import pg from 'pg';

/**
 * Fresh PostgreSQL databases for tests, one per caller, on the server that
 * KEYSMITH_TEST_DATABASE_URL names (an administrator URL). `npm test`
 * (scripts/run-tests.mjs) starts a throw-away cluster and sets it; CI does
 * the same. Without it, tests that need PostgreSQL fail with this message
 * instead of being skipped.
 */

export function adminDatabaseUrl(): string {
  const url = process.env.KEYSMITH_TEST_DATABASE_URL;
  if (url === undefined || url === '') {
    throw new Error(
      'KEYSMITH_TEST_DATABASE_URL is not set: run the tests with `npm test` (it starts a throw-away PostgreSQL cluster), ' +
        'or start one with `node scripts/pg-cluster.mjs` and export the URL it prints',
    );
  }
  return url;
}

export interface TestDatabase {
  /** postgres://... of the new, empty database. */
  readonly url: string;
  readonly name: string;
  /** Drops it, ending any connection still open to it. */
  drop(): Promise<void>;
}

async function withAdmin<T>(work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: adminDatabaseUrl() });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

/** Creates an empty database with a unique name. */
export async function createTestDatabase(label = 'test'): Promise<TestDatabase> {
  const name = `keysmith_${label.replace(/[^a-z0-9_]/g, '_').slice(0, 20)}_${process.pid}_${randomBytes(4).toString('hex')}`;
  await withAdmin((client) => client.query(`CREATE DATABASE ${name}`));
  const url = new URL(adminDatabaseUrl());
  url.pathname = `/${name}`;
  let dropped = false;
  return {
    url: url.toString(),
    name,
    async drop(): Promise<void> {
      if (dropped) return;
      dropped = true;
      await withAdmin((client) => client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`));
    },
  };
}
