import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { listeningPort, runProcess, startProcess, type ProcessResult, type ThirdPartyProcess } from '../helpers/processes.js';

/**
 * Shared pieces of the ACME interop tests: `keysmith serve` as an operator
 * runs it (the built CLI in a child process on 127.0.0.1, a fresh data
 * directory), the offline CLI beside it, and the openssl checks every
 * client's result goes through. Every wait is bounded; every child is
 * killed by its own PID.
 */

const MAIN = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));

/** The name suffix every test orders under (KEYSMITH_ACME_ALLOWED_SUFFIXES). */
export const ALLOWED_SUFFIX = 'example.test';

export interface Keysmith {
  readonly dir: string;
  readonly port: number;
  /** https://127.0.0.1:PORT */
  readonly url: string;
  readonly directoryUrl: string;
  /** The trust bundle (root) clients are told to trust. */
  readonly bundle: string;
  readonly env: NodeJS.ProcessEnv;
  readonly process: ThirdPartyProcess;
  /** Runs `keysmith ARGS` offline on the same data directory. */
  cli(args: readonly string[]): Promise<ProcessResult>;
  stop(): Promise<void>;
}

/** Starts `keysmith serve` with ACME settings; resolves once it printed its start-up lines. */
export async function startKeysmith(acmeEnv: NodeJS.ProcessEnv): Promise<Keysmith> {
  const dir = await mkdtemp(join(tmpdir(), 'keysmith-acme-interop-'));
  const serveEnv: NodeJS.ProcessEnv = {
    PATH: process.env['PATH'],
    HOME: process.env['HOME'],
    KEYSMITH_DATA_DIR: join(dir, 'data'),
    // Port 0: serve binds any free port and prints it; no other process can take it in between.
    KEYSMITH_LISTEN: '127.0.0.1:0',
    KEYSMITH_LOG_LEVEL: 'warn',
    KEYSMITH_ACME_VALIDATION_ADDRESS: '127.0.0.1',
    KEYSMITH_ACME_ALLOWED_SUFFIXES: ALLOWED_SUFFIX,
    ...acmeEnv,
  };
  const child = startProcess(process.execPath, [MAIN, 'serve'], { env: serveEnv, lifetimeMs: 300_000 });
  let port: number;
  try {
    // The curl line is the last thing serve prints at start-up.
    await child.waitFor(/curl --cert \S+ --key \S+ --cacert \S+ https:\/\/\S+\/v1\/certificates\n/, { timeoutMs: 30_000 });
    port = listeningPort(child.output);
  } catch (err) {
    await child.kill();
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
  // Commands run beside the service name the port it bound.
  const env: NodeJS.ProcessEnv = { ...serveEnv, KEYSMITH_LISTEN: `127.0.0.1:${port}` };
  const url = `https://127.0.0.1:${port}`;
  return {
    dir,
    port,
    url,
    directoryUrl: `${url}/acme/directory`,
    bundle: join(dir, 'data', 'bundle.pem'),
    env,
    process: child,
    cli: (args) => runProcess(process.execPath, [MAIN, ...args], { env, timeoutMs: 30_000, lifetimeMs: 40_000 }),
    stop: async () => {
      if (!child.hasExited) {
        process.kill(child.pid, 'SIGTERM');
        await child.waitForExit(20_000).catch(() => child.kill());
      }
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** `keysmith acme eab create --json`: a fresh EAB key id and its base64url HMAC key. */
export async function createEab(keysmith: Keysmith): Promise<{ keyId: string; hmacKey: string }> {
  const result = await keysmith.cli(['acme', 'eab', 'create', '--json']);
  assert.equal(result.code, 0, result.stdout + result.stderr);
  const parsed: unknown = JSON.parse(result.stdout.trim());
  // One document: {"eab_keys":[{key_id, hmac_key, ...}]}
  const key =
    typeof parsed === 'object' && parsed !== null && 'eab_keys' in parsed && Array.isArray(parsed.eab_keys)
      ? (parsed.eab_keys[0] as unknown)
      : undefined;
  assert.ok(typeof key === 'object' && key !== null && 'key_id' in key && 'hmac_key' in key, result.stdout);
  const { key_id: keyId, hmac_key: hmacKey } = key;
  assert.ok(typeof keyId === 'string' && typeof hmacKey === 'string');
  assert.match(hmacKey, /^[A-Za-z0-9_-]{43,}$/, 'base64url, at least 256 bits');
  return { keyId, hmacKey };
}

const PEM_CERTIFICATE = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----\n?/g;

/** The certificates in a PEM text, in order, each ending in a newline. */
export function splitPem(text: string): string[] {
  return (text.match(PEM_CERTIFICATE) ?? []).map((pem) => (pem.endsWith('\n') ? pem : `${pem}\n`));
}

/** Writes the leaf and the rest of a downloaded chain to files, for openssl. */
export async function writeChainFiles(dir: string, name: string, chainPem: string): Promise<{ leaf: string; intermediate: string }> {
  const [leaf, ...issuers] = splitPem(chainPem);
  assert.ok(leaf !== undefined && issuers.length >= 1, `expected the leaf and its issuer in:\n${chainPem}`);
  const files = { leaf: join(dir, `${name}-leaf.pem`), intermediate: join(dir, `${name}-intermediate.pem`) };
  await writeFile(files.leaf, leaf);
  await writeFile(files.intermediate, issuers.join(''));
  return files;
}

function openssl(args: readonly string[]): Promise<ProcessResult> {
  return runProcess('openssl', args, { timeoutMs: 15_000, lifetimeMs: 20_000 });
}

/** `openssl verify -CAfile bundle -untrusted intermediate leaf` must say OK, for the TLS server purpose. */
export async function assertChainVerifies(keysmith: Keysmith, files: { leaf: string; intermediate: string }): Promise<void> {
  const result = await openssl([
    'verify',
    '-CAfile',
    keysmith.bundle,
    '-untrusted',
    files.intermediate,
    '-purpose',
    'sslserver',
    files.leaf,
  ]);
  assert.equal(result.code, 0, result.stdout + result.stderr);
  assert.match(result.stdout, /: OK$/m);
}

/** The DNS names in a certificate's subjectAltName, sorted. */
export async function dnsNamesOf(leafFile: string): Promise<string[]> {
  const result = await openssl(['x509', '-in', leafFile, '-noout', '-ext', 'subjectAltName']);
  assert.equal(result.code, 0, result.stderr);
  return [...result.stdout.matchAll(/DNS:([^,\s]+)/g)].map((m) => m[1]!).sort();
}

/** The certificate's serial as lowercase hex without leading zeros. */
export async function serialOf(leafFile: string): Promise<string> {
  const result = await openssl(['x509', '-in', leafFile, '-noout', '-serial']);
  assert.equal(result.code, 0, result.stderr);
  return /serial=([0-9A-Fa-f]+)/
    .exec(result.stdout)![1]!
    .toLowerCase()
    .replace(/^0+(?=.)/, '');
}

/**
 * `openssl ocsp` over keysmith's TLS listener (-CAfile serves the TLS
 * connection and the response signature); returns the certificate's status
 * line, e.g. "revoked", after checking the response verified.
 */
export async function ocspStatus(
  keysmith: Keysmith,
  files: { leaf: string; intermediate: string },
): Promise<{ status: string; output: string }> {
  const result = await openssl([
    'ocsp',
    '-issuer',
    files.intermediate,
    '-cert',
    files.leaf,
    '-CAfile',
    keysmith.bundle,
    '-url',
    `${keysmith.url}/ocsp`,
  ]);
  const output = result.stdout + result.stderr;
  assert.equal(result.code, 0, output);
  assert.match(output, /Response verify OK/);
  const status = new RegExp(`${escape(files.leaf)}: (\\w+)`).exec(result.stdout)?.[1];
  assert.ok(status !== undefined, output);
  return { status, output };
}

/** The ledger row for a serial, as `keysmith certs list` prints it (profile and status columns). */
export async function ledgerLine(keysmith: Keysmith, dnsName: string, serial: string): Promise<string> {
  const result = await keysmith.cli(['certs', 'list', '--dns', dnsName]);
  assert.equal(result.code, 0, result.stderr);
  const line = result.stdout.split('\n').find((l) => (l.split(/\s+/, 1)[0] ?? '').replace(/^0+(?=.)/, '') === serial);
  assert.ok(line !== undefined, `serial ${serial} not in the ledger:\n${result.stdout}`);
  return line;
}

export async function readText(path: string): Promise<string> {
  return readFile(path, 'utf8');
}

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
