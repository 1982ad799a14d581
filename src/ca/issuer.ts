import { createPublicKey, generateKeyPair, webcrypto, X509Certificate, type KeyObject } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { systemClock, type Clock } from '../shared/clock.js';
import type { ProfileName } from '../domain/certificates.js';
import {
  checkIssuedCertificate,
  describeCertificate,
  fromPem,
  issuerFromCertificate,
  parseTrustDomain,
  prepareCertificate,
  randomSerial,
  selfIssuer,
  signCertificate,
  toPem,
  type CertificateIssuer,
  type CertificateTemplate,
  type DistinguishedName,
  type IssuerCurve,
} from '../x509/index.js';
import { exportPrivateKey, fixMode, PASSPHRASE_VARIABLE, readPrivateKey, syncDirectory, writeDurably } from './key-files.js';
import { toNewRecord } from './ledger-record.js';
import type { CertificateStore } from './ports.js';
import { BACKDATE_MS } from './profiles.js';
import { listIntermediates } from './intermediate-files.js';
import { LONGEST_LEAF_MS, readIntermediates, type IntermediateView } from './intermediate-states.js';
import { lifeLeft } from './rotation.js';

/** The CA hierarchy as the Authority uses it. Only the intermediate's key is loaded: the root key stays on disk (or offline). */
export interface CaMaterial {
  readonly root: { readonly certDer: Uint8Array; readonly certPem: string };
  readonly intermediate: {
    /** Lowercase hex. */
    readonly serial: string;
    /** The original `intermediate.*.pem` pair, not one added by a rotation (its leaves name the plain CRL URL). */
    readonly isOriginal: boolean;
    readonly certDer: Uint8Array;
    readonly certPem: string;
    /** WebCrypto key, non-extractable: what certificates are signed with. */
    readonly key: webcrypto.CryptoKey;
    /** The same key for node:crypto (e.g. OCSP response signing). */
    readonly keyObject: KeyObject;
  };
  readonly trustDomain: string;
}

export interface LoadOptions {
  readonly dataDir: string;
  readonly trustDomain: string;
  /** Decrypts the CA keys (the operator passes KEYSMITH_CA_PASSPHRASE). */
  readonly passphrase?: string;
  readonly clock?: Clock;
  /** Problems that do not stop loading: loose file modes (fixed), an unencrypted key despite a passphrase, an intermediate near its end. */
  readonly onWarning?: (message: string) => void;
  /** Intermediates the ledger records revoked (serial to revokedAt): never chosen to sign. */
  readonly revoked?: ReadonlyMap<string, number>;
  /** Rotation timing (RotationPolicy); default the longest leaf lifetime keysmith issues. */
  readonly longestLeafMs?: number;
  /** Warn when the active intermediate has less than this share (0..1) of its life left and no successor is prepared; default 0.2. */
  readonly renewWarningShare?: number;
}

export interface InitOptions {
  readonly dataDir: string;
  readonly trustDomain: string;
  readonly passphrase?: string;
  /** Curve for new CA keys; an existing CA keeps its own. Default P-256. */
  readonly algorithm?: IssuerCurve;
  readonly store: CertificateStore;
  readonly clock: Clock;
  /** As LoadOptions. */
  readonly revoked?: ReadonlyMap<string, number>;
  readonly renewWarningShare?: number;
}

export interface InitResult {
  readonly material: CaMaterial;
  readonly created: boolean;
  readonly warnings: readonly string[];
}

const FILES = {
  rootKey: 'root.key.pem',
  rootCert: 'root.cert.pem',
  intermediateKey: 'intermediate.key.pem',
  intermediateCert: 'intermediate.cert.pem',
} as const;

/** Where the hierarchy lives: `<dataDir>/ca/`, 0700, keys 0600 (PKCS#8 PEM, encrypted with a passphrase). */
export function caPaths(dataDir: string): { dir: string } & Record<keyof typeof FILES, string> {
  return filesIn(join(dataDir, 'ca'));
}

function filesIn(dir: string): { dir: string } & Record<keyof typeof FILES, string> {
  return {
    dir,
    rootKey: join(dir, FILES.rootKey),
    rootCert: join(dir, FILES.rootCert),
    intermediateKey: join(dir, FILES.intermediateKey),
    intermediateCert: join(dir, FILES.intermediateCert),
  };
}

const ROOT_YEARS = 10;
export const INTERMEDIATE_YEARS = 5;
export const DEFAULT_RENEW_WARNING_SHARE = 0.2;

