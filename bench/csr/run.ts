/**
 * The CSR check beside its cryptography, per request type (P-256, P-384,
 * Ed25519, RSA-2048: what the profiles accept), all measured in one run:
 *
 * - `parseCsr`: the whole check the SVID and ACME routes run (PEM, DER walk,
 *   key policy, key import, one signature check on the libuv pool, names);
 * - the bare cryptography: one `crypto.verify` with an already-imported key
 *   (on the main thread, and as the one-shot on the pool parseCsr uses), and
 *   the key import alone by each path node:crypto offers (SPKI DER, JWK,
 *   WebCrypto raw point, PKCS#1 DER), plus the path keysmith takes;
 * - the key policy alone (our bounded DER walk and checks, no crypto).
 *
 * Each figure is the median of BENCH_ROUNDS (default 5, at least 3) rounds of
 * BENCH_CALLS sequential calls, as wall µs per call and as process CPU µs per
 * call (all threads: the pool's verify counts). "overhead" is parseCsr's CPU
 * less (policy + the import keysmith takes + pool verify).
 *
 * Run: `npx tsc -p tsconfig.json && node dist/bench/csr/run.js`
 *      `node dist/bench/csr/run.js --profile p256`   (a CPU profile of parseCsr alone)
 */
import { execFileSync } from 'node:child_process';
import { createPublicKey, KeyObject, verify, webcrypto, type JsonWebKey } from 'node:crypto';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Session } from 'node:inspector/promises';
import { fileURLToPath } from 'node:url';
import { checkSpkiPolicy, parseCsr, type PolicyKey } from '../../src/x509/index.js';
import { importPolicyKey } from '../../src/x509/subject-key-import.js';
import { policyKeyJwk } from '../../src/x509/key-policy.js';
import { verifyOneShot } from '../../src/x509/one-shot.js';
import { fromPem } from '../../src/x509/pem.js';
import { contextTag, DerReader, readSingle, Tag } from '../../src/pkix/index.js';
import { envNumber } from '../common/env.js';
import { makeCsr } from '../svid/csr.js';
import { analyzeProfile } from '../tls/cpuprofile.js';

const ROUNDS = envNumber('BENCH_ROUNDS', 5, 3, 50);
const CALLS = envNumber('BENCH_CALLS', 1_000, 50, 100_000);
const REPO_ROOT = resolve(fileURLToPath(import.meta.url), '../../../..');

interface KeyCase {
  readonly name: string;
  readonly openssl: readonly string[];
  readonly digest: 'sha256' | 'sha384' | null;
}

const CASES: readonly KeyCase[] = [
  { name: 'p256', openssl: ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-sha256'], digest: 'sha256' },
  { name: 'p384', openssl: ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-384', '-sha384'], digest: 'sha384' },
  { name: 'ed25519', openssl: ['-newkey', 'ed25519'], digest: null },
  { name: 'rsa2048', openssl: ['-newkey', 'rsa:2048', '-sha256'], digest: 'sha256' },
];

interface Figure {
  readonly wallUs: number;
  readonly cpuUs: number;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[sorted.length >> 1] ?? Number.NaN;
}

async function measure(call: () => unknown, calls = CALLS): Promise<Figure> {
  for (let i = 0; i < Math.min(200, calls); i++) await call();
  const walls: number[] = [];
  const cpus: number[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    const cpu = process.cpuUsage();
    const start = process.hrtime.bigint();
    for (let i = 0; i < calls; i++) await call();
    walls.push(Number(process.hrtime.bigint() - start) / 1000 / calls);
    const used = process.cpuUsage(cpu);
    cpus.push((used.user + used.system) / calls);
  }
  return { wallUs: median(walls), cpuUs: median(cpus) };
}

function csrPem(keyCase: KeyCase): string {
  return execFileSync('openssl', ['req', '-new', ...keyCase.openssl, '-nodes', '-keyout', '/dev/null', '-subj', '/CN=bench'], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'ignore'],
  });
}

