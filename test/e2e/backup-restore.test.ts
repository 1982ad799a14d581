import 'reflect-metadata';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { loadConfig } from '../../src/config/index.js';
import { openCore } from '../../src/cli/compose.js';
import { openRevocation } from '../../src/cli/issuer-revocation.js';
import { openLedger } from '../../src/ledger/index.js';
import { describeCrl } from '../../src/x509/index.js';
import { runProcess, startProcess, type ProcessResult } from '../helpers/processes.js';
import { testBackend } from '../helpers/test-backend.js';

/**
 * keysmith backup and restore (src/cli/backup.ts, src/cli/restore.ts) as an
 * operator runs them: the real CLI as a child process on a real data
 * directory, a burst of issuance running in another process meanwhile.
 */

const MAIN = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));
const BURST = fileURLToPath(new URL('./issue-burst-child.js', import.meta.url));
const PASSPHRASE = 'correct horse battery staple';
const scratch = mkdtempSync(join(tmpdir(), 'keysmith-backup-e2e-'));
after(() => rmSync(scratch, { recursive: true, force: true }));

let dirCount = 0;
/** Every file under <dataDir>/ca by relative path, with its bytes. */
function caTree(dataDir: string): Map<string, string> {
  const root = join(dataDir, 'ca');
  const tree = new Map<string, string>();
  for (const entry of readdirSync(root, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile()) continue;
    const path = join(entry.parentPath, entry.name);
    tree.set(relative(root, path), readFileSync(path).toString('base64'));
  }
  return new Map([...tree.entries()].sort(([a], [b]) => a.localeCompare(b)));
}

function runStatus(dataDir: string): string {
  const result = spawnSync(process.execPath, [MAIN, 'ca', 'status', '--json'], { env: envFor(dataDir), encoding: 'utf8', timeout: 60_000 });
  assert.equal(result.status, 0, result.stderr);
  return result.stdout;
}

function freshDir(name: string): string {
  dirCount += 1;
  return join(scratch, `${name}-${dirCount}`);
}

function envFor(dataDir: string): NodeJS.ProcessEnv {
  // No KEYSMITH_DATABASE_URL: these are SQLite data directories.
  return { PATH: process.env['PATH'], KEYSMITH_DATA_DIR: dataDir, KEYSMITH_CA_PASSPHRASE: PASSPHRASE, KEYSMITH_LOG_LEVEL: 'warn' };
}

async function keysmith(dataDir: string, args: readonly string[], timeoutMs = 60_000): Promise<ProcessResult> {
  return runProcess(process.execPath, [MAIN, ...args], { env: envFor(dataDir), timeoutMs, lifetimeMs: timeoutMs + 5_000 });
}

async function ok(dataDir: string, args: readonly string[]): Promise<string> {
  const result = await keysmith(dataDir, args);
  assert.equal(result.code, 0, `keysmith ${args.join(' ')}: ${result.stderr}`);
  return result.stdout;
}

function withDb<T>(path: string, look: (db: Database.Database) => T): T {
  const db = new Database(path, { readonly: true });
  try {
    return look(db);
  } finally {
    db.close();
  }
}

function statusOf(path: string, serial: string): { status: string; revocation_reason: string | null } | undefined {
  return withDb(path, (db) =>
    db
      .prepare<[string], { status: string; revocation_reason: string | null }>(
        'SELECT status, revocation_reason FROM certificates WHERE serial = ?',
      )
      .get(serial),
  );
}

interface Manifest {
  readonly row_counts: Record<string, number>;
  readonly highest_crl_number: number;
  readonly schema_version: number;
}

