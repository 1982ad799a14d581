import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { checkEcCoordinates, checkEcPoint, curveByName, CURVES } from '../../../src/shared/ec-point.js';
import { checkJwkPolicy, checkSpkiPolicy, type KeyVerdict } from '../../../src/x509/key-policy.js';
import { fermatFactors, hasRocaFingerprintModulus, integerSquareRoot, rsaKeyProblem } from '../../../src/x509/rsa-key-checks.js';
import {
  bigIntToBytes,
  bytesToBigInt,
  closePrimesModulus,
  ecSpki,
  infinitySpki,
  OIDS,
  offCurvePoint,
  rocaModulus,
  rsaExponent1Key,
  rsaExponent3Key,
  rsaSpki,
  smallFactorModulus,
  topPrime,
} from '../../helpers/hostile-keys.js';

/** DER SPKI export is safe on generated keys (PERF-NOTES: only the JWK export can hang). */
function spkiOf(key: KeyObject): Uint8Array {
  return new Uint8Array(key.export({ type: 'spki', format: 'der' }));
}

function ecKey(namedCurve: string): Uint8Array {
  return spkiOf(generateKeyPairSync('ec', { namedCurve }).publicKey);
}

function pointOf(spki: Uint8Array, fieldBytes: number): Uint8Array {
  return spki.subarray(spki.length - (1 + 2 * fieldBytes));
}

function refusal(verdict: { readonly ok: true } | { readonly ok: false; readonly problem: string }): string {
  assert.equal(verdict.ok, false, 'expected a refusal');
  return verdict.ok ? '' : verdict.problem;
}

const P256_SPKI = ecKey('prime256v1');
const P384_SPKI = ecKey('secp384r1');
const RSA_2048 = generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey;
const RSA_2048_SPKI = spkiOf(RSA_2048);

describe('checkEcPoint (SP 800-56A Rev. 3 §5.6.2.3.3 partial validation)', () => {
  const p256 = curveByName('P-256');
  assert.ok(p256 !== undefined);

  it('accepts a real point on each curve it knows, and gives back its coordinates', () => {
    for (const [curve, name] of [
      [CURVES[0], 'prime256v1'],
      [CURVES[1], 'secp384r1'],
      [CURVES[2], 'secp521r1'],
      [CURVES[3], 'secp256k1'],
    ] as const) {
      assert.ok(curve !== undefined);
      const point = pointOf(ecKey(name), curve.fieldBytes);
      const verdict = checkEcPoint(curve, point);
      assert.ok(verdict.ok, `${curve.name}: ${verdict.ok ? '' : verdict.problem}`);
      assert.deepEqual(Buffer.from(verdict.point.x), Buffer.from(point.subarray(1, 1 + curve.fieldBytes)));
    }
  });

  it('refuses the point at infinity, both as the octet 00 (SEC 1 §2.3.4) and as (0, 0) (step 1)', () => {
    assert.match(
      refusal(checkEcPoint(p256, Uint8Array.of(0))),
      /^P-256 public key is the point at infinity \(SP 800-56A Rev\. 3 §5\.6\.2\.3\.3 step 1\)$/,
    );
    assert.match(refusal(checkEcPoint(p256, new Uint8Array(0))), /point encoding is empty/);
    assert.match(refusal(checkEcPoint(p256, Uint8Array.from([4, ...new Uint8Array(64)]))), /point at infinity .*step 1/);
  });

  it('refuses coordinates not below p (step 2) and points off the curve (step 3)', () => {
    const p = bigIntToBytes(p256.p, 32);
    const real = pointOf(P256_SPKI, 32);
    assert.match(
      refusal(checkEcPoint(p256, Uint8Array.from([4, ...p, ...real.subarray(33)]))),
      /coordinate x is not below the field prime p \(.*step 2\)/,
    );
    assert.match(
      refusal(checkEcPoint(p256, Uint8Array.from([4, ...real.subarray(1, 33), ...new Uint8Array(32).fill(0xff)]))),
      /coordinate y .*step 2/,
    );
    assert.match(refusal(checkEcPoint(p256, offCurvePoint(real))), /point is not on the curve \(.*step 3\)/);
  });

  it('refuses wrong lengths, compressed (RFC 5480 §2.2) and hybrid encodings', () => {
    const real = pointOf(P256_SPKI, 32);
    assert.match(refusal(checkEcPoint(p256, real.subarray(0, 64))), /point is 64 octets, not the 65 of an uncompressed point/);
    assert.match(refusal(checkEcPoint(p256, Uint8Array.from([...real, 0]))), /66 octets/);
    assert.match(
      refusal(checkEcPoint(p256, Uint8Array.from([2, ...real.subarray(1, 33)]))),
      /compressed point: only the uncompressed form .* \(RFC 5480 §2\.2\)/,
    );
    assert.match(refusal(checkEcPoint(p256, Uint8Array.from([6, ...real.subarray(1)]))), /starts with 0x06, not 04/);
  });

  it('checks JWK coordinates for their exact length (RFC 7518 §6.2.1.2)', () => {
    const real = pointOf(P256_SPKI, 32);
    assert.ok(checkEcCoordinates(p256, real.subarray(1, 33), real.subarray(33)).ok);
    assert.match(refusal(checkEcCoordinates(p256, real.subarray(2, 33), real.subarray(33))), /31 and 32 octets, not 32 each/);
  });
});

