/**
 * The key policy's cost on the SVID hot path: parseCsr (DER walk, key
 * policy, key import, signature check) for a P-256 and an RSA-2048 request,
 * and the policy alone, in µs per call. Run: `npm run build && node dist/bench/keys/run.js`.
 * Medians and minimums of 7 runs of 2,000 calls each; on a shared machine the minimum is the steadier figure.
 */
import { execFileSync } from 'node:child_process';
import { checkSpkiPolicy, parseCsr } from '../../src/x509/index.js';
import { fermatFactors, FERMAT_ROUNDS, hasRocaFingerprintModulus } from '../../src/x509/rsa-key-checks.js';

const RUNS = 7;
const CALLS = 2_000;

function csr(keyArgs: readonly string[]): string {
  return execFileSync('openssl', ['req', '-new', ...keyArgs, '-nodes', '-keyout', '/dev/null', '-subj', '/CN=bench'], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'ignore'],
  });
}

async function measure(what: string, call: () => unknown): Promise<void> {
  for (let i = 0; i < 300; i++) await call();
  const runs: number[] = [];
  for (let r = 0; r < RUNS; r++) {
    const start = process.hrtime.bigint();
    for (let i = 0; i < CALLS; i++) await call();
    runs.push(Number(process.hrtime.bigint() - start) / 1000 / CALLS);
  }
  runs.sort((a, b) => a - b);
  console.log(
    `${what.padEnd(58)} median ${(runs[RUNS >> 1] ?? 0).toFixed(1).padStart(7)} µs   min ${(runs[0] ?? 0).toFixed(1).padStart(7)} µs`,
  );
}

const p256 = csr(['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256']);
const rsa = csr(['-newkey', 'rsa:2048']);
const p256Key = (await parseCsr(p256)).publicKey;
const rsaKey = (await parseCsr(rsa)).publicKey;
const verdict = checkSpkiPolicy(rsaKey);
if (!verdict.ok || verdict.key.kind !== 'rsa') throw new Error('the RSA key did not pass the policy');
const modulus = BigInt(`0x${Buffer.from(verdict.key.n).toString('hex')}`);

await measure('parseCsr, P-256 (whole CSR check)', () => parseCsr(p256));
await measure('parseCsr, RSA-2048 (whole CSR check)', () => parseCsr(rsa));
await measure('key policy alone, P-256 (point validation)', () => checkSpkiPolicy(p256Key));
await measure('key policy alone, RSA-2048 (all rules)', () => checkSpkiPolicy(rsaKey));
await measure(`  of which Fermat, ${FERMAT_ROUNDS} rounds`, () => fermatFactors(modulus, FERMAT_ROUNDS));
await measure('  of which small primes + ROCA discriminator', () => hasRocaFingerprintModulus(modulus));
