import { createHash } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import type { Clock } from '../shared/clock.js';
import { DomainError } from '../shared/errors.js';
import {
  type CertificateRecord,
  type NewCertificateRecord,
  type ProfileName,
  type RevocationReason,
  REVOCATION_REASONS,
} from '../domain/certificates.js';
import {
  checkIssuedCertificate,
  checkSubjectPublicKey,
  describeCertificate,
  formatDistinguishedName,
  issuerFromCertificate,
  leafExpectation,
  LeafTemplate,
  normalizeSerial,
  prepareCertificate,
  randomSerial,
  signCertificate,
  toPem,
  type CertificateIssuer,
  type CertificateTemplate,
  type EncodedLeaf,
  type LeafExpectation,
  type LeafSigningKeys,
  type RandomSource,
} from '../x509/index.js';
import { crlShardOf, crlShardUrl, issuerCrlUrl, MAX_CRL_SHARDS } from './crl-shard.js';
import type { CaMaterial } from './issuer.js';
import type { CertificateStore } from './ports.js';
import { certificateFields, type CertificateFields } from './ledger-record.js';
import { BACKDATE_MS, planLeaf, TLS_SERVER_MAX_TTL_MS, type IssueRequest, type LeafPlan } from './profiles.js';

export interface IssuedCertificate {
  readonly serial: string;
  readonly der: Uint8Array;
  readonly pem: string;
  /** Leaf then intermediate, PEM. */
  readonly chainPem: string;
  readonly notBefore: number;
  readonly notAfter: number;
  readonly record: CertificateRecord;
}

/** The timed steps of one issuance, for metrics and bench/issue. */
export type IssueStep = 'validate' | 'serial' | 'build' | 'sign' | 'check' | 'record';

export interface AuthorityDeps {
  readonly material: CaMaterial;
  readonly store: CertificateStore;
  readonly clock: Clock;
  /** Written into every leaf's AIA (RFC 5280 §4.2.2.1), except the OCSP signer's. */
  readonly ocspUrl?: string;
  /** Written into every leaf's CRL Distribution Points (RFC 5280 §4.2.1.13); with shards, `<crlUrl>/<shard>`. */
  readonly crlUrl?: string;
  /** CRL shards (src/ca/crl-shard.ts): each leaf names the shard its serial falls in. Default 1: every leaf names crlUrl. */
  readonly crlShards?: number;
  /** Maximum tls-server lifetime; default and ceiling 397 days (CA/B BR §6.3.2). */
  readonly maxTlsServerTtlMs?: number;
  /** Called after each step of `issue` with its wall time in ms. */
  readonly onStepTimed?: (step: IssueStep, ms: number) => void;
  /** Serial randomness; tests inject it. */
  readonly random?: RandomSource;
  /**
   * Where template leaves are signed and checked: a crypto worker pool
   * (src/x509/crypto-pool). Absent: node:crypto one-shots from the event loop.
   */
  readonly leafSigner?: LeafSignerPort;
}

/** Signs a leaf's TBS with the issuer keys and checks what was signed (LeafSigner's rules); the DER certificate. */
export interface LeafSignerPort {
  signLeaf(keys: LeafSigningKeys, tbs: Uint8Array, expected: LeafExpectation): Promise<Uint8Array>;
}

// At 126 random bits a second collision means a broken random source, not bad luck.
const SERIAL_ATTEMPTS = 5;

/**
 * The one issuance and revocation pipeline (DESIGN.md). `issue` follows
 * SPIRE's sign path and Boulder's order: validate, pick the serial, build and
 * sign, check the result, record it durably, and only then hand it out.
 */
export class Authority {
  private currentMaterial: CaMaterial;
  private readonly store: CertificateStore;
  private readonly clock: Clock;
  private issuer: CertificateIssuer;
  private leafTemplate: LeafTemplate;
  /** Every CA certificate this Authority has known (root, intermediates past and present): never revoked here. */
  private readonly caSerials = new Set<string>();
  private readonly intermediateListeners: ((material: CaMaterial) => void)[] = [];
  private readonly deps: AuthorityDeps;
  private readonly maxTlsServerTtlMs: number;
  private readonly revocationListeners: ((serial: string) => void)[] = [];
  private readonly issuanceListeners: ((profile: ProfileName) => void)[] = [];
  private readonly stepListeners: ((step: IssueStep, ms: number) => void)[] = [];

