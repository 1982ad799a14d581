/**
 * PKCS#10 CSRs (RFC 2986) to POST /v1/attest/join-token, the one CSR route
 * open to any TLS client. Seeds are valid CSRs signed by real keys of every
 * type a workload might hold; mutations know the SubjectPublicKeyInfo
 * (RFC 5280 §4.1.2.7): EC point encodings (SEC 1 §2.3.3), curve and
 * algorithm OIDs, BIT STRING framing, RSA modulus and exponent (RFC 8017
 * §A.1.1), EdDSA key lengths (RFC 8410), then generic DER and byte edits.
 * The token is well-formed and unknown: the CSR is parsed before the token
 * is looked up, so a valid CSR gets 403 and writes nothing.
 */
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Prng } from '../../../robustness/flood-tools.js';
import type { HostileService } from '../../harness.js';
import { HttpsClient, SourceAddresses, type Outcome } from '../client.js';
import { bitString, cloneDer, decodeDer, encodeDer, int, NULL_NODE, octetString, oid, seq, TAG, uint, type DerNode } from '../der.js';
import { interestingInteger, mutateBytes, mutateTree, replace } from '../mutators.js';
import { CORPUS_DIR } from '../paths.js';
import { FUZZ_ENV, isProblem, type FuzzTarget, type TargetSession } from '../target.js';

/** A join token of the right shape (43 base64url characters) that was never issued. */
export const UNKNOWN_JOIN_TOKEN = 'A'.repeat(43);

/**
 * One valid CSR of the committed corpus (test/hostile/fixtures/corpus/csr-*.der,
 * made once by make-corpus.ts: ECDSA signatures are randomized, so a corpus
 * made at run time would make a seed replay differently).
 */
export interface CsrSeed {
  readonly name: string;
  readonly der: Buffer;
  /** Bytes per EC coordinate (0 for other key types). */
  readonly coordinate: number;
}

const COORDINATE_BYTES: Readonly<Record<string, number>> = { 'P-256': 32, 'P-384': 48, 'P-521': 66, secp256k1: 32 };

export async function loadCsrSeeds(): Promise<CsrSeed[]> {
  const names = (await readdir(CORPUS_DIR)).filter((name) => name.startsWith('csr-') && name.endsWith('.der')).sort();
  if (names.length === 0) throw new Error(`no csr-*.der in ${CORPUS_DIR}`);
  return Promise.all(
    names.map(async (file) => {
      const name = file.slice('csr-'.length, -'.der'.length);
      return { name, der: await readFile(join(CORPUS_DIR, file)), coordinate: COORDINATE_BYTES[name] ?? 0 };
    }),
  );
}

const CURVE_OIDS = [
  '1.2.840.10045.3.1.7',
  '1.3.132.0.34',
  '1.3.132.0.35',
  '1.3.132.0.10',
  '1.3.132.0.33',
  '1.2.840.10045.3.1.1',
  '1.3.36.3.3.2.8.1.1.7',
  '1.3.132.0.6',
];
const KEY_ALGORITHM_OIDS = [
  '1.2.840.10045.2.1',
  '1.2.840.113549.1.1.1',
  '1.2.840.113549.1.1.10',
  '1.3.101.110',
  '1.3.101.111',
  '1.3.101.112',
  '1.3.101.113',
  '1.2.840.10040.4.1',
  '1.2.840.10046.2.1',
  '1.3.132.1.12',
];

/** P-256's domain parameters spelled out (SEC 1 §C.2 specifiedCurve), the form OpenSSL 3 still parses. */
function explicitP256(prng: Prng): DerNode {
  const hex = (s: string): Buffer => Buffer.from(s, 'hex');
  const p = hex('ffffffff00000001000000000000000000000000ffffffffffffffffffffffff');
  const a = hex('ffffffff00000001000000000000000000000000fffffffffffffffffffffffc');
  const b = hex('5ac635d8aa3a93e7b3ebbd55769886bc651d06b0cc53b0f63bce3c3e27d2604b');
  const g = hex(
    '046b17d1f2e12c4247f8bce6e563a440f277037d812deb33a0f4a13945d898c2964fe342e2fe1a7f9b8ee7eb4a7c0f9e162bce33576b315ececbb6406837bf51f5',
  );
  const n = hex('ffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551');
  const params = seq(int(1), seq(oid('1.2.840.10045.1.1'), uint(p)), seq(octetString(a), octetString(b)), octetString(g), uint(n), int(1));
  // Weak or broken variants: cofactor 0, order 1, generator at infinity, prime 3.
  switch (prng.int(5)) {
    case 0:
      params.children?.splice(5, 1, int(0));
      break;
    case 1:
      params.children?.splice(4, 1, int(1));
      break;
    case 2:
      params.children?.splice(3, 1, octetString(Buffer.from([0])));
      break;
    case 3:
      params.children?.splice(1, 1, seq(oid('1.2.840.10045.1.1'), int(3)));
      break;
    default:
      break;
  }
  return params;
}