describe('checkSpkiPolicy', () => {
  it('accepts P-256, P-384, Ed25519 and RSA-2048 keys made by node:crypto', () => {
    assert.deepEqual(kindOf(checkSpkiPolicy(P256_SPKI)), 'ec P-256');
    assert.deepEqual(kindOf(checkSpkiPolicy(P384_SPKI)), 'ec P-384');
    assert.deepEqual(kindOf(checkSpkiPolicy(spkiOf(generateKeyPairSync('ed25519').publicKey))), 'ed25519');
    assert.deepEqual(kindOf(checkSpkiPolicy(RSA_2048_SPKI)), 'rsa 2048');
  });

  it('refuses the point at infinity on every curve (the SPKI that once aborted Node), naming the curve rule or the point rule', () => {
    assert.match(refusal(checkSpkiPolicy(infinitySpki(OIDS.p256))), /^P-256 public key is the point at infinity/);
    assert.match(refusal(checkSpkiPolicy(infinitySpki(OIDS.p384))), /^P-384 public key is the point at infinity/);
    // Curves outside the policy are refused before their point is looked at.
    assert.match(
      refusal(checkSpkiPolicy(infinitySpki(OIDS.p521))),
      /^EC curve P-521 is not accepted: .*P-256 and P-384 only \(CA\/Browser Forum BR §6\.1\.5\)$/,
    );
    assert.match(refusal(checkSpkiPolicy(infinitySpki(OIDS.secp256k1))), /^EC curve secp256k1 is not accepted/);
  });

  it('refuses P-521, secp256k1 and brainpool keys made by node:crypto, and an off-curve P-256 point', () => {
    assert.match(refusal(checkSpkiPolicy(ecKey('secp521r1'))), /EC curve P-521 is not accepted/);
    assert.match(refusal(checkSpkiPolicy(ecKey('secp256k1'))), /EC curve secp256k1 is not accepted/);
    assert.match(refusal(checkSpkiPolicy(ecKey('brainpoolP256r1'))), /EC curve brainpoolP256r1 is not accepted/);
    assert.match(
      refusal(checkSpkiPolicy(ecSpki(OIDS.p256, offCurvePoint(pointOf(P256_SPKI, 32))))),
      /P-256 public key point is not on the curve/,
    );
  });

  it('refuses explicit curve parameters (RFC 5480 §2.1.1), from a key openssl wrote that way', () => {
    const pem = execFileSync('openssl', ['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-param_enc', 'explicit'], {
      encoding: 'utf8',
    });
    const spki = new Uint8Array(
      execFileSync('openssl', ['ec', '-pubout', '-outform', 'DER', '-param_enc', 'explicit'], {
        input: pem,
        stdio: ['pipe', 'pipe', 'ignore'],
      }),
    );
    assert.match(
      refusal(checkSpkiPolicy(spki)),
      /^EC key has explicit curve parameters \(specifiedCurve\): keys must name their curve \(RFC 5480 §2\.1\.1\)$/,
    );
  });

  it('refuses Ed25519 keys of the wrong length or with parameters (RFC 8410 §3, §4), and other algorithms by name', () => {
    const ed = spkiOf(generateKeyPairSync('ed25519').publicKey);
    const short = Uint8Array.from([0x30, 0x29, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x20, 0x00, ...ed.subarray(12, 43)]);
    assert.match(refusal(checkSpkiPolicy(short)), /Ed25519 public key is 31 octets, not 32 \(RFC 8410 §4\)/);
    const withNull = Uint8Array.from([0x30, 0x2c, 0x30, 0x07, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x05, 0x00, ...ed.subarray(9)]);
    assert.match(refusal(checkSpkiPolicy(withNull)), /RFC 8410 §3 says MUST be absent/);
    assert.match(refusal(checkSpkiPolicy(spkiOf(generateKeyPairSync('x25519').publicKey))), /key algorithm X25519 is not accepted/);
    assert.match(refusal(checkSpkiPolicy(spkiOf(generateKeyPairSync('ed448').publicKey))), /key algorithm Ed448 is not accepted/);
  });

  it('refuses RSA keys by the rule they break, naming BR §6.1.5 / §6.1.6 / §6.1.1.3', () => {
    const n = bytesToBigInt(Buffer.from(RSA_2048.export({ format: 'der', type: 'pkcs1' })).subarray(8, 8 + 257));
    assert.equal(n.toString(2).length, 2048, 'modulus read from the PKCS#1 DER');
    assert.ok(checkSpkiPolicy(rsaSpki(n, 65537n)).ok);
    assert.match(
      refusal(checkSpkiPolicy(spkiOf(generateKeyPairSync('rsa', { modulusLength: 1024 }).publicKey))),
      /^RSA modulus of 1024 bits is not accepted: .*\(CA\/Browser Forum BR §6\.1\.5\)$/,
    );
    assert.match(refusal(checkSpkiPolicy(rsaSpki(n >> 1n, 65537n))), /RSA modulus of 2047 bits is not accepted/);
    // Past 4096 bits the refusal comes from the encoding's length, before any arithmetic.
    assert.match(refusal(checkSpkiPolicy(rsaSpki((1n << 8191n) | 1n, 65537n))), /RSA modulus of 8192 bits is not accepted/);
    assert.match(refusal(checkSpkiPolicy(rsaSpki(n, 3n))), /^RSA public exponent 3 is below 65537 \(CA\/Browser Forum BR §6\.1\.6\)$/);
    assert.match(refusal(checkSpkiPolicy(rsaSpki(n, 1n))), /^RSA public exponent 1 is below 65537/);
    assert.match(refusal(checkSpkiPolicy(rsaSpki(n, 65536n))), /^RSA public exponent 65536 is even/);
    assert.match(refusal(checkSpkiPolicy(rsaSpki(n, (1n << 256n) + 1n))), /RSA public exponent is 2\^256 or more/);
    assert.ok(checkSpkiPolicy(rsaSpki(n, (1n << 255n) + 1n)).ok, 'an exponent just below 2^256 is fine');
    assert.match(
      refusal(checkSpkiPolicy(rsaSpki(smallFactorModulus(751n), 65537n))),
      /^RSA modulus is divisible by the small prime \d+ \(CA\/Browser Forum BR §6\.1\.6: no factors smaller than 752\)$/,
    );
    assert.match(refusal(checkSpkiPolicy(rsaSpki(n - 1n, 65537n))), /divisible by the small prime 2 /);
  });

  it('refuses RSA keys whose primes are too close (Fermat) and keys with the ROCA fingerprint', () => {
    assert.match(
      refusal(checkSpkiPolicy(rsaSpki(closePrimesModulus(), 65537n))),
      /^RSA modulus factors by Fermat's method within 110 rounds: its primes are too close together \(CA\/Browser Forum BR §6\.1\.1\.3\)$/,
    );
    assert.match(refusal(checkSpkiPolicy(rsaSpki(rocaModulus(), 65537n))), /^RSA modulus has the ROCA fingerprint \(CVE-2017-15361\)/);
  });

  it('refuses real exponent-1 and exponent-3 keys (their CSR signatures verify; only the policy stops them)', () => {
    for (const key of [rsaExponent1Key(), rsaExponent3Key()]) {
      assert.match(refusal(checkSpkiPolicy(key.spki)), new RegExp(`^RSA public exponent ${key.exponent} is below 65537`));
    }
  });

  it('refuses rsaEncryption without NULL parameters (RFC 3279 §2.3.1), trailing bytes and unused bits', () => {
    const withoutNull = Uint8Array.from([
      0x30,
      0x82,
      0x01,
      0x20,
      0x30,
      0x0b,
      0x06,
      0x09,
      ...RSA_2048_SPKI.subarray(8, 17),
      ...RSA_2048_SPKI.subarray(19),
    ]);
    assert.match(refusal(checkSpkiPolicy(withoutNull)), /rsaEncryption key parameters must be NULL \(RFC 3279 §2\.3\.1\)/);
    assert.match(refusal(checkSpkiPolicy(Uint8Array.from([...P256_SPKI, 0]))), /not a DER SubjectPublicKeyInfo/);
    const unusedBits = Uint8Array.from(P256_SPKI);
    unusedBits[P256_SPKI.length - 66] = 1;
    assert.match(refusal(checkSpkiPolicy(unusedBits)), /unused bits/);
    assert.match(refusal(checkSpkiPolicy(new Uint8Array(5000))), /at most|1 to 4096 bytes/);
  });
});

