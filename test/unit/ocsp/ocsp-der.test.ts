import '../../helpers/fast-check-seed.js';
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync, verify, X509Certificate } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { ecdsaSigner } from '../../../src/ca/ocsp-signer.js';
import { isDomainError } from '../../../src/shared/errors.js';
import {
  decodeOcspRequest,
  describeCrl,
  describeOcspResponse,
  crlIssuerOf,
  encodeCrl,
  encodeOcspRequest,
  encodeOcspResponse,
  encodeOcspStatusResponse,
  fromPem,
  issuerFromCertificate,
  ocspIssuerHashes,
  responderKeyHash,
  type OcspSigningIdentity,
} from '../../../src/x509/index.js';
import { openssl } from '../ca/helpers.js';
import { ocspStack, type OcspStack } from './helpers.js';

/**
 * The OCSP and CRL codecs (src/x509/ocsp-der.ts, crl.ts). Requests are
 * checked against bytes `openssl ocsp -reqout` (OpenSSL 3.0) wrote for the
 * committed test fixtures, never against bytes our encoder made; responses
 * and CRLs are read back, verified with node:crypto, and (in
 * test/interop/ocsp.test.ts) by openssl.
 */

const FIXTURES = fileURLToPath(new URL('../../../../test/fixtures/', import.meta.url));
const fixtureDer = (name: string): Uint8Array => fromPem(readFileSync(`${FIXTURES}${name}`, 'utf8'));

// openssl ocsp -issuer intermediate.pem -cert client.pem -no_nonce -reqout: one SHA-1 CertID.
const OPENSSL_SHA1 = Buffer.from(
  '30523050304e304c304a300906052b0e03021a05000414db18c0389f4c2c3048610459aae5c0e4891c3516041463346e2d365bbc46d2bff8ee53b33a7e880346ef0211008710f1206b2deffc76502c94ffd7768f',
  'hex',
);
// The same with -nonce: a 16-octet nonce in requestExtensions, as RFC 9654 §2.1 shapes it (OCTET STRING in the extnValue).
const OPENSSL_NONCE = Buffer.from(
  '30773075304e304c304a300906052b0e03021a05000414db18c0389f4c2c3048610459aae5c0e4891c3516041463346e2d365bbc46d2bff8ee53b33a7e880346ef0211008710f1206b2deffc76502c94ffd7768fa2233021301f06092b0601050507300102041204103ba1cccf4245cf67cfdfb50462511d47',
  'hex',
);
// -sha256 -cert client.pem -cert server.pem -no_nonce: two SHA-256 CertIDs.
const OPENSSL_SHA256_TWO = Buffer.from(
  '3081da3081d73081d430683066300d0609608648016503040201050004207338ffdc3b805d2d30f5ac08a6b2fd19c48753813eb5088df9d4a1840b927a2c0420fee5af1cb2eac6d172c28bd7272e33db7cda511fc2715d6739c26d352c67ce460211008710f1206b2deffc76502c94ffd7768f30683066300d0609608648016503040201050004207338ffdc3b805d2d30f5ac08a6b2fd19c48753813eb5088df9d4a1840b927a2c0420fee5af1cb2eac6d172c28bd7272e33db7cda511fc2715d6739c26d352c67ce460211009a3c74d3434fa4fcc71fee5d17994ad6',
  'hex',
);

function assertMalformed(fn: () => unknown): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(isDomainError(err, 'malformed'), `expected DomainError malformed, got ${String(err)}`);
    return true;
  });
}

