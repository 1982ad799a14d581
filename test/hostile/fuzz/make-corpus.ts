/**
 * Writes the fuzzer's seed corpus (test/hostile/fixtures/corpus): one valid
 * CSR per key type and the ACME account keys. Run once and commit the
 * output: ECDSA signatures are randomized, so a corpus made at fuzz time
 * would make the same seed produce different inputs.
 *
 *   npm run build && node dist/test/hostile/fuzz/make-corpus.js
 */
import { generateKeyPair, sign, type KeyObject } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { bitString, decodeDer, encodeDer, int, NULL_NODE, oid, prim, seq, set, TAG, type DerNode } from './der.js';
import { CORPUS_DIR } from './paths.js';

const generateKeyPairAsync = promisify(generateKeyPair);

interface CsrKeySpec {
  readonly name: string;
  readonly make: () => Promise<{ publicKey: KeyObject; privateKey: KeyObject }>;
  readonly signatureOid: string;
  readonly hash: string | null;
  readonly hasNullParams?: boolean;
}

// Keys come from the asynchronous generator: JWK export of a generateKeyPairSync key can hang Node 20 (PERF-NOTES).
const CSR_KEYS: readonly CsrKeySpec[] = [
  {
    name: 'P-256',
    make: () => generateKeyPairAsync('ec', { namedCurve: 'prime256v1' }),
    signatureOid: '1.2.840.10045.4.3.2',
    hash: 'sha256',
  },
  {
    name: 'P-384',
    make: () => generateKeyPairAsync('ec', { namedCurve: 'secp384r1' }),
    signatureOid: '1.2.840.10045.4.3.3',
    hash: 'sha384',
  },
  {
    name: 'P-521',
    make: () => generateKeyPairAsync('ec', { namedCurve: 'secp521r1' }),
    signatureOid: '1.2.840.10045.4.3.4',
    hash: 'sha512',
  },
  {
    name: 'secp256k1',
    make: () => generateKeyPairAsync('ec', { namedCurve: 'secp256k1' }),
    signatureOid: '1.2.840.10045.4.3.2',
    hash: 'sha256',
  },
  { name: 'Ed25519', make: () => generateKeyPairAsync('ed25519'), signatureOid: '1.3.101.112', hash: null },
  { name: 'Ed448', make: () => generateKeyPairAsync('ed448'), signatureOid: '1.3.101.113', hash: null },
  {
    name: 'RSA-2048',
    make: () => generateKeyPairAsync('rsa', { modulusLength: 2048, publicExponent: 65537 }),
    signatureOid: '1.2.840.113549.1.1.11',
    hash: 'sha256',
    hasNullParams: true,
  },
  {
    name: 'RSA-2048-e3',
    make: () => generateKeyPairAsync('rsa', { modulusLength: 2048, publicExponent: 3 }),
    signatureOid: '1.2.840.113549.1.1.11',
    hash: 'sha256',
    hasNullParams: true,
  },
];

/** A CertificationRequest (RFC 2986 §4) over `spki`, signed by `privateKey`. */
export function buildCsr(spec: CsrKeySpec, privateKey: KeyObject, spki: DerNode): Buffer {
  const info = seq(int(0), seq(set(seq(oid('2.5.4.3'), prim(TAG.UTF8, Buffer.from('fuzz.test'))))), spki, { tag: 0xa0, children: [] });
  const infoDer = encodeDer(info);
  const signature = sign(spec.hash, infoDer, privateKey);
  const algorithm = spec.hasNullParams === true ? seq(oid(spec.signatureOid), NULL_NODE) : seq(oid(spec.signatureOid));
  return encodeDer(seq(info, algorithm, bitString(signature)));
}

async function main(): Promise<void> {
  await mkdir(CORPUS_DIR, { recursive: true });
  for (const spec of CSR_KEYS) {
    const { publicKey, privateKey } = await spec.make();
    const der = buildCsr(spec, privateKey, decodeDer(publicKey.export({ format: 'der', type: 'spki' })));
    await writeFile(join(CORPUS_DIR, `csr-${spec.name}.der`), der);
  }
  // ACME account keys (PKCS#8 PEM): the JWS target signs with them at send time.
  const accounts: Record<string, () => Promise<{ privateKey: KeyObject }>> = {
    'P-256': () => generateKeyPairAsync('ec', { namedCurve: 'prime256v1' }),
    'P-384': () => generateKeyPairAsync('ec', { namedCurve: 'secp384r1' }),
    Ed25519: () => generateKeyPairAsync('ed25519'),
    'RSA-2048': () => generateKeyPairAsync('rsa', { modulusLength: 2048, publicExponent: 65537 }),
  };
  for (const [name, make] of Object.entries(accounts)) {
    const { privateKey } = await make();
    await writeFile(join(CORPUS_DIR, `account-${name}.key.pem`), privateKey.export({ format: 'pem', type: 'pkcs8' }));
  }
  console.log(`corpus written to ${CORPUS_DIR}`);
}

await main();
