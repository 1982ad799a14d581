/**
 * The passphrase of a PKCS#12 file `keysmith issue --p12` writes: from a file
 * (its first line) or asked twice on the terminal without echo. Never from
 * argv or the environment, where other users (ps, /proc/<pid>/environ) and
 * shell history could read it; never printed or logged.
 */
import { readFileSync, statSync } from 'node:fs';
import { StringDecoder } from 'node:string_decoder';
import { UsageError } from './args.js';

/** The stdin a prompt reads: a terminal whose echo can be switched off. */
export interface PromptInput extends NodeJS.EventEmitter {
  readonly isTTY?: boolean;
  setRawMode?(mode: boolean): unknown;
  resume(): unknown;
  pause(): unknown;
}

export interface PromptOutput {
  write(text: string): unknown;
}

/**
 * The passphrase: `file`'s first line when given, else the terminal's answer,
 * asked twice. Refuses an empty one (a PKCS#12 file without a passphrase
 * protects nothing), a file that is not UTF-8, two answers that differ, and
 * no file when stdin is not a terminal.
 */
export async function readP12Passphrase(
  file: string | undefined,
  input: PromptInput = process.stdin,
  output: PromptOutput = process.stderr,
): Promise<string> {
  if (file !== undefined) return passphraseFromFile(file);
  if (input.isTTY !== true || input.setRawMode === undefined)
    throw new UsageError('--p12 needs --p12-passphrase-file FILE when stdin is not a terminal to ask on');
  const first = await readHidden('PKCS#12 passphrase: ', input, output);
  if (first === '') throw new UsageError('the PKCS#12 passphrase is empty: a PKCS#12 file needs one');
  const second = await readHidden('PKCS#12 passphrase again: ', input, output);
  if (first !== second) throw new UsageError('the two PKCS#12 passphrases differ');
  return first;
}

/** The first line of the file without its line end (LF or CRLF: nobody types a CR into a browser's import dialog). */
export function passphraseFromFile(file: string): string {
  let bytes: Buffer;
  try {
    if (!statSync(file).isFile()) throw new UsageError(`--p12-passphrase-file: ${file} is not a file`);
    bytes = readFileSync(file);
  } catch (err) {
    if (err instanceof UsageError) throw err;
    const code = err instanceof Error && 'code' in err ? String(err.code) : 'error';
    throw new UsageError(`--p12-passphrase-file: cannot read ${file} (${code})`);
  }
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    throw new UsageError(`--p12-passphrase-file: ${file} is not UTF-8 text`);
  }
  const newline = text.indexOf('\n');
  const line = newline === -1 ? text : text.slice(0, newline);
  const passphrase = line.endsWith('\r') ? line.slice(0, -1) : line;
  if (passphrase === '')
    throw new UsageError(`--p12-passphrase-file: the first line of ${file} is empty: a PKCS#12 file needs a passphrase`);
  return passphrase;
}

/** One line typed with echo off (raw mode): Enter ends it, Backspace erases, Ctrl-C or Ctrl-D on an empty line cancels. */
function readHidden(prompt: string, input: PromptInput, output: PromptOutput): Promise<string> {
  // Echo goes off before the prompt shows: an answer typed the moment it appears is never echoed.
  input.setRawMode?.(true);
  output.write(prompt);
  return new Promise((resolve, reject) => {
    const decoder = new StringDecoder('utf8');
    let typed: string[] = [];
    const finish = (error?: Error): void => {
      input.off('data', onData);
      input.setRawMode?.(false);
      input.pause();
      output.write('\n');
      if (error === undefined) resolve(typed.join(''));
      else reject(error);
    };
    const onData = (chunk: Buffer): void => {
      for (const character of decoder.write(chunk)) {
        if (character === '\r' || character === '\n') return finish();
        if (character === '\u0003' || (character === '\u0004' && typed.length === 0))
          return finish(new UsageError('cancelled: no PKCS#12 passphrase given'));
        if (character === '\u0004') return finish();
        if (character === '\u007f' || character === '\b') typed = typed.slice(0, -1);
        else if (character >= ' ') typed.push(character);
      }
    };
    input.on('data', onData);
    input.resume();
  });
}