describe('decodeOcspRequest (RFC 6960 §4.1.1)', () => {
  it('reads a SHA-1 CertID as openssl writes it, serial in ledger form', () => {
    const decoded = decodeOcspRequest(OPENSSL_SHA1);
    assert.equal(decoded.certIds.length, 1);
    const [id] = decoded.certIds;
    assert.equal(id?.hashAlgorithm, 'sha1');
    assert.equal(id?.serial, '8710f1206b2deffc76502c94ffd7768f');
    assert.equal(decoded.nonce, undefined);
    // The CertID re-encodes to the bytes openssl sent (offset 8 .. end).
    assert.deepEqual(Buffer.from(id?.der ?? []), OPENSSL_SHA1.subarray(8));
  });

  it('matches the issuer hashes of the fixture intermediate under SHA-1 and SHA-256', () => {
    const issuer = fixtureDer('intermediate.pem');
    const sha1 = ocspIssuerHashes(issuer, 'sha1');
    const [id] = decodeOcspRequest(OPENSSL_SHA1).certIds;
    assert.deepEqual(Buffer.from(sha1.nameHash), Buffer.from(id?.issuerNameHash ?? []));
    assert.deepEqual(Buffer.from(sha1.keyHash), Buffer.from(id?.issuerKeyHash ?? []));
    const sha256 = ocspIssuerHashes(issuer, 'sha256');
    for (const certId of decodeOcspRequest(OPENSSL_SHA256_TWO).certIds) {
      assert.equal(certId.hashAlgorithm, 'sha256');
      assert.deepEqual(Buffer.from(sha256.nameHash), Buffer.from(certId.issuerNameHash));
      assert.deepEqual(Buffer.from(sha256.keyHash), Buffer.from(certId.issuerKeyHash));
    }
  });

  it('reads several CertIDs in order', () => {
    const serials = decodeOcspRequest(OPENSSL_SHA256_TWO).certIds.map((c) => c.serial);
    assert.deepEqual(serials, ['8710f1206b2deffc76502c94ffd7768f', '9a3c74d3434fa4fcc71fee5d17994ad6']);
  });

  it('returns the octets of an RFC 9654 nonce', () => {
    assert.equal(Buffer.from(decodeOcspRequest(OPENSSL_NONCE).nonce ?? []).toString('hex'), '3ba1cccf4245cf67cfdfb50462511d47');
  });

  it('round-trips what encodeOcspRequest writes, with and without a nonce', () => {
    const target = { certificateDer: fixtureDer('client.pem'), issuerDer: fixtureDer('intermediate.pem') };
    assert.deepEqual(Buffer.from(encodeOcspRequest([target])), OPENSSL_SHA1);
    const nonce = Buffer.from('3ba1cccf4245cf67cfdfb50462511d47', 'hex');
    assert.deepEqual(Buffer.from(encodeOcspRequest([target], nonce)), OPENSSL_NONCE);
  });

  it('refuses every strict prefix (truncated bodies)', () => {
    for (const request of [OPENSSL_SHA1, OPENSSL_NONCE, OPENSSL_SHA256_TWO]) {
      for (let length = 0; length < request.length; length++) assertMalformed(() => decodeOcspRequest(request.subarray(0, length)));
    }
  });

  it('refuses trailing bytes after the request', () => {
    assertMalformed(() => decodeOcspRequest(Buffer.concat([OPENSSL_SHA1, Buffer.of(0)])));
    assertMalformed(() => decodeOcspRequest(Buffer.concat([OPENSSL_SHA1, OPENSSL_SHA1])));
  });

  it('refuses a request with an empty requestList, and two nonces', () => {
    assertMalformed(() => decodeOcspRequest(Buffer.from('3004300230' + '00', 'hex')));
    const twice = Buffer.from(OPENSSL_NONCE);
    // Replace the one-extension list by two copies of the nonce extension (lengths patched by hand).
    const extension = OPENSSL_NONCE.subarray(OPENSSL_NONCE.length - 33);
    const list = Buffer.concat([Buffer.of(0xa2, 0x44, 0x30, 0x42), extension, extension]);
    const tbs = Buffer.concat([twice.subarray(4, 4 + 0x4e), list]);
    const request = Buffer.concat([Buffer.of(0x30, tbs.length + 2, 0x30, tbs.length), tbs]);
    assertMalformed(() => decodeOcspRequest(request));
  });

  it('refuses a nonce extension whose value is not an OCTET STRING', () => {
    const broken = Buffer.from(OPENSSL_NONCE);
    broken[broken.length - 18] = 0x02; // INTEGER instead of OCTET STRING inside extnValue
    assertMalformed(() => decodeOcspRequest(broken));
  });

  it('keeps an out-of-range serial as null instead of failing (answered unknown)', () => {
    const negative = Buffer.from(OPENSSL_SHA1);
    // 02 11 00 87...: drop the sign octet by turning it into a 17-octet negative number.
    negative[67] = 0xff;
    const [id] = decodeOcspRequest(negative).certIds;
    assert.equal(id?.serial, null);
  });

  it('throws nothing but DomainError(malformed) on random input', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 0, maxLength: 200 }), (bytes) => {
        try {
          decodeOcspRequest(bytes);
        } catch (err) {
          assert.ok(isDomainError(err, 'malformed'), String(err));
        }
      }),
      { numRuns: 500 },
    );
  });

  it('throws nothing but DomainError(malformed) on mutated openssl requests', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: OPENSSL_NONCE.length - 1 }), fc.integer({ min: 0, max: 255 }), (at, value) => {
        const mutated = Buffer.from(OPENSSL_NONCE);
        mutated[at] = value;
        try {
          decodeOcspRequest(mutated);
        } catch (err) {
          assert.ok(isDomainError(err, 'malformed'), String(err));
        }
      }),
      { numRuns: 500 },
    );
  });
});

