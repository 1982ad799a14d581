import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createPrivateKey, generateKeyPairSync } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { CertificateError, ChainVerifier, describeCertificate, parsePemCertificates, type RefusalAlert } from '../../../src/pkix/index.js';
import { certificateDer, ecSpki, infinitySpki, OIDS, offCurvePoint } from '../../helpers/hostile-keys.js';

/**
 * Certificates whose key is malformed, signed by the fixture CA, so that
 * they pass every chain check but the key: the verifier must answer
 * bad_certificate before node:crypto loads the key (an EC point at infinity
 * aborts Node natively once its details are read). Run in
 * process on purpose: an abort here ends the test run, which fails it.
 */

const FIXTURES = join(process.cwd(), 'test', 'fixtures');
const [CA_DER] = parsePemCertificates(readFileSync(join(FIXTURES, 'ca.pem'), 'utf8'));
const CA_KEY = createPrivateKey(readFileSync(join(FIXTURES, 'ca.key'), 'utf8'));
assert.ok(CA_DER !== undefined);

function issued(spki: Uint8Array): Uint8Array {
  return certificateDer(spki, new Uint8Array(CA_DER ?? []), CA_KEY);
}

function verifier(): ChainVerifier {
  return new ChainVerifier({ ca: [new Uint8Array(CA_DER ?? [])] });
}

function assertAlert(fn: () => unknown, alert: RefusalAlert, message: RegExp): void {
  assert.throws(fn, (error: unknown) => {
    assert.ok(error instanceof CertificateError, `expected CertificateError, got ${String(error)}`);
    assert.equal(error.alert, alert, error.message);
    assert.match(error.message, message);
    return true;
  });
}

const P256_SPKI = new Uint8Array(generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).publicKey.export({ type: 'spki', format: 'der' }));

describe('ChainVerifier: certificates with hostile keys', () => {
  it('verifies a well-formed P-256 leaf made the same way (the control: only the key differs below)', () => {
    const chain = verifier().verify([issued(P256_SPKI)], { role: 'client' });
    assert.equal(chain.leafPublicKey.asymmetricKeyType, 'ec');
  });

  it('sends bad_certificate for an EC point at infinity on P-256, P-384, P-521 and secp256k1 (SP 800-56A §5.6.2.3.3)', () => {
    for (const [oid, name] of [
      [OIDS.p256, 'P-256'],
      [OIDS.p384, 'P-384'],
      [OIDS.p521, 'P-521'],
      [OIDS.secp256k1, 'secp256k1'],
    ] as const) {
      assertAlert(
        () => verifier().verify([issued(infinitySpki(oid))], { role: 'client' }),
        'bad_certificate',
        new RegExp(`malformed certificate: ${name} public key is the point at infinity`),
      );
    }
  });

  it('sends bad_certificate for an off-curve, a compressed and a short P-256 point', () => {
    const point = P256_SPKI.subarray(P256_SPKI.length - 65);
    assertAlert(
      () => verifier().verify([issued(ecSpki(OIDS.p256, offCurvePoint(point)))], { role: 'client' }),
      'bad_certificate',
      /point is not on the curve/,
    );
    assertAlert(
      () => verifier().verify([issued(ecSpki(OIDS.p256, Uint8Array.from([2, ...point.subarray(1, 33)])))], { role: 'client' }),
      'bad_certificate',
      /compressed point/,
    );
    assertAlert(
      () => verifier().verify([issued(ecSpki(OIDS.p256, point.subarray(0, 40)))], { role: 'client' }),
      'bad_certificate',
      /40 octets/,
    );
  });

  it('never loads a key on a curve it cannot check: a brainpool point at infinity is unsupported_certificate', () => {
    assertAlert(
      () => verifier().verify([issued(infinitySpki('1.3.36.3.3.2.8.1.1.7'))], { role: 'client' }),
      'unsupported_certificate',
      /cannot sign TLS 1\.3 CertificateVerify/,
    );
  });

  it('refuses the same certificates when only described (a tls-alpn-01 responder, a resumed identity)', () => {
    assertAlert(() => describeCertificate(issued(infinitySpki(OIDS.p256))), 'bad_certificate', /point at infinity/);
  });
});
