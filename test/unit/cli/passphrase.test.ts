import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { UsageError } from '../../../src/cli/args.js';
import { passphraseFromFile, readP12Passphrase, type PromptInput } from '../../../src/cli/passphrase.js';

/**
 * Where `keysmith issue --p12` gets its passphrase. The terminal is a stand-in
 * stdin that records what the prompt did to it (raw mode on and off, in
 * order with what was written) and replays keystrokes once asked.
 */
class FakeTerminal extends EventEmitter implements PromptInput {
  readonly isTTY = true;
  readonly events: string[] = [];
  private answers: string[];

  constructor(answers: readonly string[]) {
    super();
    this.answers = [...answers];
  }

  setRawMode(mode: boolean): void {
    this.events.push(`raw:${mode}`);
  }

  resume(): void {
    const answer = this.answers.shift();
    if (answer !== undefined) setImmediate(() => this.emit('data', Buffer.from(answer, 'utf8')));
  }

  pause(): void {}

  readonly output = { write: (text: string): void => void this.events.push(`write:${text}`) };
}

let work: string;
before(async () => {
  work = await mkdtemp(join(tmpdir(), 'keysmith-passphrase-'));
});
after(async () => {
  await rm(work, { recursive: true, force: true });
});

describe('passphraseFromFile', () => {
  it('takes the first line without its LF or CRLF, spaces kept', async () => {
    const path = join(work, 'a.txt');
    await writeFile(path, '  two words \r\nline two\n');
    assert.equal(passphraseFromFile(path), '  two words ');
    await writeFile(path, 'no newline');
    assert.equal(passphraseFromFile(path), 'no newline');
  });

  it('refuses a file whose first line is empty, one that is not UTF-8, and a directory', async () => {
    const path = join(work, 'b.txt');
    await writeFile(path, '\r\nsecond\n');
    assert.throws(() => passphraseFromFile(path), { name: 'UsageError', message: /the first line of .*b\.txt is empty/ });
    await writeFile(path, Buffer.from([0x70, 0xe4, 0x73, 0x73, 0x0a])); // 'päss' in Latin-1
    assert.throws(() => passphraseFromFile(path), { name: 'UsageError', message: /is not UTF-8 text/ });
    assert.throws(() => passphraseFromFile(work), { name: 'UsageError', message: /is not a file/ });
  });
});

describe('readP12Passphrase on a terminal', () => {
  it('turns echo off before each prompt and back on after it, and returns the answer given twice', async () => {
    const terminal = new FakeTerminal(['s3cret\r', 's3cret\r']);
    assert.equal(await readP12Passphrase(undefined, terminal, terminal.output), 's3cret');
    assert.deepEqual(terminal.events, [
      'raw:true',
      'write:PKCS#12 passphrase: ',
      'raw:false',
      'write:\n',
      'raw:true',
      'write:PKCS#12 passphrase again: ',
      'raw:false',
      'write:\n',
    ]);
  });

  it('applies Backspace and keeps characters outside ASCII whole', async () => {
    const terminal = new FakeTerminal(['grüx\u007fße \u{1F511}\r', 'grüße \u{1F511}\n']);
    assert.equal(await readP12Passphrase(undefined, terminal, terminal.output), 'grüße \u{1F511}');
  });

  it('refuses an empty answer, two answers that differ, and Ctrl-C', async () => {
    await assert.rejects(readP12Passphrase(undefined, new FakeTerminal(['\r']), { write: () => undefined }), {
      name: 'UsageError',
      message: 'the PKCS#12 passphrase is empty: a PKCS#12 file needs one',
    });
    await assert.rejects(readP12Passphrase(undefined, new FakeTerminal(['one\r', 'two\r']), { write: () => undefined }), {
      name: 'UsageError',
      message: 'the two PKCS#12 passphrases differ',
    });
    await assert.rejects(readP12Passphrase(undefined, new FakeTerminal(['abc\u0003']), { write: () => undefined }), {
      name: 'UsageError',
      message: 'cancelled: no PKCS#12 passphrase given',
    });
  });

  it('refuses to ask when stdin is not a terminal', async () => {
    const pipe = Object.assign(new EventEmitter(), { isTTY: false, resume: () => undefined, pause: () => undefined });
    await assert.rejects(readP12Passphrase(undefined, pipe, { write: () => undefined }), (err) => err instanceof UsageError);
  });
});