describe('encodeOcspStatusResponse (RFC 6960 §4.2.1)', () => {
  it('is SEQUENCE { ENUMERATED status } with no responseBytes', () => {
    assert.equal(Buffer.from(encodeOcspStatusResponse('malformedRequest')).toString('hex'), '30030a0101');
    assert.equal(Buffer.from(encodeOcspStatusResponse('internalError')).toString('hex'), '30030a0102');
    assert.equal(Buffer.from(encodeOcspStatusResponse('tryLater')).toString('hex'), '30030a0103');
    assert.equal(Buffer.from(encodeOcspStatusResponse('unauthorized')).toString('hex'), '30030a0106');
  });
});

describe('encodeOcspResponse and describeOcspResponse', () => {
  let stack: OcspStack;
  before(async () => {
    stack = await ocspStack();
  });
  after(() => stack.close());

  function identity(): OcspSigningIdentity & { publicKey: X509Certificate['publicKey'] } {
    const der = stack.signer.certificateDer;
    assert.ok(der !== undefined);
    const keys = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    // A stand-in signer over a fresh key; the certificate is only carried, so a mismatch does not matter to the codec.
    return {
      certificateDer: der,
      keyHash: responderKeyHash(der),
      curve: 'P-256',
      sign: ecdsaSigner(keys.privateKey, 'P-256'),
      publicKey: keys.publicKey,
    };
  }

  it('signs the ResponseData bytes it carries, with the responder certificate and ResponderID byKey', () => {
    const signer = identity();
    const certId = decodeOcspRequest(OPENSSL_SHA1).certIds[0]?.der ?? new Uint8Array();
    const now = Date.parse('2030-05-01T10:00:00.750Z');
    const der = encodeOcspResponse(
      {
        producedAt: now,
        responses: [
          { certId, status: { kind: 'good' }, thisUpdate: now, nextUpdate: now + 3_600_000 },
          {
            certId,
            status: { kind: 'revoked', revokedAt: now - 5_000, reason: 'keyCompromise' },
            thisUpdate: now,
            nextUpdate: now + 60_000,
          },
          { certId, status: { kind: 'revoked', revokedAt: now - 5_000, reason: 'unspecified' }, thisUpdate: now, nextUpdate: now + 60_000 },
          { certId, status: { kind: 'unknown' }, thisUpdate: now, nextUpdate: now + 60_000 },
        ],
        nonce: Buffer.from('00112233', 'hex'),
      },
      signer,
    );
    const described = describeOcspResponse(der);
    assert.equal(described.status, 'successful');
    const basic = described.basic;
    assert.ok(basic !== undefined);
    assert.equal(basic.signatureAlgorithm, '1.2.840.10045.4.3.2');
    assert.ok(verify('sha256', basic.tbs, { key: signer.publicKey, dsaEncoding: 'der' }, basic.signature));
    assert.deepEqual(Buffer.from(basic.responderKeyHash ?? []), Buffer.from(signer.keyHash));
    assert.deepEqual(
      basic.certificates.map((c) => Buffer.from(c)),
      [Buffer.from(signer.certificateDer)],
    );
    assert.equal(Buffer.from(basic.nonce ?? []).toString('hex'), '00112233');
    // GeneralizedTime in whole seconds.
    assert.equal(basic.producedAt, Date.parse('2030-05-01T10:00:00Z'));
    assert.deepEqual(
      basic.responses.map((r) => r.status),
      [
        { kind: 'good' },
        { kind: 'revoked', revokedAt: now - 5_750, reason: 'keyCompromise' },
        // RFC 5280 §5.3.1: unspecified is left out, so it reads back as no reason.
        { kind: 'revoked', revokedAt: now - 5_750, reason: null },
        { kind: 'unknown' },
      ],
    );
    assert.equal(basic.responses[0]?.serial, '8710f1206b2deffc76502c94ffd7768f');
    assert.equal(basic.responses[0]?.nextUpdate, Date.parse('2030-05-01T11:00:00Z'));
  });

  it('refuses trailing bytes and truncation when reading a response back', () => {
    const der = encodeOcspStatusResponse('tryLater');
    assertMalformed(() => describeOcspResponse(Buffer.concat([der, Buffer.of(0)])));
    assertMalformed(() => describeOcspResponse(der.subarray(0, 3)));
    assert.equal(describeOcspResponse(der).status, 'tryLater');
  });
});

