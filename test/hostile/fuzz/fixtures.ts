/**
 * Crash fixtures: `<target>-<sha256 prefix>.bin` holds the input that
 * killed (or wedged) the service, in the target's encoding; the `.json`
 * beside it says which target, seed and iteration found it, what the child
 * printed as it died, and the inputs sent just before it (a crash can lag
 * its cause). `knownFailure`, when present, names the issue that fixes it:
 * the regression test reports such a fixture as a TODO instead of a
 * failure; delete the field once the fix is merged.
 */
import { createHash } from 'node:crypto';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { CRASHES_DIR } from './paths.js';
import { isTargetName, type TargetName } from './target.js';

export interface CrashRecord {
  readonly target: TargetName;
  /** `crash`: the process exited; `unresponsive`: it lived but /healthz did not answer 200 in time. */
  readonly kind: 'crash' | 'unresponsive';
  readonly seed: number;
  readonly iteration: number;
  /** The line of the child's output that names the failure (assertion, fatal error), if any. */
  readonly signature: string;
  readonly exit: { readonly code: number | null; readonly signal: string | null } | null;
  /** Inputs sent before this one, oldest first, base64. */
  readonly preceding: readonly string[];
  readonly knownFailure?: string;
}

export interface CrashFixture {
  readonly name: string;
  readonly input: Buffer;
  readonly record: CrashRecord;
}

export function fixtureName(target: TargetName, input: Buffer): string {
  return `${target}-${createHash('sha256').update(input).digest('hex').slice(0, 16)}`;
}

export async function writeFixture(input: Buffer, record: CrashRecord, dir = CRASHES_DIR): Promise<string> {
  const name = fixtureName(record.target, input);
  await writeFile(join(dir, `${name}.bin`), input);
  await writeFile(join(dir, `${name}.json`), `${JSON.stringify(record, null, 2)}\n`);
  return name;
}

export async function readFixtures(dir = CRASHES_DIR): Promise<CrashFixture[]> {
  let files: string[];
  try {
    files = await readdir(dir);
  } catch {
    return [];
  }
  const fixtures: CrashFixture[] = [];
  for (const file of files.filter((f) => f.endsWith('.json')).sort()) {
    const name = file.slice(0, -'.json'.length);
    const record = JSON.parse(await readFile(join(dir, file), 'utf8')) as CrashRecord;
    if (!isTargetName(record.target)) throw new Error(`${file}: unknown target ${String(record.target)}`);
    fixtures.push({ name, input: await readFile(join(dir, `${name}.bin`)), record });
  }
  return fixtures;
}

/** The first line of the child's output that says why it died, without addresses and ids that vary per run. */
export function crashSignature(output: string): string {
  const line = output
    .split('\n')
    .map((l) => l.trim())
    .find((l) => /Assertion failed|FATAL ERROR|Segmentation fault|Aborted|Uncaught|Error:/.test(l));
  return (line ?? '')
    .replace(/0x[0-9a-f]+/gi, '0x…')
    .replace(/\[\d+\]/g, '[…]')
    .slice(0, 300);
}