/** SEC 1 §2.3.3 encodings at and past the edges: infinity, compressed, hybrid, wrong lengths, off-curve, coordinates ≥ p. */
function pointEdge(prng: Prng, coordinate: number, original: Buffer): Buffer {
  const size = coordinate > 0 ? coordinate : prng.pick([32, 48, 66]);
  const x = original.length === 1 + 2 * size ? original.subarray(1, 1 + size) : prng.bytes(size);
  const y = original.length === 1 + 2 * size ? original.subarray(1 + size) : prng.bytes(size);
  switch (prng.int(14)) {
    case 0:
      return Buffer.from([0x00]); // the point at infinity
    case 1:
      return Buffer.alloc(0);
    case 2:
      return Buffer.concat([Buffer.from([0x04]), Buffer.alloc(2 * size)]);
    case 3:
      return Buffer.concat([Buffer.from([0x02]), Buffer.alloc(size)]);
    case 4:
      return Buffer.concat([Buffer.from([prng.pick([0x02, 0x03])]), x]);
    case 5: {
      const offCurve = Buffer.from(y);
      offCurve[size - 1] = (offCurve[size - 1] ?? 0) ^ 1;
      return Buffer.concat([Buffer.from([0x04]), x, offCurve]);
    }
    case 6:
      return Buffer.from([0x04]);
    case 7:
      return Buffer.concat([Buffer.from([0x04]), x]);
    case 8:
      return Buffer.concat([Buffer.from([prng.pick([0x06, 0x07])]), x, y]);
    case 9:
      return Buffer.concat([Buffer.from([0x04]), Buffer.alloc(size, 0xff), y]);
    case 10:
      return Buffer.concat([Buffer.from([0x04]), x, y, Buffer.from([0])]);
    case 11:
      return Buffer.concat([Buffer.from([0x00]), Buffer.alloc(prng.pick([1, size, 2 * size]))]);
    case 12:
      return Buffer.concat([Buffer.from([0x04]), prng.bytes(2 * prng.pick([28, 32, 48, 66]))]);
    default:
      return prng.bytes(prng.int(140));
  }
}

/** RFC 8410 keys: wrong lengths, the identity, small-order points. */
function edwardsEdge(prng: Prng): Buffer {
  switch (prng.int(6)) {
    case 0:
      return Buffer.alloc(0);
    case 1:
      return Buffer.alloc(32);
    case 2:
      return Buffer.concat([Buffer.from([1]), Buffer.alloc(31)]);
    case 3:
      return Buffer.alloc(prng.pick([31, 33, 56, 57, 64]), 0xff);
    case 4:
      return Buffer.from('ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f', 'hex');
    default:
      return prng.bytes(prng.int(70));
  }
}

/** An edge of an RSA modulus or exponent (RFC 8017 §A.1.1 RSAPublicKey). */
function rsaEdge(prng: Prng, rsaKey: DerNode): void {
  const [modulus, exponent] = rsaKey.children ?? [];
  if (modulus === undefined || exponent === undefined) return;
  if (prng.int(2) === 0) {
    exponent.content = prng.pick([
      Buffer.from([0]),
      Buffer.from([1]),
      Buffer.from([2]),
      Buffer.from([3]),
      Buffer.from([0x01, 0x00, 0x00]),
      Buffer.from([0xff]),
      Buffer.from([0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01]),
      Buffer.concat([Buffer.from([0x01]), Buffer.alloc(255)]),
      interestingInteger(prng),
    ]);
    return;
  }
  const n = modulus.content ?? Buffer.alloc(0);
  switch (prng.int(6)) {
    case 0:
      modulus.content = Buffer.from([prng.pick([0, 1, 0x80])]);
      return;
    case 1: {
      const even = Buffer.from(n);
      even[even.length - 1] = (even[even.length - 1] ?? 0) & 0xfe;
      modulus.content = even;
      return;
    }
    case 2:
      modulus.content = Buffer.concat([Buffer.from([0]), prng.bytes(prng.pick([64, 128, 2048]))]);
      return;
    case 3:
      modulus.content = Buffer.concat([Buffer.alloc(prng.pick([1, 2, 64])), n]);
      return;
    case 4:
      modulus.content = n.subarray(1);
      return;
    default:
      modulus.content = interestingInteger(prng);
  }
}