describe('encodeCrl and describeCrl (RFC 5280 §5)', () => {
  let stack: OcspStack;
  before(async () => {
    stack = await ocspStack();
  });
  after(() => stack.close());

  it('writes v2 with AKI and crlNumber, reason codes except unspecified, serials with a sign octet when needed, and verifies with the issuer key', () => {
    const { intermediate } = stack.material;
    const issuer = issuerFromCertificate(intermediate.certDer, intermediate.key);
    const thisUpdate = Date.parse('2030-01-01T00:00:00Z');
    const der = encodeCrl(
      {
        thisUpdate,
        nextUpdate: thisUpdate + 86_400_000,
        crlNumber: 1_893_456_000_000,
        entries: [
          { serial: '4a01', revokedAt: thisUpdate - 1_000, reason: 'keyCompromise' },
          { serial: '8710f1206b2deffc76502c94ffd7768f', revokedAt: thisUpdate - 2_000, reason: 'unspecified' },
        ],
      },
      { issuer: crlIssuerOf(issuer), sign: ecdsaSigner(intermediate.keyObject, issuer.curve) },
    );
    const crl = describeCrl(der);
    assert.equal(crl.crlNumber, 1_893_456_000_000);
    assert.equal(crl.thisUpdate, thisUpdate);
    assert.equal(crl.nextUpdate, thisUpdate + 86_400_000);
    assert.equal(crl.issuer, new X509Certificate(intermediate.certDer).subject.split('\n').join(', '));
    assert.equal(crl.authorityKeyId, Buffer.from(issuer.keyIdentifier).toString('hex'));
    assert.deepEqual(crl.entries, [
      { serial: '4a01', revokedAt: thisUpdate - 1_000, reason: 'keyCompromise' },
      { serial: '8710f1206b2deffc76502c94ffd7768f', revokedAt: thisUpdate - 2_000, reason: null },
    ]);
    assert.ok(verify('sha256', crl.tbs, { key: new X509Certificate(intermediate.certDer).publicKey, dsaEncoding: 'der' }, crl.signature));
    // The serial with the top bit set is written with a 00 sign octet (positive INTEGER).
    assert.ok(Buffer.from(der).includes(Buffer.from('0211008710f1206b2deffc76502c94ffd7768f', 'hex')));
  });

  it('leaves revokedCertificates out when nothing is revoked (RFC 5280 §5.1.2.6)', () => {
    const { intermediate } = stack.material;
    const issuer = issuerFromCertificate(intermediate.certDer, intermediate.key);
    const der = encodeCrl(
      { thisUpdate: 0, nextUpdate: 86_400_000, crlNumber: 1, entries: [] },
      { issuer: crlIssuerOf(issuer), sign: ecdsaSigner(intermediate.keyObject, issuer.curve) },
    );
    assert.deepEqual(describeCrl(der).entries, []);
    const file = join(stack.dir, 'empty.crl');
    writeFileSync(file, der);
    assert.match(openssl(['crl', '-inform', 'DER', '-in', file, '-noout', '-text']), /No Revoked Certificates\./);
  });
});