  /** How far before now a leaf's notBefore is set (clock skew): front ends refuse a requested notBefore older than this. */
  readonly backdateMs = BACKDATE_MS;
  /** The tls-server profile's ceiling on a lifetime (397 days, CA/B BR §6.3.2): a front end's own maximum may not exceed it. */
  readonly tlsServerTtlCeilingMs = TLS_SERVER_MAX_TTL_MS;

  constructor(deps: AuthorityDeps) {
    const max = deps.maxTlsServerTtlMs ?? TLS_SERVER_MAX_TTL_MS;
    if (!Number.isFinite(max) || max <= 0 || max > TLS_SERVER_MAX_TTL_MS) {
      throw new Error(`maxTlsServerTtlMs must be positive and at most ${TLS_SERVER_MAX_TTL_MS} ms (397 days)`);
    }
    const shards = deps.crlShards ?? 1;
    if (!Number.isSafeInteger(shards) || shards < 1 || shards > MAX_CRL_SHARDS) throw new Error(`crlShards must be 1..${MAX_CRL_SHARDS}`);
    this.currentMaterial = deps.material;
    this.store = deps.store;
    this.clock = deps.clock;
    this.deps = deps;
    this.maxTlsServerTtlMs = max;
    if (deps.onStepTimed !== undefined) this.stepListeners.push(deps.onStepTimed);
    // Parsed once per intermediate: every issuance reuses the issuer name, key identifier and notAfter.
    this.issuer = issuerFromCertificate(deps.material.intermediate.certDer, deps.material.intermediate.key);
    this.leafTemplate = new LeafTemplate(this.issuer, deps.material.intermediate.keyObject);
    this.caSerials.add(describeCertificate(deps.material.intermediate.certDer).serial);
    this.caSerials.add(describeCertificate(deps.material.root.certDer).serial);
  }

  /** The CA hierarchy with the intermediate that signs now. */
  get material(): CaMaterial {
    return this.currentMaterial;
  }

  /**
   * Switches the signing intermediate (a rotation reached its activation,
   * src/ca/rotation.ts) without a restart: issuances that start after this
   * call sign with the new one; one already past its build step finishes
   * with the old one, which stays valid and published. Listeners (the OCSP
   * and CRL units of the composition root) run after the switch.
   */
  useIntermediate(material: CaMaterial): void {
    if (material.root.certPem !== this.currentMaterial.root.certPem) throw new Error('a rotation keeps the root');
    const issuer = issuerFromCertificate(material.intermediate.certDer, material.intermediate.key);
    const template = new LeafTemplate(issuer, material.intermediate.keyObject);
    this.currentMaterial = material;
    this.issuer = issuer;
    this.leafTemplate = template;
    this.caSerials.add(describeCertificate(material.intermediate.certDer).serial);
    for (const listener of this.intermediateListeners) listener(material);
  }

  /** Runs after each switch of the signing intermediate. */
  onIntermediateChanged(listener: (material: CaMaterial) => void): void {
    this.intermediateListeners.push(listener);
  }

  /** Marks more serials as CA certificates (intermediates on disk besides the active one): `revoke` refuses them. */
  noteCaSerials(serials: Iterable<string>): void {
    for (const serial of serials) this.caSerials.add(serial);
  }

