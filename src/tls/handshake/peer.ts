import { TlsAlertError } from '../alert.js';
import type { CertificateVerify } from '../codec/messages/certificate-verify.js';
import type { CryptoProvider, PublicKey } from '../crypto/provider.js';
import { schemeFitsKey, schemeFitsKey12 } from '../crypto/signatures.js';
import type { CommonConfig, ServerConfig } from '../config.js';
import type { PeerCertificates, VerifyOcspStaple, VerifyPeer } from '../options.js';
import { describeCertificate, type VerifiedChain } from '../peer-verifier.js';
import { decodeFinished } from '../codec/messages/finished.js';
import type { SuiteInfo, Tls12SuiteInfo } from '../crypto/suites.js';
import { decodeFinished12 } from '../codec/messages/tls12/empty-and-finished.js';
import { tls12VerifyData } from '../keyschedule/prf12.js';
import { finishedVerifyData, type EarlySecret } from '../keyschedule/stages.js';
import { constantTimeEqual } from '../../shared/bytes.js';

/*
 * Proof values, after rustls' HandshakeSignatureValid, FinishedMessageVerified
 * and ServerCertVerified: each is made only by the check below that passed,
 * with a token no other module holds, and the state that may only exist after
 * that check takes it in its constructor. The types then say what the code
 * does: no ExpectFinished without a verified signature, no connection without
 * a verified Finished.
 */
const MINT: unique symbol = Symbol('handshake proof');
type Mint = typeof MINT;

function checkMint(token: Mint): void {
  if (token !== MINT) throw new TlsAlertError('internal_error', 'handshake proof made outside its check');
}

/** The peer's chain passed the verifier (RFC 5280 path, names, validity) for its role. */
export class ChainVerified {
  constructor(
    token: Mint,
    private readonly verified: VerifiedChain,
  ) {
    checkMint(token);
  }

  get chain(): VerifiedChain {
    return this.verified;
  }
}

/** The peer's CertificateVerify verified under its leaf key (RFC 8446 §4.4.3): it holds that key. */
export class SignatureVerified {
  constructor(
    token: Mint,
    private readonly signer: PeerCertificates,
  ) {
    checkMint(token);
  }

  /** The certificates whose key signed the transcript. */
  get peer(): PeerCertificates {
    return this.signer;
  }
}

/** The peer's Finished matched our own computation over the transcript (RFC 8446 §4.4.4). */
export class FinishedVerified {
  constructor(
    token: Mint,
    private readonly from: 'client' | 'server',
  ) {
    checkMint(token);
  }

  get peer(): 'client' | 'server' {
    return this.from;
  }
}

/** The client's PSK binder matched (RFC 8446 §4.2.11.2): it holds the resumption secret. */
export class BinderVerified {
  constructor(
    token: Mint,
    private readonly identityIndex: number,
  ) {
    checkMint(token);
  }

  /** Which offered identity the binder was checked for. */
  get index(): number {
    return this.identityIndex;
  }
}

/** The chain verifier a config holds (the engine's verifier is handed in: PKIX lives outside the state machine). */
type PeerVerifier = NonNullable<CommonConfig['verifier']>;
type VerifyExpectation = Parameters<PeerVerifier['verify']>[1];

/**
 * Runs the verifier over the peer's chain (RFC 8446 §4.4.2.4: a chain that
 * does not verify ends the handshake with the verifier's alert). A config
 * without a verifier here is our bug: the options check asks for `ca`
 * wherever a peer chain is verified.
 */
export function verifyPeerChain(
  verifier: PeerVerifier | undefined,
  chain: readonly Uint8Array[],
  expect: VerifyExpectation,
): ChainVerified {
  if (verifier === undefined) throw new TlsAlertError('internal_error', `no verifier for a ${expect.role} chain`);
  return new ChainVerified(MINT, verifier.verify(chain, expect));
}

/**
 * Checks a peer's CertificateVerify (RFC 8446 §4.4.3): the scheme must be one
 * we offered and fit the certificate's key (illegal_parameter); the signature
 * must verify (decrypt_error).
 */
export function verifyPeerSignature(
  crypto: CryptoProvider,
  offered: readonly number[],
  message: CertificateVerify,
  chain: VerifiedChain,
  content: Buffer,
): SignatureVerified {
  const key: PublicKey = chain.leafPublicKey;
  if (!offered.includes(message.algorithm) || !schemeFitsKey(message.algorithm, key)) {
    throw new TlsAlertError(
      'illegal_parameter',
      `CertificateVerify scheme 0x${message.algorithm.toString(16)} not offered or not for this key`,
    );
  }
  if (!crypto.verify(message.algorithm, key, content, message.signature)) {
    throw new TlsAlertError('decrypt_error', 'CertificateVerify signature does not verify');
  }
  return new SignatureVerified(MINT, chain.peer);
}

/**
 * Who a server's client is by its Finished, and how we know, in either
 * version: no certificate asked for (or an empty one where allowed); a chain
 * whose CertificateVerify verified; or a resumed ticket's chain, verified
 * again now (undefined when the ticket carries none).
 */
export type AuthenticatedClient =
  | { readonly kind: 'anonymous' }
  | { readonly kind: 'certificate'; readonly signature: SignatureVerified }
  | { readonly kind: 'resumed'; readonly chain: ChainVerified | undefined };