const generateEcKeyPair = promisify(generateKeyPair);
// Staging directory names are unique per process (pid) and per call (counter).
let stagingCount = 0;

/**
 * Loads the CA in `<dataDir>/ca/`, or creates it there when the directory is
 * absent: root (10 years, pathLen 1) and intermediate (5 years, pathLen 0,
 * URI name constraint on the trust domain), both recorded in the ledger as
 * requester 'system'. A CA found on disk whose certificates are missing from
 * the ledger (a crash between the two writes) is recorded again.
 */
export async function initCertificateAuthority(o: InitOptions): Promise<InitResult> {
  parseTrustDomain(o.trustDomain);
  if (o.passphrase === '') throw new Error(`${PASSPHRASE_VARIABLE} is set but empty`);
  const warnings: string[] = [];
  const paths = caPaths(o.dataDir);
  let created = false;
  if (!existsSync(paths.dir)) created = await createHierarchy(o);
  const material = await loadCertificateAuthority({
    dataDir: o.dataDir,
    trustDomain: o.trustDomain,
    clock: o.clock,
    ...(o.revoked === undefined ? {} : { revoked: o.revoked }),
    ...(o.renewWarningShare === undefined ? {} : { renewWarningShare: o.renewWarningShare }),
    onWarning: (message) => warnings.push(message),
    ...(o.passphrase === undefined ? {} : { passphrase: o.passphrase }),
  });
  const curve = curveOfKey(material.intermediate.keyObject);
  if (!created && o.algorithm !== undefined && o.algorithm !== curve) {
    warnings.push(`the CA keys are ${curve}; the ${o.algorithm} setting applies only when a CA is created`);
  }
  await ensureRecorded(o.store, material.root.certDer, 'root', o.clock, created ? undefined : warnings);
  // Every intermediate in ca/, rotated ones too: a crash between writing one and recording it is repaired here.
  for (const intermediate of listIntermediates(paths.dir)) {
    await ensureRecorded(o.store, intermediate.certDer, 'intermediate', o.clock, created ? undefined : warnings);
  }
  return { material, created, warnings };
}

/**
 * Loads an existing CA: the root certificate and the intermediate that signs
 * now (src/ca/rotation.ts: the original pair, or a rotated one whose
 * activation has come). Throws a plain Error naming the problem (no CA,
 * wrong passphrase, broken chain, other trust domain).
 */
export async function loadCertificateAuthority(o: LoadOptions): Promise<CaMaterial> {
  const paths = caPaths(o.dataDir);
  const warn = o.onWarning ?? ((): void => undefined);
  const now = (o.clock ?? systemClock).now();
  if (!existsSync(paths.dir)) throw new Error(`no CA in ${paths.dir}`);
  fixMode(paths.dir, 0o700, warn);
  for (const file of [paths.rootCert, paths.intermediateCert, paths.intermediateKey]) {
    if (!existsSync(file)) throw new Error(`the CA in ${paths.dir} is incomplete: ${file} is missing`);
  }
  // The root key may have been moved offline; when present it is held to the same mode.
  for (const file of [paths.rootKey, paths.intermediateKey]) if (existsSync(file)) fixMode(file, 0o600, warn);

  const rootDer = fromPem(readFileSync(paths.rootCert, 'utf8'));
  const states = readIntermediates(paths.dir, now, { longestLeafMs: o.longestLeafMs ?? LONGEST_LEAF_MS, revoked: o.revoked ?? new Map() });
  const active = states.find((i) => i.state === 'active');
  if (active === undefined) {
    const original = states.find((i) => i.isOriginal);
    if (original !== undefined && original.notAfter <= now) {
      throw new Error(
        `the intermediate CA in ${paths.dir} expired at ${new Date(original.notAfter).toISOString()}: prepare a new one with \`keysmith ca rotate\``,
      );
    }
    throw new Error(`${paths.dir} holds no usable intermediate CA (all expired, revoked or not yet active): see \`keysmith ca status\``);
  }
  const material = await loadIntermediateMaterial(rootDer, active, o, warn, paths.dir);
  const share = o.renewWarningShare ?? DEFAULT_RENEW_WARNING_SHARE;
  const hasSuccessor = states.some((i) => i.state === 'prepared');
  const warning = renewalWarning(active, now, share, hasSuccessor);
  if (warning !== undefined) warn(warning);
  return material;
}