  async issue(request: IssueRequest, profile: ProfileName): Promise<IssuedCertificate> {
    const timer = this.timer();
    const now = this.clock.now();
    // One intermediate for the whole issuance, even if a rotation switches it meanwhile (useIntermediate).
    const signing: Signing = { material: this.currentMaterial, issuer: this.issuer, leafTemplate: this.leafTemplate };

    // 1. Validate the key and the request against the profile (badCSR, malformed, rejectedIdentifier).
    const key = checkSubjectPublicKey(request.publicKey);
    const plan = planLeaf(profile, request, key, {
      now,
      trustDomain: signing.material.trustDomain,
      issuerNotAfter: signing.issuer.notAfter,
      maxTlsServerTtlMs: this.maxTlsServerTtlMs,
      ...(this.deps.ocspUrl === undefined ? {} : { ocspUrl: this.deps.ocspUrl }),
      ...(this.deps.crlUrl === undefined ? {} : { crlUrl: issuerCrlUrl(this.deps.crlUrl, signing.material.intermediate) }),
    });
    timer('validate');

    // 2. A random serial the ledger has not seen.
    const serial = await this.freshSerial();
    timer('serial');

    // 3-4. Build, sign once, and check what was signed against the template.
    const template = { ...plan.template, serial, ...this.crlDistributionPoint(plan.template.crlUrl, serial) };
    const encoded = signing.leafTemplate.encode(template);
    const { der, fields } =
      encoded === undefined
        ? await this.buildWithSchemas(signing, template, plan, timer)
        : await this.buildFromTemplate(signing, encoded, plan, timer);

    // 5. One durable ledger write; if it fails, the certificate never leaves this function.
    const record: NewCertificateRecord = { ...fields, profile, requester: request.requester, der, issuedAt: this.clock.now() };
    await this.store.recordIssued(record);
    timer('record');

    // 6. Only now is the certificate handed out.
    for (const listener of this.issuanceListeners) listener(profile);
    const pem = toPem(der);
    return {
      serial,
      der,
      pem,
      chainPem: pem + signing.material.intermediate.certPem,
      notBefore: fields.notBefore,
      notAfter: fields.notAfter,
      record: { ...record, status: 'valid', revokedAt: null, revocationReason: null },
    };
  }

  /**
   * Marks a leaf revoked in the ledger, then tells every listener (the OCSP
   * cache drops the serial at once). A listener's failure does not undo the
   * revocation: all listeners run, then an AggregateError reports the failures.
   * Every refusal (malformed, forbidden, notFound, conflict) is a rejection.
   */
  async revoke(serial: string, reason: RevocationReason): Promise<CertificateRecord> {
    const canonical = normalizeSerial(serial);
    if (!Object.hasOwn(REVOCATION_REASONS, reason)) throw new DomainError('malformed', `unknown revocation reason '${String(reason)}'`);
    // RFC 5280 §5.3.1: removeFromCRL only appears in delta CRLs; it is not a reason to revoke.
    if (reason === 'removeFromCRL') throw new DomainError('malformed', 'removeFromCRL is not a revocation reason');
    if (this.caSerials.has(canonical)) {
      throw new DomainError('forbidden', 'CA certificates are not revoked through the Authority (keysmith ca revoke-intermediate)');
    }
    // Committed when this resolves; only then do the caches forget the serial.
    const record = await this.store.revoke(canonical, reason, this.clock.now());
    const failures: unknown[] = [];
    for (const listener of this.revocationListeners) {
      try {
        listener(canonical);
      } catch (err) {
        failures.push(err);
      }
    }
    if (failures.length > 0) {
      throw new AggregateError(
        failures,
        `certificate ${canonical} is revoked in the ledger, but ${failures.length} revocation listener(s) failed`,
      );
    }
    return record;
  }

  /** Runs after each certificate is recorded (metrics); must not throw. */
  onIssued(listener: (profile: ProfileName) => void): void {
    this.issuanceListeners.push(listener);
  }

  /** Runs after each step of `issue` with its wall time in ms (metrics, bench/svid); must not throw. */
  onStepTimed(listener: (step: IssueStep, ms: number) => void): void {
    this.stepListeners.push(listener);
  }

  /** Runs after every successful revocation, with the canonical serial. */
  onRevoked(listener: (serial: string) => void): void {
    this.revocationListeners.push(listener);
  }

  /** The issuing intermediate's notAfter: no leaf outlives it (front ends refuse requests past it). */
  get issuerNotAfter(): number {
    return this.issuer.notAfter;
  }

  /** The trust bundle: the root certificate. The intermediate travels in each chain. */
  bundlePem(): string {
    return this.material.root.certPem;
  }