describe('checkJwkPolicy (ACME account keys)', () => {
  const real = pointOf(P256_SPKI, 32);
  const b64 = (bytes: Uint8Array): string => Buffer.from(bytes).toString('base64url');

  it('accepts a P-256 JWK built from a real point, and an Ed25519 one', () => {
    assert.equal(kindOf(checkJwkPolicy({ kty: 'EC', crv: 'P-256', x: b64(real.subarray(1, 33)), y: b64(real.subarray(33)) })), 'ec P-256');
    const ed = spkiOf(generateKeyPairSync('ed25519').publicKey).subarray(12);
    assert.equal(kindOf(checkJwkPolicy({ kty: 'OKP', crv: 'Ed25519', x: b64(ed) })), 'ed25519');
  });

  it('refuses (0, 0), off-curve points, wrong lengths and curves outside the policy', () => {
    const zero = b64(new Uint8Array(32));
    assert.match(refusal(checkJwkPolicy({ kty: 'EC', crv: 'P-256', x: zero, y: zero })), /point at infinity/);
    assert.match(
      refusal(checkJwkPolicy({ kty: 'EC', crv: 'P-256', x: b64(real.subarray(1, 33)), y: b64(offCurvePoint(real).subarray(33)) })),
      /not on the curve/,
    );
    assert.match(
      refusal(checkJwkPolicy({ kty: 'EC', crv: 'P-256', x: b64(real.subarray(1, 32)), y: b64(real.subarray(33)) })),
      /31 and 32 octets/,
    );
    assert.match(refusal(checkJwkPolicy({ kty: 'EC', crv: 'P-521', x: zero, y: zero })), /EC curve P-521 is not accepted/);
    assert.match(refusal(checkJwkPolicy({ kty: 'EC', crv: 'secp256k1', x: zero, y: zero })), /EC curve secp256k1 is not accepted/);
    assert.match(refusal(checkJwkPolicy({ kty: 'OKP', crv: 'X25519', x: zero })), /OKP JWK curve X25519 is not accepted/);
  });

  it('refuses RSA JWKs with exponent 3, a short modulus or leading zero octets (RFC 7518 §6.3.1.1)', () => {
    const n = bigIntToBytes(topPrime(1024) * topPrime(1024));
    assert.match(refusal(checkJwkPolicy({ kty: 'RSA', n: b64(n), e: 'Aw' })), /RSA public exponent 3 is below 65537/);
    // The low half of n, its top bit set: a 1024-bit modulus (a random low octet of zero would be refused as padding instead).
    const short = n.slice(128);
    short[0] = (short[0] ?? 0) | 0x80;
    assert.match(refusal(checkJwkPolicy({ kty: 'RSA', n: b64(short), e: 'AQAB' })), /RSA modulus of 1024 bits is not accepted/);
    assert.match(refusal(checkJwkPolicy({ kty: 'RSA', n: b64(Uint8Array.from([0, ...n])), e: 'AQAB' })), /leading zero octets/);
    assert.ok(checkJwkPolicy({ kty: 'RSA', n: b64(n), e: 'AQAB' }).ok);
  });
});

