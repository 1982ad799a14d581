import { TlsAlertError } from '../alert.js';
import type { CertificateVerify } from '../codec/messages/certificate-verify.js';
import type { CryptoProvider, PublicKey } from '../crypto/provider.js';
import { schemeFitsKey } from '../crypto/signatures.js';
import type { PeerCertificates, VerifyOcspStaple, VerifyPeer } from '../options.js';
import { describeCertificate, type VerifiedChain } from '../peer-verifier.js';
import { decodeFinished } from '../codec/messages/finished.js';
import type { SuiteInfo } from '../crypto/suites.js';
import { finishedVerifyData } from '../keyschedule/stages.js';
import { constantTimeEqual } from '../../shared/bytes.js';

/**
 * Checks a peer's CertificateVerify (RFC 8446 §4.4.3): the scheme must be one
 * we offered and fit the certificate's key (illegal_parameter); the signature
 * must verify (decrypt_error).
 */
export function verifyPeerSignature(crypto: CryptoProvider, offered: readonly number[], message: CertificateVerify, key: PublicKey, content: Buffer): void {
  if (!offered.includes(message.algorithm) || !schemeFitsKey(message.algorithm, key)) {
    throw new TlsAlertError('illegal_parameter', `CertificateVerify scheme 0x${message.algorithm.toString(16)} not offered or not for this key`);
  }
  if (!crypto.verify(message.algorithm, key, content, message.signature)) {
    throw new TlsAlertError('decrypt_error', 'CertificateVerify signature does not verify');
  }
}

/** Runs the caller's policy hook; a plain error becomes bad_certificate. */
export function runPeerPolicy(hook: VerifyPeer | undefined, peer: PeerCertificates): void {
  if (hook === undefined) return;
  try {
    hook(peer);
  } catch (err) {
    if (err instanceof TlsAlertError) throw err;
    throw new TlsAlertError('bad_certificate', `peer refused by policy: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
  }
}

/**
 * Runs the caller's OCSP staple check (RFC 6066 §8): a response that does not
 * satisfy it is bad_certificate_status_response, unless the hook picked an alert.
 */
export function runStaplePolicy(hook: VerifyOcspStaple | undefined, staple: Buffer | undefined, peer: PeerCertificates): void {
  if (hook === undefined) return;
  try {
    hook(staple, peer);
  } catch (err) {
    if (err instanceof TlsAlertError) throw err;
    throw new TlsAlertError('bad_certificate_status_response', `OCSP staple refused by policy: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
  }
}

/**
 * A peer chain described without verifying it: for a client told not to
 * verify, and for the identity carried by a resumed session.
 */
export function describeChain(chain: readonly Uint8Array[]): VerifiedChain {
  const parsed = chain.map((der) => describeCertificate(der));
  const leaf = parsed[0];
  if (leaf === undefined) throw new TlsAlertError('bad_certificate', 'empty chain');
  if (leaf.publicKey === undefined) throw new TlsAlertError('unsupported_certificate', `leaf key ${leaf.keyDescription}`);
  return {
    peer: { chain: parsed.map((p) => p.view), leaf: leaf.view },
    leafPublicKey: leaf.publicKey,
    leafNotAfterMs: leaf.view.notAfter.getTime(),
  };
}

/** Checks the peer's Finished (RFC 8446 §4.4.4): a mismatch is decrypt_error. */
export function verifyPeerFinished(
  crypto: CryptoProvider,
  body: Buffer,
  suite: SuiteInfo,
  baseKey: Buffer,
  transcriptHash: Buffer,
  peer: 'client' | 'server',
): void {
  const received = decodeFinished(body, suite.hashLength);
  const expected = finishedVerifyData(crypto, suite.hash, baseKey, transcriptHash);
  if (!constantTimeEqual(received, expected)) throw new TlsAlertError('decrypt_error', `${peer} Finished does not verify`);
}
