import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { jwtSchedulePath } from '../../../src/ca/index.js';
import { openCore, openJwtKeys } from '../../../src/cli/compose.js';
import { loadConfig } from '../../../src/config/index.js';

/** `keysmith ca rotate-jwt` run as a child process on a data directory made by openCore, as `keysmith init` makes it. */

const MAIN = fileURLToPath(new URL('../../../src/cli/main.js', import.meta.url));
const HOUR = 3_600_000;

const Iso = z.string().regex(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/);
const Kid = z.string().regex(/^[A-Za-z0-9_-]{43}$/);
/** The --json document. */
const RotationJson = z.strictObject({
  prepared: Kid,
  keys: z.array(
    z.strictObject({
      kid: Kid,
      phase: z.enum(['prepared', 'active', 'retired', 'dropped']),
      activate_at: Iso,
      published_until: Iso.nullable(),
    }),
  ),
  removed_files: z.array(z.string()),
});

let dir: string;

before(() => {
  dir = mkdtempSync(join(tmpdir(), 'keysmith-ca-jwt-'));
});

after(() => rmSync(dir, { recursive: true, force: true }));

async function initialised(name: string): Promise<{ dataDir: string; firstKid: string }> {
  const dataDir = join(dir, name);
  const core = await openCore(loadConfig({ env: { KEYSMITH_DATA_DIR: dataDir, KEYSMITH_LISTEN: '127.0.0.1:8443' } }), {
    ensureIdentities: false,
  });
  try {
    return { dataDir, firstKid: (await openJwtKeys(core)).kid };
  } finally {
    await core.close();
  }
}

function keysmith(
  args: readonly string[],
  dataDir: string,
  extraEnv: Record<string, string> = {},
): { status: number | null; stdout: string; stderr: string } {
  const result = spawnSync(process.execPath, [MAIN, ...args], {
    encoding: 'utf8',
    timeout: 30_000,
    env: { PATH: process.env['PATH'] ?? '/usr/bin:/bin', KEYSMITH_DATA_DIR: dataDir, KEYSMITH_LISTEN: '127.0.0.1:8443', ...extraEnv },
  });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

function scheduledTimes(dataDir: string, kid: string): { preparedAt: number; activateAt: number } {
  const schedule = JSON.parse(readFileSync(jwtSchedulePath(dataDir), 'utf8')) as {
    keys: { kid: string; preparedAt: number; activateAt: number }[];
  };
  const entry = schedule.keys.find((key) => key.kid === kid);
  assert.ok(entry !== undefined, `${kid} is not in the schedule`);
  return { preparedAt: entry.preparedAt, activateAt: entry.activateAt };
}

describe('keysmith ca rotate-jwt', () => {
  it('--json: one document listing the active key and the prepared one, activating after --activate-after', async () => {
    const { dataDir, firstKid } = await initialised('json');
    const run = keysmith(['ca', 'rotate-jwt', '--json', '--activate-after', '2h'], dataDir);
    assert.equal(run.stderr, '');
    assert.equal(run.status, 0);
    const document = RotationJson.parse(JSON.parse(run.stdout));
    assert.equal(run.stdout.trim().split('\n').length, 1, 'one JSON document on one line');
    const { preparedAt, activateAt } = scheduledTimes(dataDir, document.prepared);
    assert.equal(activateAt - preparedAt, 2 * HOUR);
    assert.deepEqual(document.keys, [
      { kid: firstKid, phase: 'active', activate_at: new Date(0).toISOString(), published_until: null },
      { kid: document.prepared, phase: 'prepared', activate_at: new Date(activateAt).toISOString(), published_until: null },
    ]);
    assert.deepEqual(document.removed_files, []);
  });

  it('defaults the overlap to jwtRotationOverlap, and refuses a second rotation while a key waits (exit 1, nothing written)', async () => {
    const { dataDir } = await initialised('twice');
    const first = keysmith(['ca', 'rotate-jwt', '--json'], dataDir, { KEYSMITH_JWT_ROTATION_OVERLAP: '3h' });
    assert.equal(first.status, 0, first.stderr);
    const { prepared } = RotationJson.parse(JSON.parse(first.stdout));
    const { preparedAt, activateAt } = scheduledTimes(dataDir, prepared);
    assert.equal(activateAt - preparedAt, 3 * HOUR);
    const schedule = readFileSync(jwtSchedulePath(dataDir), 'utf8');
    const second = keysmith(['ca', 'rotate-jwt'], dataDir);
    assert.equal(second.status, 1);
    assert.equal(second.stdout, '');
    assert.equal(
      second.stderr,
      `keysmith ca rotate-jwt: the JWT-SVID key ${prepared} is already prepared and starts signing at ${new Date(activateAt).toISOString()}; rotate again after that\n`,
    );
    assert.equal(readFileSync(jwtSchedulePath(dataDir), 'utf8'), schedule);
  });

  it('prints the schedule for people, and warns on stderr about an overlap below the refresh hint and an unknown variable', async () => {
    const { dataDir, firstKid } = await initialised('human');
    const run = keysmith(['ca', 'rotate-jwt', '--activate-after', '1m'], dataDir, { KEYSMITH_JWT_ROTATION_OVERLAPP: '2h' });
    assert.equal(run.status, 0, run.stderr);
    assert.equal(
      run.stderr,
      [
        'keysmith: warning: KEYSMITH_JWT_ROTATION_OVERLAPP is not a keysmith setting and is ignored (did you mean KEYSMITH_JWT_ROTATION_OVERLAP?)',
        'warning: the new key signs in less than the bundle refresh hint (5m): relying parties that fetched the bundle earlier may not know it yet',
        '',
      ].join('\n'),
    );
    const kid = /^prepared the JWT-SVID key ([A-Za-z0-9_-]{43}):/.exec(run.stdout)?.[1] ?? '';
    const { activateAt } = scheduledTimes(dataDir, kid);
    assert.equal(
      run.stdout,
      [
        `prepared the JWT-SVID key ${kid}: published now, signing from ${new Date(activateAt).toISOString()}`,
        `  ${firstKid}  active    signing`,
        `  ${kid}  prepared  signs from ${new Date(activateAt).toISOString()}`,
        'running nodes publish it within jwtKeyCheckInterval; on several nodes, copy ca/ to every node before it signs',
        '',
      ].join('\n'),
    );
  });

  it('says what to run first on a data directory without a CA (exit 1)', () => {
    const dataDir = join(dir, 'empty');
    const run = keysmith(['ca', 'rotate-jwt'], dataDir);
    assert.equal(run.status, 1);
    assert.equal(run.stderr, `keysmith ca rotate-jwt: no CA in ${join(dataDir, 'ca')}: run keysmith init (or serve) first\n`);
  });

  it('refuses a malformed --activate-after with the usage (exit 2)', async () => {
    const { dataDir } = await initialised('usage');
    const run = keysmith(['ca', 'rotate-jwt', '--activate-after', 'soon'], dataDir);
    assert.equal(run.status, 2);
    assert.equal(
      run.stderr,
      "keysmith ca rotate-jwt: --activate-after: expected a duration such as 90s, 15m, 12h or 7d, got 'soon'\nusage: keysmith ca rotate-jwt [--activate-after DURATION] [--json]\n",
    );
  });
});