/** The key of one intermediate on disk, checked against the root, and the CaMaterial that signs with it. */
export async function loadIntermediateMaterial(
  rootDer: Uint8Array,
  intermediate: IntermediateView,
  o: Pick<LoadOptions, 'passphrase' | 'trustDomain'>,
  warn: (message: string) => void,
  dir: string,
): Promise<CaMaterial> {
  if (existsSync(intermediate.keyPath)) fixMode(intermediate.keyPath, 0o600, warn);
  const keyObject = readPrivateKey(intermediate.keyPath, o.passphrase, 'CA key', warn);
  checkHierarchy(rootDer, intermediate.certDer, keyObject, o.trustDomain, dir);
  return {
    root: { certDer: rootDer, certPem: toPem(rootDer) },
    intermediate: {
      serial: intermediate.serial,
      isOriginal: intermediate.isOriginal,
      certDer: intermediate.certDer,
      certPem: intermediate.certPem,
      key: await importSigningKey(keyObject),
      keyObject,
    },
    trustDomain: o.trustDomain,
  };
}

/**
 * The operator's warning when the active intermediate has less than `share`
 * of its life left and nothing is prepared to succeed it; undefined otherwise.
 */
export function renewalWarning(active: IntermediateView, now: number, share: number, hasSuccessor: boolean): string | undefined {
  const left = lifeLeft(active, now);
  if (hasSuccessor || left >= share) return undefined;
  return (
    `the intermediate CA ${active.serial} has ${(left * 100).toFixed(1)}% of its life left (expires ${new Date(active.notAfter).toISOString()}): ` +
    'run `keysmith ca rotate` (docs/ca-lifecycle.md)'
  );
}

// ---------------------------------------------------------------- creation

async function createHierarchy(o: InitOptions): Promise<boolean> {
  const curve = o.algorithm ?? 'P-256';
  const paths = caPaths(o.dataDir);
  mkdirSync(o.dataDir, { recursive: true, mode: 0o700 });
  const now = o.clock.now();
  const notBefore = Math.floor((now - BACKDATE_MS) / 1000) * 1000;
  const names = caNames(o.trustDomain);

  const rootKeys = await generateEcKeyPair('ec', { namedCurve: curve });
  const rootSigningKey = await importSigningKey(rootKeys.privateKey);
  const rootSpki = new Uint8Array(rootKeys.publicKey.export({ type: 'spki', format: 'der' }));
  const rootTemplate: CertificateTemplate = {
    serial: randomSerial(),
    subject: names.root,
    notBefore,
    notAfter: addYears(notBefore, ROOT_YEARS),
    publicKey: rootSpki,
    basicConstraints: { ca: true, pathLength: 1 },
    keyUsage: ['keyCertSign', 'cRLSign'],
  };
  const rootDer = await signChecked(rootTemplate, selfIssuer(names.root, rootSpki, rootSigningKey));

  const intermediateKeys = await generateEcKeyPair('ec', { namedCurve: curve });
  const rootIssuer = issuerFromCertificate(rootDer, rootSigningKey);
  const intermediateTemplate: CertificateTemplate = {
    serial: randomSerial(),
    subject: names.intermediate,
    notBefore,
    notAfter: Math.min(addYears(notBefore, INTERMEDIATE_YEARS), rootIssuer.notAfter),
    publicKey: new Uint8Array(intermediateKeys.publicKey.export({ type: 'spki', format: 'der' })),
    basicConstraints: { ca: true, pathLength: 0 },
    keyUsage: ['keyCertSign', 'cRLSign'],
    // Clients that honour RFC 5280 §4.2.1.10 then accept from this CA only SPIFFE IDs of our trust domain; DNS names stay open for tls-server.
    permittedUriHosts: [o.trustDomain],
  };
  const intermediateDer = await signChecked(intermediateTemplate, rootIssuer);

  // Written into a staging directory and renamed into place, so a crash never leaves half a CA.
  const staging = join(o.dataDir, `.ca-staging-${process.pid}-${++stagingCount}`);
  // Only a crashed earlier process with the same pid can have left this name behind.
  rmSync(staging, { recursive: true, force: true });
  mkdirSync(staging, { mode: 0o700 });
  try {
    chmodSync(staging, 0o700);
    const staged = filesIn(staging);
    writeDurably(staged.rootKey, exportPrivateKey(rootKeys.privateKey, o.passphrase), 0o600);
    writeDurably(staged.rootCert, toPem(rootDer), 0o644);
    writeDurably(staged.intermediateKey, exportPrivateKey(intermediateKeys.privateKey, o.passphrase), 0o600);
    writeDurably(staged.intermediateCert, toPem(intermediateDer), 0o644);
    syncDirectory(staging);
    try {
      renameSync(staging, paths.dir);
    } catch (err) {
      // Another process created the CA first: use theirs.
      if (existsSync(paths.dir)) return false;
      throw err;
    }
    syncDirectory(o.dataDir);
  } finally {
    if (existsSync(staging)) rmSync(staging, { recursive: true, force: true });
  }
  return true;
}

