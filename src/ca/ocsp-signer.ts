import { createPublicKey, generateKeyPair, sign, X509Certificate, type KeyObject } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
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
import type { OcspResponderStore, StoredOcspResponder } from './ports.js';
import { LIFETIMES, type IssueRequest } from './profiles.js';
import type { ResponderKeyWrap } from './responder-key-wrap.js';

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
  /** The responders every process on the ledger shares (`serve` always passes it); without it the key lives in this process only. */
  readonly shared?: SharedResponders;
}

/** What sharing responders through the ledger needs. */
export interface SharedResponders {
  readonly store: OcspResponderStore;
  /** The intermediate's Name as the ledger stores it: only its responders are used. */
  readonly issuerName: string;
  readonly keyWrap: ResponderKeyWrap;
  /** Names this process in the claim to issue the next responder (host, pid, a random part). */
  readonly holder: string;
  /** How long a claim lasts if its holder dies before recording a responder; default 30 s. */
  readonly claimTtlMs?: number;
  /** How often a process without a usable responder looks for the one another process is issuing; default 250 ms. */
  readonly pollMs?: number;
}

const DEFAULT_CLAIM_TTL_MS = 30_000;
const DEFAULT_POLL_MS = 250;

interface Responder {
  readonly identity: OcspSigningIdentity;
  readonly serial: string;
  readonly notAfter: number;
}

/**
 * The delegated OCSP responder (RFC 6960 §4.2.2.2): a P-256 key certified by
 * the intermediate under the `ocsp-signer` profile (EKU OCSPSigning,
 * id-pkix-ocsp-nocheck), and replaced well before that certificate expires.
 * Responses are signed synchronously: one P-256 signature is tens of
 * microseconds, less than a hop through the thread pool.
 *
 * Shared through the ledger (`shared`, as `serve` runs it): the nodes of a
 * cluster, and one node's restarts, use one responder instead of minting one
 * each at every start. The simplest design that stays correct:
 * - the certificate is the ledger's row, as for every certificate; its key
 *   is stored beside it (`ocsp_responders`, migrations/0007) wrapped under a
 *   secret derived from the intermediate's key (responder-key-wrap.ts), so
 *   only a holder of the CA directory can use it;
 * - at start and at every check a node takes the newest valid responder of
 *   its intermediate from the ledger (it checks that the key matches the
 *   certificate), so all nodes converge on the newest one;
 * - only when that one has no more than `rotateBeforeMs` of its life left
 *   does a node issue the next, and only the node holding the lease
 *   'ocsp-responder' (30 s, released when done) does: the others keep
 *   signing with the current one, or, with none usable at start, wait for
 *   the new one to appear. A holder that dies mid-issue costs at most one
 *   unrecorded certificate and the lease's 30 s.
 */
export class OcspSigner {
  private readonly deps: OcspSignerDeps;
  private readonly ttlMs: number;
  private readonly rotateBeforeMs: number;
  private readonly shared: SharedResponders | undefined;
  private current: Responder | undefined;
  /** Shared: the ledger listed the current responder as its newest valid one at the last look. */
  private isListed = false;
  private rotation: Promise<boolean> | undefined;
  private timer: NodeJS.Timeout | undefined;

  constructor(deps: OcspSignerDeps) {
    const ttl = deps.certificateTtlMs ?? LIFETIMES.ocspSigner.defaultTtlMs;
    if (!Number.isFinite(ttl) || ttl <= 0 || ttl > LIFETIMES.ocspSigner.maxTtlMs) {
      throw new Error(`certificateTtlMs must be positive and at most ${LIFETIMES.ocspSigner.maxTtlMs} ms`);
    }
    const before = deps.rotateBeforeMs ?? Math.floor(ttl / 3);
    if (!Number.isFinite(before) || before <= 0 || before >= ttl)
      throw new Error('rotateBeforeMs must be positive and below the certificate lifetime');
    this.deps = deps;
    this.ttlMs = ttl;
    this.rotateBeforeMs = before;
    this.shared = deps.shared;
  }

  /** The current responder certificate's notAfter (0 before the first one): no nextUpdate may pass it. */
  get notAfter(): number {
    return this.current?.notAfter ?? 0;
  }

  /** The current responder certificate's serial, if any. */
  get serial(): string | undefined {
    return this.current?.serial;
  }

  /** DER of the current responder certificate, if any. */
  get certificateDer(): Uint8Array | undefined {
    return this.current?.identity.certificateDer;
  }

  /**
   * Generates a key and issues its certificate, then swaps it in (shared: and
   * records it for the other nodes; when another node is issuing one right
   * now, that one is taken instead). Responses signed by the previous key
   * stay valid: its certificate outlives them. Concurrent callers share one rotation.
   */
  async rotate(): Promise<void> {
    await this.once(() => (this.shared === undefined ? this.issueLocal() : this.syncShared(true)));
  }

  /**
   * Shared: takes a newer responder another node recorded, then rotates when
   * there is no certificate yet or no more than `rotateBeforeMs` of it is
   * left. True when the responder changed.
   */
  async rotateIfDue(): Promise<boolean> {
    if (this.shared !== undefined) return this.once(() => this.syncShared(false));
    if (!this.isDue()) return false;
    await this.rotate();
    return true;
  }

  /** Signs a successful OCSPResponse; throws (an internal fault) when no unexpired responder certificate is at hand. */
  signResponse(content: OcspResponseContent): Uint8Array {
    const current = this.current;
    if (current === undefined) throw new Error('no OCSP responder certificate yet');
    if (this.deps.clock.now() >= current.notAfter) throw new Error(`the OCSP responder certificate ${current.serial} has expired`);
    return encodeOcspResponse(content, current.identity);
  }

