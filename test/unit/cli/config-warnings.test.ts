import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startProcess } from '../../helpers/processes.js';

/** `keysmith serve` with a misspelt KEYSMITH_* variable: a warning on stderr at once, then a warn line in its log; it still starts. */

const MAIN = fileURLToPath(new URL('../../../src/cli/main.js', import.meta.url));
const WARNING = 'KEYSMITH_LOG_LEVL is not a keysmith setting and is ignored (did you mean KEYSMITH_LOG_LEVEL?)';

let dir: string;

before(() => {
  dir = mkdtempSync(join(tmpdir(), 'keysmith-config-warnings-'));
});

after(() => rmSync(dir, { recursive: true, force: true }));

describe('keysmith serve and configuration warnings', () => {
  it('prints the warning on stderr and logs it (pino, level warn) once the logger exists', async () => {
    const serve = startProcess(process.execPath, [MAIN, 'serve'], {
      env: {
        ...process.env,
        KEYSMITH_DATA_DIR: join(dir, 'data'),
        KEYSMITH_LISTEN: '127.0.0.1:0',
        KEYSMITH_ALERTS_SCHEDULE: 'off',
        KEYSMITH_LOG_LEVL: 'debug',
      },
      lifetimeMs: 60_000,
    });
    try {
      await serve.waitFor(`keysmith: warning: ${WARNING}`, { stream: 'stderr', timeoutMs: 30_000 });
      const line = await serve.waitFor(/^\{.*"msg":"configuration: KEYSMITH_LOG_LEVL[^\n]*\}$/m, { stream: 'stdout', timeoutMs: 30_000 });
      const record = JSON.parse(line[0]) as Record<string, unknown>;
      assert.equal(record['level'], 40);
      assert.equal(record['msg'], `configuration: ${WARNING}`);
    } finally {
      await serve.kill();
    }
  });
});
