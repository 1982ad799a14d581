import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { decodeJwsBody } from '../../../src/acme/jws.js';
import { AcmeProblemError } from '../../../src/acme/problems.js';

/**
 * The hand-written shape checks of a request body (src/acme/jws-shape.ts),
 * which replaced two zod schemas: each rule they held, one input each.
 */

const b64 = (text: string): string => Buffer.from(text).toString('base64url');
const HEADER = { alg: 'ES256', nonce: 'n', url: 'https://x/acme/new-order', kid: 'https://x/acme/account/a' };

function body(jws: unknown): Buffer {
  return Buffer.from(typeof jws === 'string' ? jws : JSON.stringify(jws));
}

function jwsWith(header: unknown, extra: Record<string, unknown> = {}): Buffer {
  return body({ protected: b64(JSON.stringify(header)), payload: b64('{}'), signature: 'AAAA', ...extra });
}

/** The problem's detail, asserting it is malformed. */
function malformed(input: Buffer): string {
  try {
    decodeJwsBody('application/jose+json', input);
  } catch (error) {
    assert.ok(error instanceof AcmeProblemError, String(error));
    assert.equal(error.type, 'malformed');
    return error.detail;
  }
  assert.fail('accepted');
}

describe('JWS body shape (RFC 7515 §7.2.2, RFC 8555 §6.2)', () => {
  it('accepts a flattened JWS and keeps the header members ACME reads, dropping unknown ones', () => {
    const decoded = decodeJwsBody('application/jose+json', jwsWith({ ...HEADER, jwk: { kty: 'EC' }, other: 1 }));
    assert.deepEqual(decoded.header, { ...HEADER, jwk: { kty: 'EC' } });
    assert.equal(decoded.alg, 'ES256');
    assert.equal(decoded.jws.payload, b64('{}'));
    // POST-as-GET: an empty payload is allowed.
    assert.equal(decodeJwsBody('application/jose+json', jwsWith(HEADER, { payload: '' })).jws.payload, '');
  });

  it('refuses bodies that are not a JSON object of exactly protected, payload and signature', () => {
    assert.match(malformed(body('not json')), /not JSON$/);
    assert.match(malformed(body([1])), /\(root\) must be an object$/);
    assert.match(malformed(body('null')), /\(root\) must be an object$/);
    assert.match(malformed(jwsWith(HEADER, { header: {} })), /unknown member "header"$/);
    assert.match(malformed(body({ payload: '', signature: 'AAAA' })), /protected must be a string$/);
    assert.match(malformed(body({ protected: b64('{}'), payload: 1, signature: 'AAAA' })), /payload must be a string$/);
    assert.match(malformed(jwsWith(HEADER, { signature: '' })), /signature must not be empty$/);
    assert.match(malformed(jwsWith(HEADER, { signature: 'AAAA=' })), /signature must be base64url without padding$/);
    assert.match(malformed(jwsWith(HEADER, { payload: 'A+/A' })), /payload must be base64url without padding$/);
    // 4n+1 characters encode no bytes.
    assert.match(malformed(jwsWith(HEADER, { signature: 'AAAAA' })), /signature must be base64url without padding$/);
  });

  it('refuses protected headers without alg or url, or with members of the wrong type or length', () => {
    assert.match(
      malformed(body({ protected: b64('[]'), payload: '', signature: 'AAAA' })),
      /protected header .*\(root\) must be an object$/,
    );
    assert.match(malformed(body({ protected: b64('{'), payload: '', signature: 'AAAA' })), /protected header .*not JSON$/);
    assert.match(malformed(jwsWith({ url: HEADER.url })), /alg is required$/);
    assert.match(malformed(jwsWith({ alg: 'ES256' })), /url is required$/);
    assert.match(malformed(jwsWith({ ...HEADER, alg: 'A'.repeat(33) })), /alg must be 1-32 characters$/);
    assert.match(malformed(jwsWith({ ...HEADER, url: '' })), /url must be 1-2048 characters$/);
    assert.match(malformed(jwsWith({ ...HEADER, nonce: 5 })), /nonce must be a string$/);
    assert.match(malformed(jwsWith({ ...HEADER, nonce: 'n'.repeat(257) })), /nonce must be 0-256 characters$/);
    assert.match(malformed(jwsWith({ ...HEADER, kid: '' })), /kid must be 1-2048 characters$/);
    assert.match(malformed(jwsWith({ ...HEADER, jwk: [] })), /jwk must be an object$/);
    assert.match(malformed(jwsWith({ ...HEADER, jwk: null })), /jwk must be an object$/);
    // A JSON null is not an absent member.
    assert.match(malformed(jwsWith({ ...HEADER, nonce: null })), /nonce must be a string$/);
  });
});
