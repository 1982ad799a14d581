import assert from 'node:assert/strict';
import { createServer, type Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { openLedgerBackend, PostgresDatabase } from '../../../../src/ledger/index.js';
import { asUnavailable, isUnavailable } from '../../../../src/ledger/postgres/unavailable.js';
import { DomainError, isDomainError } from '../../../../src/shared/errors.js';
import { createTestDatabase, type TestDatabase } from '../../../helpers/postgres.js';

function withCode(code: string, message = 'driver error'): Error {
  return Object.assign(new Error(message), { code });
}

/** A loopback port nothing listens on: bound, noted and closed again. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (address === null || typeof address === 'string') throw new Error('no port');
  return address.port;
}

describe('isUnavailable: which PostgreSQL failures mean "the database cannot be reached now"', () => {
  it('takes socket errors, class 08 connection exceptions, admin/crash shutdown, cannot_connect_now and too_many_connections', () => {
    for (const code of ['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENOTFOUND', 'EPIPE'])
      assert.equal(isUnavailable(withCode(code)), true, code);
    for (const state of ['08000', '08001', '08003', '08004', '08006', '08P01', '57P01', '57P02', '57P03', '53300']) {
      assert.equal(isUnavailable(withCode(state)), true, state);
    }
  });

  it("takes node-postgres's code-less connection errors by their exact message, and a pool timeout wrapping one as cause", () => {
    assert.equal(isUnavailable(new Error('Connection terminated unexpectedly')), true);
    assert.equal(isUnavailable(new Error('timeout exceeded when trying to connect')), true);
    assert.equal(isUnavailable(new Error('Client has encountered a connection error and is not queryable')), true);
    assert.equal(isUnavailable(new Error('Query read timeout')), true);
    assert.equal(
      isUnavailable(
        new Error('Connection terminated due to connection timeout', { cause: new Error('Connection terminated unexpectedly') }),
      ),
      true,
    );
    assert.equal(isUnavailable(new AggregateError([withCode('ECONNREFUSED'), withCode('ECONNREFUSED')], 'connect failed')), true);
  });

  it('leaves constraint violations, statement errors, timeouts of a statement and our own shutdown alone', () => {
    for (const state of ['23505', '23503', '23514', '40001', '40P01', '42601', '42P01', '57014', '22P02'])
      assert.equal(isUnavailable(withCode(state)), false, state);
    assert.equal(isUnavailable(new Error('Cannot use a pool after calling end on the pool')), false);
    assert.equal(isUnavailable(new Error('Connection terminated')), false, 'the message pg gives when we end the client ourselves');
    assert.equal(isUnavailable(new Error('connection terminated unexpectedly, really')), false, 'only exact messages');
    assert.equal(isUnavailable(new DomainError('conflict', 'serial taken')), false);
    assert.equal(isUnavailable(undefined), false);
    assert.equal(isUnavailable('ECONNREFUSED'), false);
  });

  it('follows a cause chain only a few links deep, so a cycle cannot hang it', () => {
    const looped: Error & { cause?: unknown } = new Error('outer');
    looped.cause = looped;
    assert.equal(isUnavailable(looped), false);
  });

  it('asUnavailable wraps only what isUnavailable takes, with a detail that names no host', () => {
    const refused = withCode('ECONNREFUSED', 'connect ECONNREFUSED 10.1.2.3:5432');
    const wrapped = asUnavailable(refused);
    assert.ok(isDomainError(wrapped, 'unavailable'));
    assert.equal(wrapped.cause, refused);
    assert.doesNotMatch(wrapped.detail, /10\.1\.2\.3|5432/);
    const conflict = withCode('23505');
    assert.equal(asUnavailable(conflict), conflict);
  });
});

describe('PostgresDatabase turns connection failures into DomainError("unavailable") on a real server', () => {
  let database: TestDatabase;
  before(async () => {
    database = await createTestDatabase('unavailable');
    const opened = await openLedgerBackend({ kind: 'postgres', url: database.url, poolSize: 1 });
    await opened.ledger.close();
  });
  after(() => database.drop());

  it('a refused connection (nothing listens on the port)', async () => {
    const url = new URL(database.url);
    url.port = String(await closedPort());
    const unreachable = new PostgresDatabase({ url: url.toString(), poolSize: 1, connectTimeoutMs: 1_000 });
    try {
      await assert.rejects(
        unreachable.rows('SELECT 1'),
        (error: unknown) => isDomainError(error, 'unavailable') && isUnavailable(error.cause),
      );
      await assert.rejects(
        unreachable.transaction(async (tx) => tx.run('SELECT 1')),
        (error: unknown) => isDomainError(error, 'unavailable'),
      );
    } finally {
      await unreachable.close();
    }
  });

  it('a server that accepts the TCP connection and never answers (a frozen PostgreSQL): the connect timeout', async () => {
    const sockets: Socket[] = [];
    const silent = createServer((socket) => sockets.push(socket));
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const address = silent.address();
    assert.ok(address !== null && typeof address !== 'string');
    const url = new URL(database.url);
    url.hostname = '127.0.0.1';
    url.port = String(address.port);
    const frozen = new PostgresDatabase({ url: url.toString(), poolSize: 1, connectTimeoutMs: 300 });
    try {
      await assert.rejects(frozen.rows('SELECT 1'), (error: unknown) => isDomainError(error, 'unavailable'));
    } finally {
      await frozen.close();
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => silent.close(() => resolve()));
    }
  });

  it('the pool waiting past its connect timeout for a free connection', async () => {
    const pool = new PostgresDatabase({ url: database.url, poolSize: 1, connectTimeoutMs: 200 });
    try {
      let release: () => void = () => undefined;
      const held = pool.transaction(() => new Promise<number>((resolve) => (release = () => resolve(1))));
      await assert.rejects(pool.rows('SELECT 1'), (error: unknown) => isDomainError(error, 'unavailable'));
      release();
      assert.equal(await held, 1);
    } finally {
      await pool.close();
    }
  });

  it('the server ending the backend of a transaction in progress (pg_terminate_backend: 57P01), and the pool recovering after', async () => {
    const pool = new PostgresDatabase({ url: database.url, poolSize: 1 });
    const admin = new PostgresDatabase({ url: database.url, poolSize: 1 });
    try {
      await assert.rejects(
        pool.transaction(async (tx) => {
          const me = await tx.row<{ pid: number }>('SELECT pg_backend_pid() AS pid');
          await admin.run('SELECT pg_terminate_backend($1)', [me?.pid ?? 0]);
          await tx.run('SELECT 1');
        }),
        (error: unknown) => isDomainError(error, 'unavailable'),
      );
      // The broken connection was discarded: the next statement opens a fresh one.
      assert.deepEqual(await pool.rows<{ one: number }>('SELECT 1 AS one'), [{ one: 1 }]);
    } finally {
      await Promise.all([pool.close(), admin.close()]);
    }
  });

  it('a constraint violation stays what it is (not unavailable)', async () => {
    const pool = new PostgresDatabase({ url: database.url, poolSize: 1 });
    try {
      await pool.run("INSERT INTO acme_spent_nonces (nonce_id, expires_at) VALUES ('n1', 1)");
      await assert.rejects(pool.run("INSERT INTO acme_spent_nonces (nonce_id, expires_at) VALUES ('n1', 1)"), (error: unknown) => {
        return !isDomainError(error) && error instanceof Error && 'code' in error && error.code === '23505';
      });
    } finally {
      await pool.close();
    }
  });
});
