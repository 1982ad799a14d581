import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, createPublicKey, generateKeyPairSync, verify } from 'node:crypto';
import { SignatureScheme } from '../../../../src/tls/codec/enums.js';
import { schemeFitsKey, schemeFitsKey12, signWithScheme, TLS12_SCHEMES, verifyWithScheme } from '../../../../src/tls/crypto/signatures.js';
import { HandshakeLog12 } from '../../../../src/tls/keyschedule/handshake-log12.js';
import { nodeCryptoProvider } from '../../../../src/tls/crypto/node-provider.js';

const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
const p384 = generateKeyPairSync('ec', { namedCurve: 'secp384r1' });

describe('TLS 1.2 signature schemes (RFC 5246 §7.4.1.4.1)', () => {
  it('signs rsa_pkcs1_sha256 as PKCS#1 v1.5 over SHA-256, which node:crypto verifies independently', () => {
    const data = Buffer.from('client_random || server_random || params');
    const signature = signWithScheme(SignatureScheme.rsa_pkcs1_sha256, rsa.privateKey, data);
    assert.equal(verify('sha256', data, createPublicKey(rsa.privateKey), signature), true);
    assert.equal(verifyWithScheme(SignatureScheme.rsa_pkcs1_sha256, rsa.publicKey, data, signature), true);
    assert.equal(verifyWithScheme(SignatureScheme.rsa_pkcs1_sha384, rsa.publicKey, data, signature), false);
  });

  it('lists no SHA-1 scheme and prefers RSA-PSS to PKCS#1', () => {
    for (const sha1 of [0x0201, 0x0203]) assert.equal(TLS12_SCHEMES.includes(sha1), false);
    assert.ok(TLS12_SCHEMES.indexOf(SignatureScheme.rsa_pss_rsae_sha256) < TLS12_SCHEMES.indexOf(SignatureScheme.rsa_pkcs1_sha256));
  });

  it('in TLS 1.2 an ECDSA scheme names the hash only (any curve fits); TLS 1.3 still binds the curve', () => {
    assert.equal(schemeFitsKey12(SignatureScheme.ecdsa_secp256r1_sha256, p384.publicKey), true);
    assert.equal(schemeFitsKey(SignatureScheme.ecdsa_secp256r1_sha256, p384.publicKey), false);
    assert.equal(schemeFitsKey12(SignatureScheme.rsa_pkcs1_sha256, p384.publicKey), false);
    assert.equal(schemeFitsKey12(SignatureScheme.rsa_pkcs1_sha256, rsa.publicKey), true);
    assert.equal(schemeFitsKey12(0x0201, rsa.publicKey), false);
  });

  it('HandshakeLog12 keeps the messages for CertificateVerify and hashes them for Finished', () => {
    const log = new HandshakeLog12(nodeCryptoProvider);
    log.add(Buffer.from('0100', 'hex'));
    log.add(Buffer.from('0200', 'hex'));
    assert.equal(log.bytes().toString('hex'), '01000200');
    assert.equal(log.hash('sha384').toString('hex'), createHash('sha384').update(Buffer.from('01000200', 'hex')).digest('hex'));
  });
});