/** The signed CertificationRequestInfo, its signature and its SPKI, read with our DER reader. */
function requestParts(pem: string): { readonly info: Uint8Array; readonly signature: Uint8Array; readonly spki: Uint8Array } {
  const outer = DerReader.of(readSingle(fromPem(pem, 'CERTIFICATE REQUEST'), Tag.sequence, 'CertificationRequest').content);
  const info = outer.expect(Tag.sequence);
  outer.expect(Tag.sequence);
  const signature = outer.expect(Tag.bitString).content.subarray(1);
  const fields = DerReader.of(info.content);
  fields.expect(Tag.integer);
  fields.expect(Tag.sequence);
  const spki = fields.expect(Tag.sequence).bytes;
  fields.optional(contextTag(0, true));
  return { info: info.bytes, signature, spki };
}

/** The import paths node:crypto offers for this key, keysmith's own first. */
function importPaths(key: PolicyKey, spki: Uint8Array): [string, () => unknown][] {
  const jwk = policyKeyJwk(key) as JsonWebKey;
  const der = Buffer.from(spki);
  const paths: [string, () => unknown][] = [
    ['keysmith (importPolicyKey)', () => importPolicyKey(key)],
    ['SPKI DER (createPublicKey)', () => createPublicKey({ key: der, format: 'der', type: 'spki' })],
    ['JWK (createPublicKey)', () => createPublicKey({ key: jwk, format: 'jwk' })],
  ];
  if (key.kind === 'ec') {
    const point = Buffer.concat([Uint8Array.of(4), key.x, key.y]);
    const algorithm = { name: 'ECDSA', namedCurve: key.curve };
    paths.push([
      'raw point (WebCrypto importKey)',
      async () => KeyObject.from(await webcrypto.subtle.importKey('raw', point, algorithm, true, ['verify'])),
    ]);
  } else if (key.kind === 'ed25519') {
    const raw = Buffer.from(key.x);
    paths.push([
      'raw (WebCrypto importKey)',
      async () => KeyObject.from(await webcrypto.subtle.importKey('raw', raw, { name: 'Ed25519' }, true, ['verify'])),
    ]);
  } else {
    const bits = DerReader.of(readSingle(spki, Tag.sequence, 'SubjectPublicKeyInfo').content);
    bits.expect(Tag.sequence);
    const pkcs1 = Buffer.from(bits.expect(Tag.bitString).content.subarray(1));
    paths.push(['PKCS#1 DER (createPublicKey)', () => createPublicKey({ key: pkcs1, format: 'der', type: 'pkcs1' })]);
  }
  return paths;
}

const fmt = (value: number): string => value.toFixed(1).padStart(8);

