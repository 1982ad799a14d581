import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, createPrivateKey } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { decodeProtectedHeader, importJWK, jwtVerify } from 'jose';
import { JwtAuthority, jwtSigningKeyPath } from '../../../src/ca/index.js';
import { tempDir } from './helpers.js';

/** The JWT-SVID signing key on disk, and JWTs checked by jose's own verifier against the published JWK. */

let dir: ReturnType<typeof tempDir>;

before(() => {
  dir = tempDir('jwt-authority');
});

after(() => dir.remove());

/** A data directory whose CA directory exists, as initCertificateAuthority leaves it. */
function dataDir(name: string): string {
  const path = join(dir.path, name);
  mkdirSync(join(path, 'ca'), { recursive: true, mode: 0o700 });
  return path;
}

/** RFC 7638 §3.2-3.3: SHA-256 over the required members in lexicographic order, no whitespace, base64url. */
function thumbprint(jwk: { crv: string; kty: string; x: string; y: string }): string {
  const canonical = `{"crv":"${jwk.crv}","kty":"${jwk.kty}","x":"${jwk.x}","y":"${jwk.y}"}`;
  return createHash('sha256').update(canonical).digest('base64url');
}

describe('JwtAuthority', () => {
  it('creates a P-256 PKCS#8 key file with mode 0600 and no staging file left behind', async () => {
    const data = dataDir('create');
    await JwtAuthority.loadOrCreate({ dataDir: data });
    const path = jwtSigningKeyPath(data);
    assert.equal(path, join(data, 'ca', 'jwt-signing-key.pem'));
    assert.equal(statSync(path).mode & 0o777, 0o600);
    const pem = readFileSync(path, 'utf8');
    assert.match(pem, /^-----BEGIN PRIVATE KEY-----/);
    const key = createPrivateKey(pem);
    assert.equal(key.asymmetricKeyType, 'ec');
    assert.equal(key.asymmetricKeyDetails?.namedCurve, 'prime256v1');
    assert.deepEqual(readdirSync(join(data, 'ca')), ['jwt-signing-key.pem']);
  });

  it('publishes the public key only, with use jwt-svid and the RFC 7638 thumbprint as kid', async () => {
    const authority = await JwtAuthority.loadOrCreate({ dataDir: dataDir('jwk') });
    const jwk = authority.publicJwk();
    assert.deepEqual(Object.keys(jwk).sort(), ['crv', 'kid', 'kty', 'use', 'x', 'y']);
    assert.equal(jwk.kty, 'EC');
    assert.equal(jwk.crv, 'P-256');
    assert.equal(jwk.use, 'jwt-svid');
    assert.equal(jwk.kid, thumbprint(jwk));
    assert.equal(authority.kid, jwk.kid);
  });

  it('loads the same key again: the kid is stable across restarts', async () => {
    const data = dataDir('reload');
    const first = await JwtAuthority.loadOrCreate({ dataDir: data });
    const before = readFileSync(jwtSigningKeyPath(data), 'utf8');
    const second = await JwtAuthority.loadOrCreate({ dataDir: data });
    assert.equal(second.kid, first.kid);
    assert.deepEqual(second.publicJwk(), first.publicJwk());
    assert.equal(readFileSync(jwtSigningKeyPath(data), 'utf8'), before);
  });

  it('signs an ES256 JWT (header alg, kid, typ) that jose verifies against the published JWK', async () => {
    const authority = await JwtAuthority.loadOrCreate({ dataDir: dataDir('sign') });
    const iat = Math.floor(Date.now() / 1000);
    const token = await authority.sign({ sub: 'spiffe://example.org/web', aud: ['https://api.example.org', 'other'], iat, exp: iat + 300 });
    assert.deepEqual(decodeProtectedHeader(token), { alg: 'ES256', kid: authority.kid, typ: 'JWT' });
    const key = await importJWK(authority.publicJwk(), 'ES256');
    const { payload, protectedHeader } = await jwtVerify(token, key, {
      audience: 'https://api.example.org',
      algorithms: ['ES256'],
      typ: 'JWT',
    });
    assert.equal(protectedHeader.kid, authority.kid);
    assert.deepEqual(payload, { sub: 'spiffe://example.org/web', aud: ['https://api.example.org', 'other'], iat, exp: iat + 300 });
  });

  it('produces tokens that fail verification once a payload byte changes, or under another authority key', async () => {
    const authority = await JwtAuthority.loadOrCreate({ dataDir: dataDir('tamper') });
    const other = await JwtAuthority.loadOrCreate({ dataDir: dataDir('tamper-other') });
    const iat = Math.floor(Date.now() / 1000);
    const token = await authority.sign({ sub: 'spiffe://example.org/web', aud: ['a'], iat, exp: iat + 60 });
    const [header, payload, signature] = token.split('.');
    assert.ok(header !== undefined && payload !== undefined && signature !== undefined);
    const forged = Buffer.from(JSON.stringify({ sub: 'spiffe://example.org/admin/root', aud: ['a'], iat, exp: iat + 60 })).toString(
      'base64url',
    );
    const key = await importJWK(authority.publicJwk(), 'ES256');
    await assert.rejects(jwtVerify(`${header}.${forged}.${signature}`, key), { code: 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED' });
    await assert.rejects(jwtVerify(token, await importJWK(other.publicJwk(), 'ES256')), { code: 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED' });
  });

  it('refuses claims without an audience or with exp not after iat', async () => {
    const authority = await JwtAuthority.loadOrCreate({ dataDir: dataDir('claims') });
    await assert.rejects(authority.sign({ sub: 'spiffe://example.org/web', aud: [], iat: 10, exp: 20 }), /audience/);
    await assert.rejects(authority.sign({ sub: 'spiffe://example.org/web', aud: ['a'], iat: 20, exp: 20 }), /exp after iat/);
  });

  it('encrypts the key with a passphrase and will not load it without one', async () => {
    const data = dataDir('passphrase');
    const first = await JwtAuthority.loadOrCreate({ dataDir: data, passphrase: 'correct horse' });
    assert.match(readFileSync(jwtSigningKeyPath(data), 'utf8'), /^-----BEGIN ENCRYPTED PRIVATE KEY-----/);
    const again = await JwtAuthority.loadOrCreate({ dataDir: data, passphrase: 'correct horse' });
    assert.equal(again.kid, first.kid);
    await assert.rejects(JwtAuthority.loadOrCreate({ dataDir: data }), /is encrypted/);
    await assert.rejects(JwtAuthority.loadOrCreate({ dataDir: data, passphrase: 'wrong' }), /cannot decrypt/);
  });

  it('tightens a key file readable by others back to 0600 and warns', async () => {
    const data = dataDir('mode');
    await JwtAuthority.loadOrCreate({ dataDir: data });
    chmodSync(jwtSigningKeyPath(data), 0o644);
    const warnings: string[] = [];
    await JwtAuthority.loadOrCreate({ dataDir: data, onWarning: (message) => warnings.push(message) });
    assert.equal(statSync(jwtSigningKeyPath(data)).mode & 0o777, 0o600);
    assert.equal(warnings.length, 1);
    assert.match(warnings[0] ?? '', /had mode 0644/);
  });

  it('refuses to run before the CA exists, and creates nothing', async () => {
    const data = join(dir.path, 'no-ca');
    await assert.rejects(JwtAuthority.loadOrCreate({ dataDir: data }), /no CA in/);
    assert.equal(existsSync(join(data, 'ca')), false);
  });
});
