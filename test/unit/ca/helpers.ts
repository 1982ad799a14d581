import { execFileSync } from 'node:child_process';
import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Clock } from '../../../src/shared/clock.js';

/** A clock that stays where it is put. */
export class FixedClock implements Clock {
  constructor(public time: number) {}
  now(): number {
    return this.time;
  }
  advance(ms: number): void {
    this.time += ms;
  }
}

export function tempDir(prefix: string): { path: string; remove(): void } {
  const path = mkdtempSync(join(tmpdir(), `keysmith-${prefix}-`));
  return { path, remove: () => rmSync(path, { recursive: true, force: true }) };
}

/** Runs openssl with a bounded time; returns stdout (throws with stderr on failure). */
export function openssl(args: readonly string[], options: { cwd?: string; input?: string } = {}): string {
  return execFileSync('openssl', args, {
    encoding: 'utf8',
    timeout: 20_000,
    stdio: ['pipe', 'pipe', 'pipe'],
    ...(options.cwd === undefined ? {} : { cwd: options.cwd }),
    ...(options.input === undefined ? {} : { input: options.input }),
  });
}

/** `openssl x509 -text -noout` of a PEM certificate. */
export function opensslText(pem: string, dir: string): string {
  const file = join(dir, `cert-${Math.random().toString(16).slice(2)}.pem`);
  writeFileSync(file, pem);
  return openssl(['x509', '-in', file, '-text', '-noout']);
}

export type KeyKind = 'p256' | 'p384' | 'ed25519' | 'rsa2048' | 'rsa1024' | 'p521';

export function keyPair(kind: KeyKind): { publicKey: KeyObject; privateKey: KeyObject; spki: Uint8Array } {
  const pair =
    kind === 'p256'
      ? generateKeyPairSync('ec', { namedCurve: 'P-256' })
      : kind === 'p384'
        ? generateKeyPairSync('ec', { namedCurve: 'P-384' })
        : kind === 'p521'
          ? generateKeyPairSync('ec', { namedCurve: 'P-521' })
          : kind === 'ed25519'
            ? generateKeyPairSync('ed25519')
            : generateKeyPairSync('rsa', { modulusLength: kind === 'rsa2048' ? 2048 : 1024 });
  return { ...pair, spki: new Uint8Array(pair.publicKey.export({ type: 'spki', format: 'der' })) };
}
