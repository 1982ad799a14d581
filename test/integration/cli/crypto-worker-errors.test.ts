import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from '../../helpers/processes.js';

/**
 * A crypto worker's uncaught error as compose.ts and serve.ts report it: a
 * warning on stderr before `serve` has a logger, then a `warn` line in the
 * service log carrying the error's message only (no stack, no error object),
 * and the worker replaced both times. Runs a core and the server in a child,
 * so its stdout (the pino log) and stderr can be read whole.
 */

const module = (path: string): string => JSON.stringify(fileURLToPath(new URL(`../../../src/${path}`, import.meta.url)));

let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'keysmith-crypto-worker-errors-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('crypto worker errors in the composition root', () => {
  it('warns on stderr before serve, then logs warn with the message only once serve runs, and replaces the worker each time', async () => {
    const script = `
      import { openCore } from ${module('cli/compose.js')};
      import { startServer } from ${module('cli/serve.js')};
      import { loadConfig } from ${module('config/index.js')};
      const config = loadConfig({ env: {
        KEYSMITH_DATA_DIR: ${JSON.stringify(join(dir, 'data'))},
        KEYSMITH_LISTEN: '127.0.0.1:${await freePort()}',
        KEYSMITH_LOG_LEVEL: 'info',
        KEYSMITH_ALERTS_SCHEDULE: 'off',
        KEYSMITH_CRYPTO_WORKERS: '1',
      } });
      const core = await openCore(config);
      const pool = core.cryptoPool;
      // A CSR that is not one: every job is answered malformed by a live worker, busy while it is being replaced.
      const served = async () => {
        for (let attempt = 0; attempt < 100; attempt++) {
          const kind = await pool.checkCsr('bm90IGEgY3Ny').then(() => 'accepted', (err) => err.kind);
          if (kind !== 'busy') return kind;
          await new Promise((resolve) => setTimeout(resolve, 20));
        }
        return 'never served';
      };
      console.error('first', await served());
      pool.failWorker(0, 'worker bug before serve');
      console.error('replaced', await served());
      const server = await startServer(core);
      pool.failWorker(0, 'worker bug under serve');
      console.error('replaced', await served());
      await server.close(0);
      await core.close();
    `;
    const file = join(dir, 'worker-errors.mjs');
    await writeFile(file, script);
    const child = spawnSync(process.execPath, [file], { encoding: 'utf8', timeout: 60_000 });
    assert.equal(child.signal, null);
    assert.equal(child.status, 0, child.stderr);
    const stderr = child.stderr.split('\n');
    assert.deepEqual(
      stderr.filter((line) => /^(first|replaced) |crypto worker/.test(line)),
      [
        'first malformed',
        'keysmith: warning: a crypto worker failed and is replaced: worker bug before serve',
        'replaced malformed',
        'replaced malformed',
      ],
    );
    const log = child.stdout
      .split('\n')
      .filter((line) => line.startsWith('{'))
      .map((line) => JSON.parse(line) as Record<string, unknown>);
    const reports = log.filter((entry) => String(entry['msg']).includes('crypto worker'));
    assert.equal(reports.length, 1, child.stdout);
    const [report] = reports;
    assert.equal(report?.['level'], 40);
    assert.equal(report?.['msg'], 'a crypto worker failed; its jobs were refused with 503 and it is replaced');
    assert.equal(report?.['workerError'], 'worker bug under serve');
    // The message and nothing else of the error: no stack, no error object.
    assert.deepEqual(Object.keys(report ?? {}).sort(), ['hostname', 'level', 'msg', 'pid', 'time', 'workerError']);
    assert.doesNotMatch(child.stdout, /worker bug before serve/);
  });
});