  /**
   * The hot path for leaves (src/x509/leaf-template.ts): DER spliced into
   * encodings made once per shape, signed with node:crypto, then checked by
   * signature verification and a DER walk. The ledger row comes from the
   * template that check just compared the certificate with.
   */
  private async buildFromTemplate(signing: Signing, encoded: EncodedLeaf, plan: LeafPlan, timer: StepTimer): Promise<BuiltCertificate> {
    const { template } = encoded;
    timer('build');
    const pool = this.deps.leafSigner;
    let der: Uint8Array;
    if (pool === undefined) {
      der = await signing.leafTemplate.sign(encoded);
      timer('sign');
      await signing.leafTemplate.check(der, encoded);
    } else {
      // Signed and checked in one worker job: the step shows as 'sign', 'check' keeps only what follows.
      der = await pool.signLeaf(signing.leafTemplate.signingKeys, encoded.tbs, leafExpectation(encoded));
      timer('sign');
    }
    const sans = template.subjectAltNames ?? [];
    const uris = sans.filter((san) => san.type === 'uri').map((san) => san.value);
    // describeCertificate's rule: the SPIFFE ID is the one URI SAN (X509-SVID §2); planLeaf put it there.
    const spiffeId = uris.length === 1 ? (uris[0] ?? null) : null;
    if (spiffeId !== plan.spiffeId || (plan.spiffeId === null && uris.length > 0)) {
      throw new Error(`issued certificate ${template.serial}: SPIFFE ID does not match the request`);
    }
    const fields: CertificateFields = {
      serial: template.serial,
      issuer: signing.issuer.nameText,
      subject: formatDistinguishedName(template.subject),
      sans,
      spiffeId,
      notBefore: template.notBefore,
      notAfter: template.notAfter,
      fingerprint: createHash('sha256').update(der).digest('hex'),
    };
    timer('check');
    return { der, fields };
  }

  /** Everything else (CA-shaped or unusual templates): the asn1-schema builder, then a full re-parse. */
  private async buildWithSchemas(
    signing: Signing,
    template: CertificateTemplate,
    plan: LeafPlan,
    timer: StepTimer,
  ): Promise<BuiltCertificate> {
    const prepared = prepareCertificate(template, signing.issuer);
    timer('build');
    const der = await signCertificate(prepared);
    timer('sign');
    const described = checkIssuedCertificate(der, prepared);
    if (described.spiffeId !== plan.spiffeId)
      throw new Error(`issued certificate ${template.serial}: SPIFFE ID does not match the request`);
    timer('check');
    return { der, fields: certificateFields(described) };
  }

  /** With shards, the leaf's CRL DP is its shard's URL: derived from the serial, so the CRL build finds the same shard. */
  private crlDistributionPoint(crlUrl: string | undefined, serial: string): { crlUrl?: string } {
    const shards = this.deps.crlShards ?? 1;
    if (crlUrl === undefined || shards <= 1) return {};
    return { crlUrl: crlShardUrl(crlUrl, crlShardOf(serial, shards)) };
  }

  private async freshSerial(): Promise<string> {
    for (let attempt = 0; attempt < SERIAL_ATTEMPTS; attempt++) {
      const serial = randomSerial(this.deps.random);
      if (!(await this.store.isSerialTaken(serial))) return serial;
    }
    throw new Error(`no unused serial after ${SERIAL_ATTEMPTS} attempts: the random source is broken`);
  }

  private timer(): StepTimer {
    const listeners = this.stepListeners;
    if (listeners.length === 0) return () => undefined;
    let last = performance.now();
    return (step) => {
      const now = performance.now();
      for (const listener of listeners) listener(step, now - last);
      last = now;
    };
  }
}

type StepTimer = (step: IssueStep) => void;

/** The intermediate one issuance signs with, taken once at its start. */
interface Signing {
  readonly material: CaMaterial;
  readonly issuer: CertificateIssuer;
  readonly leafTemplate: LeafTemplate;
}

interface BuiltCertificate {
  readonly der: Uint8Array;
  /** Taken from what the check after signing compared the certificate with. */
  readonly fields: CertificateFields;
}
