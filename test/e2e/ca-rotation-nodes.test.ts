import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { cp, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { listeningPort, runProcess, startProcess, type ThirdPartyProcess } from '../helpers/processes.js';
import { testBackend, withTestBackend } from '../helpers/test-backend.js';

/**
 * The HA layout (README "Running several nodes"): two `keysmith serve`
 * nodes on one PostgreSQL ledger, each with its own copy of ca/. A rotation
 * made on node 1 reaches node 2 when its ca/ copy gets the new directory;
 * both publish it, both switch at its activation time, without a restart.
 * Runs with KEYSMITH_TEST_BACKEND=postgres (one SQLite file is one node).
 */
const MAIN = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));
const FOLLOW_MS = 15_000;

interface Node {
  readonly dataDir: string;
  env: NodeJS.ProcessEnv;
  server?: ThirdPartyProcess;
  base?: string;
}

const nodes: Node[] = [];

function keysmith(node: Node, args: readonly string[]) {
  return runProcess(process.execPath, [MAIN, ...args], { env: node.env, lifetimeMs: 60_000 });
}

async function x509Serials(node: Node): Promise<string[]> {
  const result = await runProcess(
    'curl',
    [
      '--silent',
      '--show-error',
      '--max-time',
      '10',
      '--cacert',
      join(node.dataDir, 'bundle.pem'),
      '-H',
      'accept: application/json',
      `${node.base}/v1/bundle`,
    ],
    { timeoutMs: 15_000 },
  );
  assert.equal(result.code, 0, result.stderr);
  const bundle = JSON.parse(result.stdout) as { keys: { use: string; x5c?: string[] }[] };
  return bundle.keys
    .filter((k) => k.use === 'x509-svid')
    .map((k) => new X509Certificate(Buffer.from(k.x5c?.[0] ?? '', 'base64')).serialNumber.toLowerCase().replace(/^(00)+/, ''));
}

async function issuingSerial(node: Node): Promise<string> {
  const out = join(node.dataDir, 'ca.der');
  const result = await runProcess(
    'curl',
    ['--silent', '--max-time', '10', '--cacert', join(node.dataDir, 'bundle.pem'), '--output', out, `${node.base}/ca.crt`],
    { timeoutMs: 15_000 },
  );
  assert.equal(result.code, 0, result.stderr);
  return new X509Certificate(await readFile(out)).serialNumber.toLowerCase().replace(/^(00)+/, '');
}

async function eventually(what: string, probe: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + FOLLOW_MS;
  while (!(await probe())) {
    if (Date.now() > deadline) assert.fail(`not within ${FOLLOW_MS} ms: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

describe(
  'a rotation across two nodes on one PostgreSQL ledger',
  { skip: testBackend() !== 'postgres' ? 'KEYSMITH_TEST_BACKEND=postgres only' : false },
  () => {
    let prepared: string;
    let original: string;

    before(async () => {
      for (const name of ['one', 'two']) {
        const dataDir = await mkdtemp(join(tmpdir(), `keysmith-rotation-${name}-`));
        nodes.push({
          dataDir,
          env: {
            PATH: process.env['PATH'],
            HOME: process.env['HOME'],
            USER: 'e2e',
            KEYSMITH_DATA_DIR: dataDir,
            KEYSMITH_LOG_LEVEL: 'warn',
            KEYSMITH_CA_RELOAD_INTERVAL: '1s',
          },
        });
      }
      const [one, two] = nodes;
      if (one === undefined || two === undefined) throw new Error('two nodes');
      one.env = withTestBackend(one.env);
      // One ledger: node 2 gets node 1's database URL, and a copy of its ca/.
      two.env = { ...two.env, KEYSMITH_DATABASE_URL: one.env['KEYSMITH_DATABASE_URL'] };
    });

    after(async () => {
      for (const node of nodes) {
        if (node.server !== undefined && !node.server.hasExited) await node.server.kill();
        await rm(node.dataDir, { recursive: true, force: true });
      }
    });

    it('both nodes serve one CA', async () => {
      const [one, two] = nodes;
      assert.ok(one !== undefined && two !== undefined);
      assert.equal((await keysmith(one, ['init'])).code, 0);
      await cp(join(one.dataDir, 'ca'), join(two.dataDir, 'ca'), { recursive: true });
      for (const node of nodes) {
        node.server = startProcess(process.execPath, [MAIN, 'serve'], {
          env: { ...node.env, KEYSMITH_LISTEN: '127.0.0.1:0' },
          lifetimeMs: 180_000,
        });
        await node.server.waitFor(/curl --cert \S+ --key \S+ --cacert \S+ https:\/\/\S+\/v1\/certificates\n/, {
          timeoutMs: 30_000,
          stream: 'both',
        });
        const port = listeningPort(node.server.output);
        node.base = `https://127.0.0.1:${port}`;
        node.env = { ...node.env, KEYSMITH_LISTEN: `127.0.0.1:${port}` };
      }
      original = await issuingSerial(one);
      assert.equal(await issuingSerial(two), original);
    });

    it('ca rotate on node 1: node 2 publishes the new intermediate once its ca/ copy has it', async () => {
      const [one, two] = nodes;
      assert.ok(one !== undefined && two !== undefined);
      const rotated = await keysmith(one, ['ca', 'rotate', '--activate-after', '1h']);
      assert.equal(rotated.code, 0, rotated.stderr);
      prepared = /prepared intermediate ([0-9a-f]+):/.exec(rotated.stdout)?.[1] ?? '';
      await eventually('node 1 publishes it', async () => (await x509Serials(one)).includes(prepared));
      assert.deepEqual((await x509Serials(two)).slice(1), [original], 'node 2 has not got the directory yet');
      await cp(join(one.dataDir, 'ca', 'intermediates'), join(two.dataDir, 'ca', 'intermediates'), { recursive: true });
      await eventually('node 2 publishes it', async () => (await x509Serials(two)).includes(prepared));
      assert.equal(await issuingSerial(two), original, 'prepared: nobody signs with it yet');
    });

    it('ca activate with each node’s ca/: both sign with the new intermediate without a restart', async () => {
      for (const node of nodes) {
        const activated = await keysmith(node, ['ca', 'activate']);
        assert.equal(activated.code, 0, activated.stderr);
        await eventually(`${node.dataDir} switches`, async () => (await issuingSerial(node)) === prepared);
        assert.deepEqual(new Set((await x509Serials(node)).slice(1)), new Set([original, prepared]), 'the retiring one stays published');
      }
    });
  },
);