export async function signChecked(template: CertificateTemplate, issuer: CertificateIssuer): Promise<Uint8Array> {
  const prepared = prepareCertificate(template, issuer);
  const der = await signCertificate(prepared);
  checkIssuedCertificate(der, prepared);
  return der;
}

export function caNames(trustDomain: string): { root: DistinguishedName; intermediate: DistinguishedName } {
  // RFC 5280 ub-organizational-unit-name is 64; a longer trust domain is left out of the DN (the name constraint carries it).
  const unit: DistinguishedName = trustDomain.length <= 64 ? [{ type: 'OU', value: trustDomain }] : [];
  return {
    root: [{ type: 'O', value: 'keysmith' }, ...unit, { type: 'CN', value: 'keysmith root CA' }],
    intermediate: [{ type: 'O', value: 'keysmith' }, ...unit, { type: 'CN', value: 'keysmith intermediate CA' }],
  };
}

export function addYears(ms: number, years: number): number {
  const date = new Date(ms);
  date.setUTCFullYear(date.getUTCFullYear() + years);
  return date.getTime();
}

// ---------------------------------------------------------------- loading

/** The chain, the key and the trust domain must be the ones this configuration expects. */
export function checkHierarchy(rootDer: Uint8Array, intermediateDer: Uint8Array, key: KeyObject, trustDomain: string, dir: string): void {
  const root = new X509Certificate(rootDer);
  const intermediate = new X509Certificate(intermediateDer);
  if (!root.ca || !root.checkIssued(root) || !root.verify(root.publicKey))
    throw new Error(`${dir}: the root certificate is not a self-signed CA certificate`);
  if (!intermediate.ca || !intermediate.checkIssued(root) || !intermediate.verify(root.publicKey)) {
    throw new Error(`${dir}: the intermediate certificate is not a CA certificate signed by the root`);
  }
  const certified = intermediate.publicKey.export({ type: 'spki', format: 'der' });
  if (!createPublicKey(key).export({ type: 'spki', format: 'der' }).equals(certified)) {
    throw new Error(`${dir}: the intermediate key does not belong to the intermediate certificate`);
  }
  curveOfKey(key);
  const constraints = describeCertificate(intermediateDer).permittedUriHosts;
  if (constraints.length !== 1 || constraints[0] !== trustDomain) {
    throw new Error(
      `${dir}: the CA was made for trust domain ${constraints.join(', ') || '(none)'}, the configuration says ${trustDomain}`,
    );
  }
}

export function curveOfKey(key: KeyObject): IssuerCurve {
  const curve = key.asymmetricKeyDetails?.namedCurve;
  if (key.asymmetricKeyType === 'ec' && curve === 'prime256v1') return 'P-256';
  if (key.asymmetricKeyType === 'ec' && curve === 'secp384r1') return 'P-384';
  throw new Error(`CA keys must be ECDSA P-256 or P-384, found ${key.asymmetricKeyType ?? 'unknown'} ${curve ?? ''}`.trim());
}

/** A non-extractable WebCrypto signing key from a node:crypto private key. */
export async function importSigningKey(key: KeyObject): Promise<webcrypto.CryptoKey> {
  const der = key.export({ type: 'pkcs8', format: 'der' });
  return webcrypto.subtle.importKey('pkcs8', der, { name: 'ECDSA', namedCurve: curveOfKey(key) }, false, ['sign']);
}

/** Records a CA certificate the ledger lacks. After creation that is the normal path; later it means the ledger lost the row, which is worth a warning. */
export async function ensureRecorded(
  store: Pick<CertificateStore, 'findBySerial' | 'recordIssued'>,
  der: Uint8Array,
  profile: ProfileName,
  clock: Clock,
  warnings: string[] | undefined,
): Promise<void> {
  const described = describeCertificate(der);
  if ((await store.findBySerial(described.serial)) !== undefined) return;
  await store.recordIssued(toNewRecord(der, described, profile, 'system', clock.now()));
  warnings?.push(`the ${profile} certificate ${described.serial} was missing from the ledger and has been recorded`);
}
