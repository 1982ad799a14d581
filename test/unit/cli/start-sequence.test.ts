import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, existsSync, mkdirSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { ensureDataDir } from '../../../src/cli/files.js';
import { bindListener, dataDirBefore, removeWhatThisStartMade } from '../../../src/cli/start-sequence.js';
import { portOf } from '../../helpers/processes.js';
import { tempDir } from '../ca/helpers.js';

/** What `keysmith serve` checks and binds before it makes anything (src/cli/start-sequence.ts), and the data directory's mode. */
describe('start sequence', () => {
  const dir = tempDir('start-sequence');
  after(() => dir.remove());

  it('refuses a taken port with a sentence naming the address, the setting and that nothing was created', async () => {
    const holder = createServer();
    await new Promise<void>((resolve) => holder.listen(0, '127.0.0.1', resolve));
    const port = portOf(holder.address());
    try {
      await assert.rejects(bindListener('127.0.0.1', port), {
        message: `cannot listen on 127.0.0.1:${port}: the address is already in use (another keysmith or another program holds it); stop that program or set KEYSMITH_LISTEN (listen) to a free port. Nothing was created.`,
      });
    } finally {
      await new Promise<void>((resolve) => holder.close(() => resolve()));
    }
  });

  it('binds port 0 and reports the port the system chose', async () => {
    const bound = await bindListener('127.0.0.1', 0);
    try {
      assert.equal(portOf(bound.listener.address()), bound.port);
      assert.ok(bound.port > 0);
    } finally {
      bound.listener.close();
    }
  });

  it('after a failed first start removes the data directory it created', () => {
    const path = join(dir.path, 'new-data');
    const before = dataDirBefore(path);
    mkdirSync(join(path, 'ca'), { recursive: true });
    writeFileSync(join(path, 'keysmith.db'), '');
    removeWhatThisStartMade(path, before);
    assert.equal(existsSync(path), false);
  });

  it('after a failed start in an empty existing directory removes only what it put there, keeping the directory', () => {
    const path = join(dir.path, 'empty-data');
    mkdirSync(path);
    const before = dataDirBefore(path);
    writeFileSync(join(path, 'keysmith.db'), '');
    removeWhatThisStartMade(path, before);
    assert.deepEqual(readdirSync(path), []);
  });

  it('leaves a data directory that held anything before exactly as it is', () => {
    const path = join(dir.path, 'used-data');
    mkdirSync(path);
    writeFileSync(join(path, 'keysmith.db'), 'x');
    const before = dataDirBefore(path);
    writeFileSync(join(path, 'bundle.pem'), 'y');
    removeWhatThisStartMade(path, before);
    assert.deepEqual(readdirSync(path).sort(), ['bundle.pem', 'keysmith.db']);
  });

  it('makes a missing data directory 0700 whatever the umask', () => {
    const path = join(dir.path, 'made');
    const previous = process.umask(0o022);
    try {
      const warnings: string[] = [];
      ensureDataDir(path, (message) => warnings.push(message));
      assert.equal(statSync(path).mode & 0o777, 0o700);
      assert.deepEqual(warnings, []);
    } finally {
      process.umask(previous);
    }
  });

  it('tightens a 0755 data directory to 0700 with a warning naming it and its old mode', () => {
    const path = join(dir.path, 'loose');
    mkdirSync(path);
    chmodSync(path, 0o755);
    const warnings: string[] = [];
    ensureDataDir(path, (message) => warnings.push(message));
    assert.equal(statSync(path).mode & 0o777, 0o700);
    assert.deepEqual(warnings, [`${path} had mode 0755 (readable by group or others); set to 0700`]);
  });

  it('refuses a data directory path that is a file, naming it and the setting', () => {
    const path = join(dir.path, 'a-file');
    writeFileSync(path, '');
    assert.throws(() => ensureDataDir(path, () => undefined), {
      message: `the data directory ${path} is not a directory: set KEYSMITH_DATA_DIR (dataDir) to a directory keysmith may create or own`,
    });
  });
});
