import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { MAX_CERT_IDS, parseOcspRequest, requestFromGetPath } from '../../../src/ocsp/index.js';
import { isDomainError } from '../../../src/shared/errors.js';
import { encodeOcspRequest, fromPem } from '../../../src/x509/index.js';

const FIXTURES = fileURLToPath(new URL('../../../../test/fixtures/', import.meta.url));
const fixtureDer = (name: string): Uint8Array => fromPem(readFileSync(`${FIXTURES}${name}`, 'utf8'));
const target = { certificateDer: fixtureDer('client.pem'), issuerDer: fixtureDer('intermediate.pem') };

function assertMalformed(fn: () => unknown, detail?: RegExp): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(isDomainError(err, 'malformed'), `expected DomainError malformed, got ${String(err)}`);
    if (detail !== undefined) assert.match(err.detail, detail);
    return true;
  });
}

describe('requestFromGetPath (RFC 6960 Appendix A.1, RFC 5019 §5)', () => {
  const der = Buffer.from(encodeOcspRequest([target]));
  const base64 = der.toString('base64');

  it('decodes standard base64 as the router hands it over (percent-decoded)', () => {
    assert.deepEqual(Buffer.from(requestFromGetPath(base64)), der);
  });

  it('puts back a + that form-style decoding turned into a space', () => {
    const withPlus = Buffer.from([0xfb, 0xef, 0xbe]).toString('base64');
    assert.equal(withPlus, '++++');
    assert.deepEqual(Buffer.from(requestFromGetPath('    ')), Buffer.from([0xfb, 0xef, 0xbe]));
  });

  it('accepts the URL-safe alphabet, missing padding, and a leading slash from an AIA URL ending in /', () => {
    assert.deepEqual(Buffer.from(requestFromGetPath(der.toString('base64url'))), der);
    assert.deepEqual(Buffer.from(requestFromGetPath(`/${base64}`)), der);
  });

  it('refuses an empty path, non-base64 characters and over-long paths as malformed', () => {
    assertMalformed(() => requestFromGetPath(''), /needs a base64 request/);
    assertMalformed(() => requestFromGetPath('/'), /needs a base64 request/);
    assertMalformed(() => requestFromGetPath('MFIw@UDBO'), /not base64/);
    assertMalformed(() => requestFromGetPath('A'.repeat(9000)), /too long/);
  });
});

describe('parseOcspRequest: RFC 9654 nonce sizes and CertID bounds', () => {
  it('accepts nonces of 1 and 128 octets and returns them', () => {
    for (const length of [1, 16, 32, 128]) {
      const nonce = Buffer.alloc(length, 7);
      assert.deepEqual(Buffer.from(parseOcspRequest(encodeOcspRequest([target], nonce)).nonce ?? []), nonce);
    }
  });

  it('refuses an empty nonce and one of 129 octets with malformed (RFC 9654 §2.1)', () => {
    assertMalformed(() => parseOcspRequest(encodeOcspRequest([target], new Uint8Array(0))), /nonce has 0 octets/);
    assertMalformed(() => parseOcspRequest(encodeOcspRequest([target], new Uint8Array(129))), /nonce has 129 octets/);
  });

  it(`answers at most ${MAX_CERT_IDS} CertIDs in one request`, () => {
    assert.equal(parseOcspRequest(encodeOcspRequest(Array.from({ length: MAX_CERT_IDS }, () => target))).certIds.length, MAX_CERT_IDS);
    assertMalformed(() => parseOcspRequest(encodeOcspRequest(Array.from({ length: MAX_CERT_IDS + 1 }, () => target))), /at most/);
  });

  it('refuses garbage and truncated bodies', () => {
    const der = encodeOcspRequest([target]);
    assertMalformed(() => parseOcspRequest(Buffer.from('garbage')));
    assertMalformed(() => parseOcspRequest(der.subarray(0, der.length - 1)));
    assertMalformed(() => parseOcspRequest(new Uint8Array(0)));
  });
});