describe('RSA arithmetic', () => {
  it('integerSquareRoot is floor(√n) for small, square and 2048-bit values', () => {
    for (const n of [0n, 1n, 2n, 3n, 4n, 15n, 16n, 17n, (1n << 104n) - 1n, 1n << 104n]) {
      const r = integerSquareRoot(n);
      assert.ok(r * r <= n && (r + 1n) * (r + 1n) > n, n.toString());
    }
    const p = topPrime(1024);
    assert.equal(integerSquareRoot(p * p), p);
    assert.equal(integerSquareRoot(p * p - 1n), p - 1n);
    assert.equal(integerSquareRoot(p * p + 2n * p), p);
  });

  it('fermatFactors finds neighbouring primes and a square, and not independent primes', () => {
    assert.equal(fermatFactors(closePrimesModulus(), 110), true);
    const p = topPrime(1024);
    assert.equal(fermatFactors(p * p, 110), true);
    assert.equal(fermatFactors(topPrime(1024) * topPrime(1024), 110), false);
  });

  it('the ROCA discriminator matches moduli of ROCA-form primes and not node:crypto keys', () => {
    assert.equal(hasRocaFingerprintModulus(rocaModulus()), true);
    const n = bytesToBigInt(Buffer.from(RSA_2048.export({ format: 'der', type: 'pkcs1' })).subarray(8, 8 + 257));
    assert.equal(hasRocaFingerprintModulus(n), false);
    assert.equal(rsaKeyProblem(n, 65537n), undefined);
  });
});

function kindOf(verdict: KeyVerdict): string {
  if (!verdict.ok) return `refused: ${verdict.problem}`;
  const key = verdict.key;
  return key.kind === 'ec' ? `ec ${key.curve}` : key.kind === 'rsa' ? `rsa ${key.modulusLength}` : key.kind;
}
