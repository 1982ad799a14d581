import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { prettyLogLine } from '../../../src/cli/log-output.js';

/** The readable form of pino's JSON lines that serve writes when stdout is a terminal. */
describe('prettyLogLine', () => {
  const time = Date.parse('2026-12-06T14:47:43.576Z');

  it('shows time, level and message, then the fields as key=value, leaving out pid and hostname', () => {
    const line = JSON.stringify({
      level: 30,
      time,
      pid: 1,
      hostname: 'vm',
      component: 'alerts',
      runId: 1,
      reason: 'catch-up',
      msg: 'expiry alert run',
    });
    assert.equal(prettyLogLine(`${line}\n`), '14:47:43.576 INFO  expiry alert run component=alerts runId=1 reason=catch-up\n');
  });

  it('quotes strings with spaces and writes objects as JSON', () => {
    const line = JSON.stringify({ level: 40, time, msg: 'slow', detail: 'two words', req: { method: 'GET' } });
    assert.equal(prettyLogLine(line), '14:47:43.576 WARN  slow detail="two words" req={"method":"GET"}\n');
  });

  it('puts an error’s message in the line and its stack on indented lines below', () => {
    const line = JSON.stringify({
      level: 50,
      time,
      msg: 'failed',
      err: { type: 'Error', message: 'boom', stack: 'Error: boom\n    at x' },
    });
    assert.equal(prettyLogLine(line), '14:47:43.576 ERROR failed err="boom"\n    Error: boom\n        at x\n');
  });

  it('passes a line that is not JSON through unchanged', () => {
    assert.equal(prettyLogLine('plain text'), 'plain text\n');
  });
});