async function benchCase(keyCase: KeyCase): Promise<void> {
  const pem = csrPem(keyCase);
  const { info, signature, spki } = requestParts(pem);
  const verdict = checkSpkiPolicy(spki);
  if (!verdict.ok) throw new Error(`${keyCase.name}: the bench key failed the policy: ${verdict.problem}`);
  const keyObject = await importPolicyKey(verdict.key);
  const verifyInput = verdict.key.kind === 'ec' ? { key: keyObject, dsaEncoding: 'der' as const } : keyObject;
  if (!verify(keyCase.digest, info, verifyInput, signature)) throw new Error(`${keyCase.name}: the bench CSR does not verify`);
  // The P-384 and RSA checks are slower: fewer calls keep the run short without changing the medians.
  const calls = keyCase.name === 'p384' ? Math.max(50, CALLS >> 2) : CALLS;

  const whole = await measure(() => parseCsr(pem), calls);
  // As a fleet sends them: every request a different key (bench/svid's CSRs), so nothing warm is reused.
  const distinct = keyCase.name === 'p256' ? Array.from({ length: calls }, () => makeCsr()) : [];
  let next = 0;
  const wholeDistinct = distinct.length === 0 ? undefined : await measure(() => parseCsr(distinct[next++ % distinct.length] ?? pem), calls);
  const policy = await measure(() => checkSpkiPolicy(spki), calls);
  const verifyMain = await measure(() => verify(keyCase.digest, info, verifyInput, signature), calls);
  const verifyPool = await measure(() => verifyOneShot(keyCase.digest, info, verifyInput, signature), calls);
  const imports: [string, Figure][] = [];
  for (const [name, call] of importPaths(verdict.key, spki)) imports.push([name, await measure(call, calls)]);
  const ours = imports[0]?.[1] ?? { wallUs: Number.NaN, cpuUs: Number.NaN };
  const cheapest = Math.min(...imports.map(([, f]) => f.cpuUs));
  const crypto = cheapest + verifyMain.cpuUs;

  console.log(
    `\n${keyCase.name} (CSR ${Buffer.from(fromPem(pem, 'CERTIFICATE REQUEST')).byteLength} bytes, ${calls} calls x ${ROUNDS} rounds)`,
  );
  console.log(`${'what'.padEnd(44)} ${'wall µs'.padStart(8)} ${'CPU µs'.padStart(8)}`);
  const row = (what: string, f: Figure): void => console.log(`${what.padEnd(44)} ${fmt(f.wallUs)} ${fmt(f.cpuUs)}`);
  row('parseCsr (the whole CSR check)', whole);
  if (wholeDistinct !== undefined) row(`parseCsr, ${distinct.length} distinct CSRs (bench/svid's)`, wholeDistinct);
  row('key policy alone (checkSpkiPolicy)', policy);
  row('verify, imported key, main thread', verifyMain);
  row('verify, imported key, one-shot on the pool', verifyPool);
  for (const [name, f] of imports) row(`import: ${name}`, f);
  console.log(
    `cryptography (cheapest import + verify) ${crypto.toFixed(1)} µs CPU; parseCsr / cryptography = ${(whole.cpuUs / crypto).toFixed(2)}x; ` +
      `overhead beyond policy + keysmith's import + pool verify = ${(whole.cpuUs - policy.cpuUs - ours.cpuUs - verifyPool.cpuUs).toFixed(1)} µs CPU`,
  );
}

/** A CPU profile of parseCsr alone for one key type, summarised by bench/tls's reader. */
async function profile(keyCase: KeyCase): Promise<void> {
  const pem = csrPem(keyCase);
  const dir = join(tmpdir(), 'keysmith-bench-csr');
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const session = new Session();
  session.connect();
  await session.post('Profiler.enable');
  await session.post('Profiler.setSamplingInterval', { interval: 100 });
  await session.post('Profiler.start');
  for (let i = 0; i < CALLS * 5; i++) await parseCsr(pem);
  const { profile: written } = await session.post('Profiler.stop');
  session.disconnect();
  const file = join(dir, `parseCsr-${keyCase.name}.cpuprofile`);
  writeFileSync(file, JSON.stringify(written));
  const summary = analyzeProfile(file, REPO_ROOT);
  console.log(
    `profile of ${CALLS * 5} parseCsr calls (${keyCase.name}): ${file}, busy ${summary.busyMs.toFixed(0)} ms sampled on the main thread`,
  );
  console.log('top self time:');
  for (const e of summary.bySelf.slice(0, 20)) console.log(`  ${(e.selfShare * 100).toFixed(1).padStart(5)}%  ${e.name}  ${e.location}`);
  console.log('src/ functions charged with what they call outside src/:');
  for (const c of summary.charged.slice(0, 12)) {
    console.log(
      `  ${(c.share * 100).toFixed(1).padStart(5)}%  ${c.name}  ${c.location}  ${c.topCallees.map((t) => `${t.name} ${t.ms.toFixed(0)} ms`).join(', ')}`,
    );
  }
}

const args = process.argv.slice(2);
const profileAt = args.indexOf('--profile');
if (profileAt >= 0) {
  const name = args[profileAt + 1] ?? 'p256';
  const keyCase = CASES.find((c) => c.name === name);
  if (keyCase === undefined) throw new Error(`--profile takes one of ${CASES.map((c) => c.name).join(', ')}`);
  await profile(keyCase);
} else {
  const only = process.env['BENCH_ONLY']?.split(',');
  console.log(`bench/csr: node ${process.version}, medians of ${ROUNDS} rounds`);
  for (const keyCase of CASES) if (only === undefined || only.includes(keyCase.name)) await benchCase(keyCase);
}