/** One SPKI-aware edit of `spki` (SEQUENCE { AlgorithmIdentifier, BIT STRING }). */
function mutateSpki(prng: Prng, spki: DerNode, coordinate: number): void {
  const [algorithm, keyBits] = spki.children ?? [];
  if (algorithm === undefined || keyBits === undefined) return;
  const params = algorithm.children?.[1];
  switch (prng.int(7)) {
    case 0:
    case 1: {
      // the key bytes
      if (keyBits.children !== undefined && prng.int(3) !== 0) {
        const rsaKey = keyBits.children[0];
        if (rsaKey !== undefined) rsaEdge(prng, rsaKey);
        return;
      }
      const original = keyBits.content?.subarray(1) ?? Buffer.alloc(0);
      const bytes = coordinate > 0 || prng.int(2) === 0 ? pointEdge(prng, coordinate, original) : edwardsEdge(prng);
      replace(keyBits, bitString(bytes));
      return;
    }
    case 2: // the curve
      if (algorithm.children !== undefined) {
        const choice = prng.int(6);
        const curve = choice === 0 ? NULL_NODE : choice === 1 ? explicitP256(prng) : oid(prng.pick(CURVE_OIDS));
        if (params !== undefined) algorithm.children[1] = cloneDer(curve);
        else algorithm.children.push(cloneDer(curve));
        if (choice === 2) algorithm.children.splice(1, 1);
      }
      return;
    case 3: // the algorithm
      if (algorithm.children?.[0] !== undefined) algorithm.children[0] = oid(prng.pick(KEY_ALGORITHM_OIDS));
      return;
    case 4: // the BIT STRING framing: unused bits, a trailing byte, nothing
      if (keyBits.prefix !== undefined) keyBits.prefix = Buffer.from([prng.pick([1, 7, 8])]);
      else if (keyBits.content !== undefined) {
        keyBits.content = prng.pick([
          Buffer.concat([Buffer.from([prng.pick([1, 7, 8, 0xff])]), keyBits.content.subarray(1)]),
          Buffer.concat([keyBits.content, Buffer.from([0])]),
          Buffer.alloc(0),
          Buffer.from([0]),
          Buffer.from([0, 0]),
        ]);
      }
      return;
    case 5: // the whole key as another type's structure: an RSA key under an EC OID, a point under rsaEncryption
      if (keyBits.children !== undefined) replace(keyBits, bitString(pointEdge(prng, 32, Buffer.alloc(0))));
      else
        replace(keyBits, {
          tag: TAG.BIT_STRING,
          prefix: Buffer.from([0]),
          children: [seq(uint(prng.bytes(prng.pick([1, 64, 256]))), int(prng.pick([1, 3, 65537])))],
        });
      return;
    default: // the SPKI's own structure
      mutateTree(prng, spki);
  }
}

/** The CSR target: a fixed corpus of valid CSRs and the mutations above. */
export class CsrTarget implements FuzzTarget {
  readonly name = 'csr' as const;
  readonly env = FUZZ_ENV;
  readonly parallel = 1;

  private constructor(private readonly seeds: readonly CsrSeed[]) {}

  static async create(): Promise<CsrTarget> {
    return new CsrTarget(await loadCsrSeeds());
  }

  generate(prng: Prng): Buffer {
    const seed = prng.pick(this.seeds);
    const mode = prng.int(20);
    if (mode < 11) {
      // SPKI-aware; the signature is left as it was (no signature verifies under a broken key anyway)
      const tree = decodeDer(seed.der);
      const spki = tree.children?.[0]?.children?.[2];
      if (spki === undefined) return seed.der;
      const edits = 1 + prng.int(2);
      for (let i = 0; i < edits; i++) mutateSpki(prng, spki, seed.coordinate);
      return encodeDer(tree);
    }
    if (mode < 17) {
      let tree = decodeDer(seed.der);
      const edits = 1 + prng.int(3);
      for (let i = 0; i < edits; i++) tree = mutateTree(prng, tree);
      return encodeDer(tree);
    }
    let bytes = seed.der;
    const edits = 1 + prng.int(4);
    for (let i = 0; i < edits; i++) bytes = mutateBytes(prng, bytes, 24_000);
    return bytes;
  }

  async open(service: HostileService): Promise<TargetSession> {
    const client = new HttpsClient(service.port, await service.bundlePem(), new SourceAddresses(), 500);
    return {
      send: (input) => client.send(joinTokenRequest(input)),
      checkRefusal: (_input, outcome) => checkCsrRefusal(outcome),
      close: () => client.close(),
    };
  }
}

export function joinTokenRequest(csrDer: Buffer): { method: string; path: string; headers: Record<string, string>; body: Buffer } {
  return {
    method: 'POST',
    path: '/v1/attest/join-token',
    headers: { 'content-type': 'application/json' },
    body: Buffer.from(JSON.stringify({ token: UNKNOWN_JOIN_TOKEN, csr: csrDer.toString('base64') })),
  };
}

/**
 * A mutated CSR is refused with a problem document: 400 (malformed or
 * bad-csr; the good-key policy refuses bad keys this way), or 403
 * when the CSR is valid and only the token is unknown. Anything else (a 200
 * would mean an unknown token issued; a 5xx means an unhandled fault) fails.
 */
export function checkCsrRefusal(outcome: Outcome): string | undefined {
  if (isProblem(outcome, [400, 403])) return undefined;
  return `expected a 400/403 problem document, got ${String(outcome.status)} ${String(outcome.headers['content-type'] ?? '')} ${outcome.body.subarray(0, 300).toString()}`;
}