// KEYSMITH_TEST_BACKEND=postgres would hand the CLI a database: the PostgreSQL path is test/e2e/backup-postgres.test.ts.
describe('keysmith backup and restore (SQLite)', { skip: testBackend() === 'postgres' ? 'SQLite data directories only' : false }, () => {
  it('backs up while another process issues: the copy holds every certificate committed before it began, integrity_check ok, file 0600', async () => {
    const dataDir = freshDir('burst');
    const child = startProcess(process.execPath, [BURST], { env: envFor(dataDir), lifetimeMs: 120_000 });
    try {
      await child.waitFor(/^ready$/m, { timeoutMs: 30_000 });
      await child.waitFor(/^(?:[0-9a-f]+\n){30}/m, { timeoutMs: 30_000, from: child.offset() });
      const serials = (): string[] => child.stdout.split('\n').filter((line) => /^[0-9a-f]+$/.test(line));
      const before = serials();
      const archive = join(scratch, 'burst.tar');
      const manifest = JSON.parse(await ok(dataDir, ['backup', '--out', archive, '--json'])) as Manifest;
      // The burst went on during the backup: its own commits were never blocked for good.
      await child.waitFor(/^(?:[0-9a-f]+\n){5}/m, { timeoutMs: 30_000, from: child.offset() });
      assert.ok(serials().length > before.length);
      assert.equal(statSync(archive).mode & 0o777, 0o600);

      const target = freshDir('burst-restored');
      const report = JSON.parse(await ok(target, ['restore', archive, '--data-dir', target, '--json'])) as Record<string, unknown>;
      assert.equal(report['carriedCertificates'], 0);
      const restored = join(target, 'keysmith.db');
      assert.equal(statSync(restored).mode & 0o777, 0o600);
      withDb(restored, (db) => {
        assert.equal(db.pragma('integrity_check', { simple: true }), 'ok');
        const has = db.prepare<[string], number>('SELECT 1 FROM certificates WHERE serial = ?').pluck();
        assert.deepEqual(
          before.filter((serial) => has.get(serial) === undefined),
          [],
          'every serial handed out before the backup is in it',
        );
        // The manifest describes exactly the snapshot it came with.
        assert.equal(db.prepare<[], number>('SELECT count(*) FROM certificates').pluck().get(), manifest.row_counts['certificates']);
      });
    } finally {
      await child.kill();
    }
  });

  it('issue, back up, revoke, restore: refuses the older backup without --force; with it the certificate stays revoked and the later one is carried over', async () => {
    const dataDir = freshDir('revoke');
    await ok(dataDir, ['init']);
    const first = (await ok(dataDir, ['issue', '--spiffe-id', 'spiffe://keysmith.local/backed-up', '--out', join(dataDir, 'out1')])).trim();
    const archive = join(scratch, 'revoke.tar');
    await ok(dataDir, ['backup', '--out', archive, '--include-ca']);
    await ok(dataDir, ['revoke', first, '--reason', 'keyCompromise']);
    const later = (
      await ok(dataDir, ['issue', '--spiffe-id', 'spiffe://keysmith.local/after-backup', '--out', join(dataDir, 'out2')])
    ).trim();
    const ledger = join(dataDir, 'keysmith.db');

    const refused = await keysmith(dataDir, ['restore', archive]);
    assert.equal(refused.code, 1);
    assert.match(
      refused.stderr,
      /keysmith\.db is newer than the backup of \S+ \(\d+ certificates against the backup's \d+; .*\): restoring would go back in time\. Nothing was changed\./,
    );
    assert.deepEqual(statusOf(ledger, first), { status: 'revoked', revocation_reason: 'keyCompromise' });

    // A running serve (here: any open connection) holds the ledger: restore refuses at once.
    const holder = openLedger({ path: ledger });
    try {
      const locked = await keysmith(dataDir, ['restore', archive, '--force']);
      assert.equal(locked.code, 1);
      assert.match(locked.stderr, /keysmith\.db is open in another process \(a running keysmith serve\?\): stop it, then restore/);
    } finally {
      holder.close();
    }

    const report = JSON.parse(await ok(dataDir, ['restore', archive, '--force', '--json'])) as Record<string, unknown>;
    assert.equal(report['carriedCertificates'], 1);
    assert.equal(report['revocationsFromLedger'], 1);
    assert.equal(report['caRestored'], false, 'an existing ca/ is never overwritten');
    assert.deepEqual(statusOf(ledger, first), { status: 'revoked', revocation_reason: 'keyCompromise' });
    assert.deepEqual(statusOf(ledger, later), { status: 'valid', revocation_reason: null });
    assert.equal(
      withDb(ledger, (db) => db.pragma('integrity_check', { simple: true })),
      'ok',
    );
    assert.ok(typeof report['previousLedger'] === 'string' && existsSync(report['previousLedger']));
    // The restored data directory serves offline commands again.
    assert.match(await ok(dataDir, ['certs', 'list', '--status', 'revoked']), new RegExp(first));
  });

  it('re-applies revocations from the published CRL when the live ledger is gone (on disk, and from --crl into a new data directory)', async () => {
    const dataDir = freshDir('crl');
    await ok(dataDir, ['init']);
    const serial = (await ok(dataDir, ['issue', '--spiffe-id', 'spiffe://keysmith.local/crl-only', '--out', join(dataDir, 'out')])).trim();
    const archive = join(scratch, 'crl.tar');
    await ok(dataDir, ['backup', '--out', archive, '--include-ca']);

    // The service revokes and publishes the CRL (the worker rebuilds it shortly after the revocation).
    const core = await openCore(loadConfig({ env: envFor(dataDir) }), { ensureIdentities: false });
    const crlPath = join(dataDir, 'crl', 'full.crl');
    try {
      const revocation = await openRevocation(core);
      revocation.start(() => undefined);
      try {
        await core.authority.revoke(serial, 'keyCompromise');
        let listed = false;
        for (let attempt = 0; attempt < 200 && !listed; attempt++) {
          listed =
            existsSync(crlPath) && describeCrl(new Uint8Array(readFileSync(crlPath))).entries.some((entry) => entry.serial === serial);
          if (!listed) await sleep(50);
        }
        assert.ok(listed, 'the CRL lists the revocation');
      } finally {
        revocation.stop();
      }
    } finally {
      await core.close();
    }

    const elsewhere = freshDir('crl-elsewhere');
    const intoNew = JSON.parse(await ok(elsewhere, ['restore', archive, '--data-dir', elsewhere, '--crl', crlPath, '--json'])) as Record<
      string,
      unknown
    >;
    assert.equal(intoNew['revocationsFromCrl'], 1);
    assert.equal(intoNew['caRestored'], true);
    assert.deepEqual(statusOf(join(elsewhere, 'keysmith.db'), serial), { status: 'revoked', revocation_reason: 'keyCompromise' });
    assert.deepEqual(
      readFileSync(join(elsewhere, 'ca', 'cluster.key')),
      readFileSync(join(dataDir, 'ca', 'cluster.key')),
      'the sealed cluster key opens to the same bytes',
    );

    for (const suffix of ['', '-wal', '-shm']) rmSync(join(dataDir, `keysmith.db${suffix}`), { force: true });
    const report = JSON.parse(await ok(dataDir, ['restore', archive, '--json'])) as Record<string, unknown>;
    assert.equal(report['revocationsFromLedger'], 0);
    assert.equal(report['revocationsFromCrl'], 1);
    assert.equal(report['previousLedger'], null);
    assert.deepEqual(statusOf(join(dataDir, 'keysmith.db'), serial), { status: 'revoked', revocation_reason: 'keyCompromise' });
    // RFC 5280 §5.2.3: the next CRL number continues above the one published after the backup.
    const published = describeCrl(new Uint8Array(readFileSync(crlPath))).crlNumber ?? 0;
    assert.ok(published > 0);
    assert.equal(report['crlNumber'], published);
  });

  it('--include-ca after a CA and a JWT key rotation: the restored ca/ is the same tree, rotated intermediate and its schedule included', async () => {
    const dataDir = freshDir('rotated');
    await ok(dataDir, ['init']);
    await ok(dataDir, ['ca', 'rotate', '--activate-after', '1h']);
    await ok(dataDir, ['ca', 'rotate-jwt', '--activate-after', '1h']);
    const before = caTree(dataDir);
    assert.ok(
      [...before.keys()].some((path) => /^intermediates\/[0-9a-f]+\/key\.pem$/.test(path)),
      `the rotation made intermediates/<serial>/key.pem: ${[...before.keys()].join(', ')}`,
    );
    const archive = join(scratch, 'rotated.tar');
    await ok(dataDir, ['backup', '--out', archive, '--include-ca']);

    const elsewhere = freshDir('rotated-elsewhere');
    const report = JSON.parse(await ok(elsewhere, ['restore', archive, '--data-dir', elsewhere, '--json'])) as Record<string, unknown>;
    assert.equal(report['caRestored'], true);
    assert.deepEqual(caTree(elsewhere), before);
    const status = (dir: string): unknown => JSON.parse(runStatus(dir)) as unknown;
    assert.deepEqual(status(elsewhere), status(dataDir), 'ca status reads the same intermediates, states and leaves');
  });

  it('refuses --include-ca without KEYSMITH_CA_PASSPHRASE or with a key in the clear, and a damaged archive, changing nothing', async () => {
    const dataDir = freshDir('refusals');
    await ok(dataDir, ['init']);
    const archive = join(scratch, 'refusals.tar');
    const noPassphrase = await runProcess(process.execPath, [MAIN, 'backup', '--out', archive, '--include-ca'], {
      env: { PATH: process.env['PATH'], KEYSMITH_DATA_DIR: dataDir },
      timeoutMs: 60_000,
    });
    assert.equal(noPassphrase.code, 1);
    assert.match(noPassphrase.stderr, /--include-ca needs KEYSMITH_CA_PASSPHRASE/);
    assert.equal(existsSync(archive), false);

    // A CA made without a passphrase has its keys in the clear: --include-ca refuses and names the first one.
    const plainDir = freshDir('plain-ca');
    const plainInit = await runProcess(process.execPath, [MAIN, 'init'], {
      env: { PATH: process.env['PATH'], KEYSMITH_DATA_DIR: plainDir },
      timeoutMs: 60_000,
    });
    assert.equal(plainInit.code, 0, plainInit.stderr);
    const plain = await keysmith(plainDir, ['backup', '--out', archive, '--include-ca']);
    assert.equal(plain.code, 1);
    assert.match(plain.stderr, /ca\/intermediate\.key\.pem holds an unencrypted private key; a backup carries CA keys only encrypted\./);
    assert.equal(existsSync(archive), false);

    await ok(dataDir, ['backup', '--out', archive]);
    const bytes = readFileSync(archive);
    // Flip one byte inside keysmith.db's data (after the manifest's header and body blocks).
    const damaged = join(scratch, 'damaged.tar');
    const copy = Buffer.from(bytes);
    const at = copy.indexOf(Buffer.from('SQLite format 3'));
    assert.ok(at > 0);
    copy[at + 4096] = (copy[at + 4096] ?? 0) ^ 0xff;
    writeFileSync(damaged, copy);
    const target = freshDir('damaged-target');
    const result = await keysmith(target, ['restore', damaged, '--data-dir', target]);
    assert.equal(result.code, 1);
    assert.match(result.stderr, /keysmith\.db does not match the manifest's sha256 \(damaged or altered\); nothing was restored/);
    assert.equal(existsSync(join(target, 'keysmith.db')), false);
  });
});
