import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { openLedger } from '../../../src/ledger/index.js';
import { integrityCheck, makeTempDir, type TempDir } from './ledger-fixtures.js';

/**
 * A writer killed with SIGKILL in the middle of a burst of commits: the file
 * must open cleanly and hold every certificate the writer reported as
 * committed. SIGKILL tests atomicity and WAL recovery; power loss (what
 * synchronous=FULL is for) cannot be simulated from user space.
 */

const WRITER = fileURLToPath(new URL('./crash-writer.js', import.meta.url));
const KILL_AFTER_ROWS = 300;
const KILL_AFTER_MS = 5_000;
const EXIT_WAIT_MS = 10_000;

interface WriterRun {
  readonly printed: readonly string[];
  readonly signal: NodeJS.Signals | null;
  readonly code: number | null;
  readonly stderr: string;
}

async function runAndKill(path: string, firstSerial: string): Promise<WriterRun> {
  const child = spawn(process.execPath, [WRITER, path, firstSerial], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  let lines = 0;
  const kill = (): void => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  };
  const timer = setTimeout(kill, KILL_AFTER_MS);
  child.stdout.setEncoding('utf8');
  child.stdout.on('data', (chunk: string) => {
    stdout += chunk;
    lines += chunk.split('\n').length - 1;
    if (lines >= KILL_AFTER_ROWS) kill();
  });
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (chunk: string) => {
    stderr += chunk;
  });
  const guard = setTimeout(() => child.kill('SIGKILL'), KILL_AFTER_MS + EXIT_WAIT_MS);
  try {
    // 'close' waits for the pipes to drain too, so every line written before the kill is here.
    const [code, signal] = (await once(child, 'close')) as [number | null, NodeJS.Signals | null];
    // A partial last line was cut by the kill while being written: it is not a report of a commit.
    const printed = stdout.split('\n').slice(0, -1);
    return { printed, signal, code, stderr };
  } finally {
    clearTimeout(timer);
    clearTimeout(guard);
  }
}

describe('ledger crash safety', () => {
  let tmp: TempDir;
  before(() => {
    tmp = makeTempDir();
  });
  after(() => tmp.remove());

  it('keeps every reported commit and a sound file when the writer is SIGKILLed mid-burst', async () => {
    const path = tmp.file('crash.db');
    // Twice on the same file: the second run starts from a file recovered after a kill.
    const reported: string[] = [];
    let runs = 0;
    for (const firstSerial of ['a00000', 'b00000']) {
      const run = await runAndKill(path, firstSerial);
      runs += 1;
      assert.equal(run.signal, 'SIGKILL', `writer ended on its own (code ${run.code}): ${run.stderr}`);
      assert.ok(run.printed.length > 0, `writer reported no commit before the kill: ${run.stderr}`);
      reported.push(...run.printed);

      assert.equal(integrityCheck(path), 'ok');
      const ledger = openLedger({ path });
      try {
        const missing = reported.filter((serial) => ledger.certificates.findBySerial(serial) === undefined);
        assert.deepEqual(missing, [], 'serials reported as committed but absent');
        // At most one commit per run finished but was not yet printed when the kill came.
        assert.ok(ledger.certificates.count() - reported.length <= runs);
      } finally {
        ledger.close();
      }
    }
  });
});
