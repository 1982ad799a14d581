import { generateKeyPair, sign, type KeyObject } from 'node:crypto';
import { promisify } from 'node:util';
import type { Clock } from '../shared/clock.js';
import {
  encodeOcspResponse,
  responderKeyHash,
  type IssuerCurve,
  type OcspResponseContent,
  type OcspSigningIdentity,
} from '../x509/index.js';
import type { IssuedCertificate } from './authority.js';
import { LIFETIMES, type IssueRequest } from './profiles.js';

const generateEcKeyPair = promisify(generateKeyPair);

/** RFC 5758 §3.2 pairs P-256 with SHA-256 and P-384 with SHA-384, as certificates are signed. */
const HASH_FOR_CURVE: Readonly<Record<IssuerCurve, string>> = { 'P-256': 'sha256', 'P-384': 'sha384' };

/** A synchronous ECDSA signer over node:crypto: DER ECDSA-Sig-Value, as X.509, CRLs and OCSP carry it (RFC 3279 §2.2.3). */
export function ecdsaSigner(key: KeyObject, curve: IssuerCurve): (tbs: Uint8Array) => Uint8Array {
  const hash = HASH_FOR_CURVE[curve];
  return (tbs) => new Uint8Array(sign(hash, tbs, { key, dsaEncoding: 'der' }));
}

export interface OcspSignerDeps {
  /** The one issuance pipeline: the responder certificate is issued and recorded like any other. */
  readonly authority: { issue(request: IssueRequest, profile: 'ocsp-signer'): Promise<IssuedCertificate> };
  readonly clock: Clock;
  /** Lifetime of each responder certificate; default the profile's (7 days). */
  readonly certificateTtlMs?: number;
  /** A new certificate is issued once less than this is left; default a third of the lifetime. */
  readonly rotateBeforeMs?: number;
}

interface Responder {
  readonly identity: OcspSigningIdentity;
  readonly serial: string;
  readonly notAfter: number;
}

/**
 * The delegated OCSP responder (RFC 6960 §4.2.2.2): a key that never leaves
 * memory, certified by the intermediate under the `ocsp-signer` profile
 * (EKU OCSPSigning, id-pkix-ocsp-nocheck), and replaced well before that
 * certificate expires. Responses are signed synchronously: one P-256
 * signature is tens of microseconds, less than a hop through the thread pool.
 */
export class OcspSigner {
  readonly #deps: OcspSignerDeps;
  readonly #ttlMs: number;
  readonly #rotateBeforeMs: number;
  #current: Responder | undefined;
  #rotation: Promise<void> | undefined;
  #timer: NodeJS.Timeout | undefined;

  constructor(deps: OcspSignerDeps) {
    const ttl = deps.certificateTtlMs ?? LIFETIMES.ocspSigner.defaultTtlMs;
    if (!Number.isFinite(ttl) || ttl <= 0 || ttl > LIFETIMES.ocspSigner.maxTtlMs) {
      throw new Error(`certificateTtlMs must be positive and at most ${LIFETIMES.ocspSigner.maxTtlMs} ms`);
    }
    const before = deps.rotateBeforeMs ?? Math.floor(ttl / 3);
    if (!Number.isFinite(before) || before <= 0 || before >= ttl) throw new Error('rotateBeforeMs must be positive and below the certificate lifetime');
    this.#deps = deps;
    this.#ttlMs = ttl;
    this.#rotateBeforeMs = before;
  }

  /** The current responder certificate's notAfter (0 before the first one): no nextUpdate may pass it. */
  get notAfter(): number {
    return this.#current?.notAfter ?? 0;
  }

  /** The current responder certificate's serial, if any. */
  get serial(): string | undefined {
    return this.#current?.serial;
  }

  /** DER of the current responder certificate, if any. */
  get certificateDer(): Uint8Array | undefined {
    return this.#current?.identity.certificateDer;
  }

  /**
   * Generates a key and issues its certificate, then swaps it in. Responses
   * signed by the previous key stay valid: its certificate outlives them.
   * Concurrent callers share one rotation.
   */
  rotate(): Promise<void> {
    this.#rotation ??= this.#issueResponder().finally(() => {
      this.#rotation = undefined;
    });
    return this.#rotation;
  }

  /** Rotates when there is no certificate yet or less than `rotateBeforeMs` of it is left; true when it rotated. */
  async rotateIfDue(): Promise<boolean> {
    const current = this.#current;
    if (current !== undefined && current.notAfter - this.#deps.clock.now() > this.#rotateBeforeMs) return false;
    await this.rotate();
    return true;
  }

  /** Signs a successful OCSPResponse; throws (an internal fault) when no unexpired responder certificate is at hand. */
  signResponse(content: OcspResponseContent): Uint8Array {
    const current = this.#current;
    if (current === undefined) throw new Error('no OCSP responder certificate yet');
    if (this.#deps.clock.now() >= current.notAfter) throw new Error(`the OCSP responder certificate ${current.serial} has expired`);
    return encodeOcspResponse(content, current.identity);
  }

  /** Checks for rotation every `checkEveryMs` (default a tenth of the rotation margin, at most an hour); failures go to onError and are retried. */
  start(options: { checkEveryMs?: number; onError: (err: unknown) => void }): void {
    this.stop();
    const every = options.checkEveryMs ?? Math.min(3_600_000, Math.max(1_000, Math.floor(this.#rotateBeforeMs / 10)));
    this.#timer = setInterval(() => {
      this.rotateIfDue().catch(options.onError);
    }, every);
    // Rotation must not keep a finished process alive.
    this.#timer.unref();
  }

  stop(): void {
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
  }

  async #issueResponder(): Promise<void> {
    const { privateKey, publicKey } = await generateEcKeyPair('ec', { namedCurve: 'P-256' });
    const issued = await this.#deps.authority.issue(
      { publicKey: new Uint8Array(publicKey.export({ type: 'spki', format: 'der' })), ttlMs: this.#ttlMs, requester: 'system' },
      'ocsp-signer',
    );
    const sign = ecdsaSigner(privateKey, 'P-256');
    this.#current = {
      identity: { certificateDer: issued.der, keyHash: responderKeyHash(issued.der), curve: 'P-256', sign },
      serial: issued.serial,
      notAfter: issued.notAfter,
    };
  }
}