  /** Checks for rotation every `checkEveryMs` (default a tenth of the rotation margin, at most an hour); failures go to onError and are retried. */
  start(options: { checkEveryMs?: number; onError: (err: unknown) => void }): void {
    this.stop();
    const every = options.checkEveryMs ?? Math.min(3_600_000, Math.max(1_000, Math.floor(this.rotateBeforeMs / 10)));
    this.timer = setInterval(() => {
      this.rotateIfDue().catch(options.onError);
    }, every);
    // Rotation must not keep a finished process alive.
    this.timer.unref();
  }

  stop(): void {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
  }

  private once(work: () => Promise<boolean>): Promise<boolean> {
    this.rotation ??= work().finally(() => {
      this.rotation = undefined;
    });
    return this.rotation;
  }

  private isDue(): boolean {
    const current = this.current;
    return current === undefined || current.notAfter - this.deps.clock.now() <= this.rotateBeforeMs;
  }

  private async issueLocal(): Promise<boolean> {
    await this.issue();
    return true;
  }

  /** Generates a key, issues its certificate through the Authority (committed on return) and swaps it in. */
  private async issue(): Promise<{ readonly serial: string; readonly privateKey: KeyObject }> {
    const { privateKey, publicKey } = await generateEcKeyPair('ec', { namedCurve: 'P-256' });
    const issued = await this.deps.authority.issue(
      { publicKey: new Uint8Array(publicKey.export({ type: 'spki', format: 'der' })), ttlMs: this.ttlMs, requester: 'system' },
      'ocsp-signer',
    );
    this.current = responderOf(issued.der, issued.serial, issued.notAfter, privateKey);
    return { serial: issued.serial, privateKey };
  }

  /**
   * Takes the ledger's newest valid responder unless it is ours already. It
   * is by definition at least as good as ours: ours is either the same, older,
   * or no longer valid in the ledger (revoked, or never recorded). With none
   * there, ours (if any) is not valid in the ledger: the next one is due.
   */
  private async adoptNewest(shared: SharedResponders): Promise<void> {
    const stored = await shared.store.newest(shared.issuerName, this.deps.clock.now());
    this.isListed = stored !== undefined;
    if (stored === undefined || stored.serial === this.current?.serial) return;
    this.current = storedResponder(stored, shared.keyWrap);
  }

  /**
   * One pass of the shared protocol (see the class comment); true when the
   * responder changed. `force` (`rotate`): a new responder even if the current
   * one is fine, or the one another node issues meanwhile.
   */
  private async syncShared(force: boolean): Promise<boolean> {
    const shared = this.shared;
    if (shared === undefined) throw new Error('not shared');
    const claimTtlMs = shared.claimTtlMs ?? DEFAULT_CLAIM_TTL_MS;
    const pollMs = shared.pollMs ?? DEFAULT_POLL_MS;
    const startedWith = this.current?.serial;
    const hasChanged = (): boolean => this.current?.serial !== startedWith;
    const isDue = (): boolean => this.isDue() || !this.isListed;
    // Bounded: a claim outlives a holder that died by at most claimTtlMs.
    const attempts = Math.ceil(claimTtlMs / pollMs) + 2;
    for (let attempt = 0; attempt < attempts; attempt++) {
      if (!force || attempt > 0) await this.adoptNewest(shared);
      if (force ? hasChanged() : !isDue()) return hasChanged();
      if (await shared.store.claimRotation(shared.holder, this.deps.clock.now(), claimTtlMs)) {
        try {
          // Another node may have recorded one between our look and our claim.
          if (!force) {
            await this.adoptNewest(shared);
            if (!isDue()) return hasChanged();
          }
          const { serial, privateKey } = await this.issue();
          await shared.store.record(serial, shared.keyWrap.wrap(privateKey), this.deps.clock.now());
          this.isListed = true;
          return true;
        } finally {
          await shared.store.releaseRotation(shared.holder);
        }
      }
      // Another node is issuing the next one: keep signing with ours while it is unexpired (the next check takes
      // theirs); with none usable, wait for theirs.
      const current = this.current;
      if (!force && current !== undefined && current.notAfter > this.deps.clock.now()) return hasChanged();
      await sleep(pollMs);
    }
    throw new Error(`another node has held the OCSP responder claim for ${claimTtlMs} ms without recording a responder`);
  }
}

function responderOf(certificateDer: Uint8Array, serial: string, notAfter: number, privateKey: KeyObject): Responder {
  const sign = ecdsaSigner(privateKey, 'P-256');
  return { identity: { certificateDer, keyHash: responderKeyHash(certificateDer), curve: 'P-256', sign }, serial, notAfter };
}

/** A stored responder, usable only when its key is a P-256 key and the one its certificate certifies. */
function storedResponder(stored: StoredOcspResponder, keyWrap: ResponderKeyWrap): Responder {
  const privateKey = keyWrap.unwrap(stored.wrappedKey);
  const certified = new X509Certificate(stored.certificateDer).publicKey.export({ type: 'spki', format: 'der' });
  const held = createPublicKey(privateKey).export({ type: 'spki', format: 'der' });
  if (privateKey.asymmetricKeyDetails?.namedCurve !== 'prime256v1' || !certified.equals(held)) {
    throw new Error(`the stored key of OCSP responder ${stored.serial} is not the key its certificate certifies`);
  }
  return responderOf(stored.certificateDer, stored.serial, stored.notAfter, privateKey);
}
