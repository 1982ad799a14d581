import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { TlsAlertError } from '../../../../src/tls/alert.js';
import { CipherSuite } from '../../../../src/tls/codec/enums.js';
import { suiteInfo, type SuiteInfo } from '../../../../src/tls/crypto/suites.js';
import {
  BinderVerified,
  ChainVerified,
  FinishedVerified,
  SignatureVerified,
  verifyPeerChain,
  verifyPeerFinished,
  verifyPskBinder,
} from '../../../../src/tls/handshake/peer.js';
import { nodeCryptoProvider } from '../../../../src/tls/crypto/node-provider.js';
import { EarlySecret } from '../../../../src/tls/keyschedule/stages.js';
import { Rfc8448Trace } from '../../../helpers/vectors.js';

/**
 * The proof values the handshake states require (after rustls'
 * FinishedMessageVerified and friends): each comes only from its check, on
 * the RFC 8448 bytes, and a mismatch is the RFC's alert, never a proof.
 */

const s3 = Rfc8448Trace.load('rfc8448-simple-1rtt.txt');
const s4 = Rfc8448Trace.load('rfc8448-resumed-0rtt.txt');

function aes128(): SuiteInfo {
  const suite = suiteInfo(CipherSuite.TLS_AES_128_GCM_SHA256);
  if (suite === undefined) throw new Error('TLS_AES_128_GCM_SHA256 is not a known suite');
  return suite;
}

function sha256(...messages: Buffer[]): Buffer {
  const hash = createHash('sha256');
  for (const m of messages) hash.update(m);
  return hash.digest();
}

function alertOf(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    if (err instanceof TlsAlertError) return err.alert;
    throw err;
  }
  return 'no alert';
}

/** RFC 8448 §3: the server's Finished over ClientHello..CertificateVerify, under the server handshake traffic secret. */
const serverFinished = {
  baseKey: s3.bytes('{server}  calculate finished "tls13 finished"', 'PRK (32 octets)'),
  transcriptHash: sha256(
    s3.bytes('{client}  construct a ClientHello handshake message', 'ClientHello (196 octets)'),
    s3.bytes('{server}  construct a ServerHello handshake message', 'ServerHello (90 octets)'),
    s3.bytes('{server}  construct an EncryptedExtensions handshake message', 'EncryptedExtensions'),
    s3.bytes('{server}  construct a Certificate handshake message', 'Certificate'),
    s3.bytes('{server}  construct a CertificateVerify handshake message', 'CertificateVerify'),
  ),
  verifyData: s3.bytes('{server}  calculate finished "tls13 finished"', 'finished (32 octets)'),
};

describe('Handshake proof values (handshake/peer.ts)', () => {
  it('gives a FinishedVerified for the server Finished of RFC 8448 §3, naming the peer it checked', () => {
    const proof = verifyPeerFinished(
      nodeCryptoProvider,
      serverFinished.verifyData,
      aes128(),
      serverFinished.baseKey,
      serverFinished.transcriptHash,
      'server',
    );
    assert.ok(proof instanceof FinishedVerified);
    assert.equal(proof.peer, 'server');
  });

  it('answers a Finished one bit off with decrypt_error, not a proof (RFC 8446 §4.4.4)', () => {
    const flipped = Buffer.from(serverFinished.verifyData);
    flipped[31] = (flipped[31] ?? 0) ^ 0x01;
    assert.equal(
      alertOf(() =>
        verifyPeerFinished(nodeCryptoProvider, flipped, aes128(), serverFinished.baseKey, serverFinished.transcriptHash, 'server'),
      ),
      'decrypt_error',
    );
  });

  it('gives a BinderVerified for the PSK binder of RFC 8448 §4, carrying the identity index', () => {
    const step = '{client}  calculate PSK binder';
    const psk = s4.bytes('{client}  extract secret "early"', 'IKM (32 octets)');
    const early = new EarlySecret(nodeCryptoProvider, 'sha256', psk);
    const binder = s4.bytes(step, 'finished (32 octets)');
    const proof = verifyPskBinder(nodeCryptoProvider, early, s4.bytes(step, 'binder hash (32 octets)'), binder, 0);
    assert.ok(proof instanceof BinderVerified);
    assert.equal(proof.index, 0);
    const wrong = Buffer.from(binder);
    wrong[0] = (wrong[0] ?? 0) ^ 0x80;
    assert.equal(
      alertOf(() => verifyPskBinder(nodeCryptoProvider, early, s4.bytes(step, 'binder hash (32 octets)'), wrong, 0)),
      'decrypt_error',
    );
  });

  it('refuses to make a proof without the check: a forged token is internal_error', () => {
    // The compiler already refuses any token but the module's own (its type is a unique symbol); the cast is the forgery.
    const forged = Symbol('handshake proof') as never;
    assert.equal(
      alertOf(() => new FinishedVerified(forged, 'client')),
      'internal_error',
    );
    assert.equal(
      alertOf(() => new BinderVerified(forged, 0)),
      'internal_error',
    );
    assert.equal(
      alertOf(() => new ChainVerified(forged, undefined as never)),
      'internal_error',
    );
    assert.equal(
      alertOf(() => new SignatureVerified(forged, undefined as never)),
      'internal_error',
    );
  });

  it('makes no ChainVerified without a verifier: a config that verifies nothing is our bug, internal_error', () => {
    assert.equal(
      alertOf(() => verifyPeerChain(undefined, [Buffer.from([0x30, 0x00])], { role: 'client' })),
      'internal_error',
    );
  });
});