/** The client's verified chain, if it has one. */
export function peerOfClient(identity: AuthenticatedClient): PeerCertificates | undefined {
  switch (identity.kind) {
    case 'anonymous':
      return undefined;
    case 'certificate':
      return identity.signature.peer;
    case 'resumed':
      return identity.chain?.chain.peer;
  }
}

/**
 * Checks a TLS 1.2 signature by the peer's leaf key, the DigitallySigned of
 * a ServerKeyExchange (RFC 5246 §7.4.3) or CertificateVerify (§7.4.8): the
 * scheme must be one we offered and fit the key (illegal_parameter); the
 * signature must verify over `content` (decrypt_error).
 */
export function verifyPeerSignature12(
  crypto: CryptoProvider,
  offered: readonly number[],
  signed: { readonly algorithm: number; readonly signature: Buffer },
  chain: VerifiedChain,
  content: Buffer,
): SignatureVerified {
  const key: PublicKey = chain.leafPublicKey;
  if (!offered.includes(signed.algorithm) || !schemeFitsKey12(signed.algorithm, key))
    throw new TlsAlertError('illegal_parameter', `signature scheme 0x${signed.algorithm.toString(16)} not offered or not for this key`);
  if (!crypto.verify(signed.algorithm, key, content, signed.signature))
    throw new TlsAlertError('decrypt_error', 'TLS 1.2 handshake signature does not verify');
  return new SignatureVerified(MINT, chain.peer);
}

/** Checks the peer's TLS 1.2 Finished (RFC 5246 §7.4.9): 12 bytes of PRF output; a mismatch is decrypt_error. */
export function verifyPeerFinished12(
  crypto: CryptoProvider,
  body: Buffer,
  suite: Tls12SuiteInfo,
  masterSecret: Buffer,
  handshakeHash: Buffer,
  peer: 'client' | 'server',
): FinishedVerified {
  const received = decodeFinished12(body);
  const expected = tls12VerifyData(crypto, suite.hash, masterSecret, peer, handshakeHash);
  if (!constantTimeEqual(received, expected)) throw new TlsAlertError('decrypt_error', `${peer} Finished does not verify`);
  return new FinishedVerified(MINT, peer);
}

/** Checks the peer's Finished (RFC 8446 §4.4.4): a mismatch is decrypt_error. */
export function verifyPeerFinished(
  crypto: CryptoProvider,
  body: Buffer,
  suite: SuiteInfo,
  baseKey: Buffer,
  transcriptHash: Buffer,
  peer: 'client' | 'server',
): FinishedVerified {
  const received = decodeFinished(body, suite.hashLength);
  const expected = finishedVerifyData(crypto, suite.hash, baseKey, transcriptHash);
  if (!constantTimeEqual(received, expected)) throw new TlsAlertError('decrypt_error', `${peer} Finished does not verify`);
  return new FinishedVerified(MINT, peer);
}

/**
 * §4.2.11.2: the binder is a Finished-style MAC, under the PSK's binder key,
 * over the transcript up to the ClientHello's binders list (`truncatedHash`).
 * A mismatch is decrypt_error.
 */
export function verifyPskBinder(
  crypto: CryptoProvider,
  early: EarlySecret,
  truncatedHash: Buffer,
  received: Buffer,
  index: number,
): BinderVerified {
  const expected = finishedVerifyData(crypto, early.hash, early.binderKey('res'), truncatedHash);
  if (!constantTimeEqual(expected, received)) throw new TlsAlertError('decrypt_error', 'PSK binder does not verify');
  return new BinderVerified(MINT, index);
}

/** Runs the caller's policy hook; a plain error becomes bad_certificate. */
export function runPeerPolicy(hook: VerifyPeer | undefined, peer: PeerCertificates): void {
  if (hook === undefined) return;
  try {
    hook(peer);
  } catch (err) {
    if (err instanceof TlsAlertError) throw err;
    throw new TlsAlertError('bad_certificate', `peer refused by policy: ${err instanceof Error ? err.message : String(err)}`, {
      cause: err,
    });
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
    throw new TlsAlertError(
      'bad_certificate_status_response',
      `OCSP staple refused by policy: ${err instanceof Error ? err.message : String(err)}`,
      { cause: err },
    );
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

/**
 * A resumed client's identity, the chain its ticket carries, checked again
 * now: revocation (`verifyPeer`) may have happened since it was issued. A
 * ticket without a chain is refused under clientAuth 'require' with
 * `noCertificate`: certificate_required in TLS 1.3 (RFC 8446 §4.4.2.4),
 * handshake_failure in TLS 1.2, which has no such alert.
 */
export function reverifyResumedClient(
  config: Pick<ServerConfig, 'clientAuth' | 'verifier' | 'verifyPeer'>,
  chain: readonly Buffer[],
  noCertificate: 'certificate_required' | 'handshake_failure',
): ChainVerified | undefined {
  if (chain.length === 0) {
    if (config.clientAuth === 'require') throw new TlsAlertError(noCertificate, 'resumed session has no client certificate');
    return undefined;
  }
  const verified = verifyPeerChain(config.verifier, chain, { role: 'client' });
  runPeerPolicy(config.verifyPeer, verified.chain.peer);
  return verified;
}
