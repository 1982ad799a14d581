import { createPrivateKey, createPublicKey, generateKeyPair, webcrypto, X509Certificate, type KeyObject } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { promisify } from 'node:util';
import type { Clock } from '../shared/clock.js';
import { DomainError } from '../shared/errors.js';
import type { RevocationReason } from '../domain/certificates.js';
import {
  buildCaRequestPem,
  caRequestPublicKey,
  crlIssuerOf,
  describeCertificate,
  encodeCrlTbs,
  fromPem,
  issuerFromCertificate,
  joinCrl,
  normalizeSerial,
  randomSerial,
  toPem,
  type CertificateTemplate,
  type CrlEntry,
  type DistinguishedName,
} from '../x509/index.js';
import { arlPath, pendingKeyPath, replaceFile, rescheduleIntermediate, rotatedDir, writeIntermediate } from './intermediate-files.js';
import { LONGEST_LEAF_MS, readIntermediates, type IntermediateView } from './intermediate-states.js';
import {
  addYears,
  caNames,
  caPaths,
  checkHierarchy,
  curveOfKey,
  ensureRecorded,
  importSigningKey,
  INTERMEDIATE_YEARS,
  signChecked,
} from './issuer.js';
import { exportPrivateKey, PASSPHRASE_VARIABLE, readPrivateKey, writeDurably } from './key-files.js';
import { ecdsaSigner } from './ocsp-signer.js';
import type { CertificateStore } from './ports.js';
import { BACKDATE_MS } from './profiles.js';

/*
 * The operator's CA lifecycle (keysmith ca ...): preparing a new
 * intermediate (with the root key here, or through a request signed by the
 * offline root), moving its activation, revoking a compromised one with an
 * ARL signed by the root. Each step writes `ca/` crash-safely
 * (intermediate-files.ts) and then records the certificate in the ledger;
 * a crash between the two is repaired at the next start (ensureRecorded).
 */

const generateEcKeyPair = promisify(generateKeyPair);

/** The ARL is signed by the root, which may be offline: it is valid long enough to be re-signed at leisure (`keysmith ca arl`). */
export const ARL_VALIDITY_MS = 180 * 24 * 3_600_000;

export interface CaOpsContext {
  readonly dataDir: string;
  readonly trustDomain: string;
  readonly passphrase?: string;
  readonly clock: Clock;
  readonly store: Pick<CertificateStore, 'findBySerial' | 'recordIssued' | 'revoke' | 'statusOf'>;
  /** The URL of the ARL (`<revocation base>/crl/root`), written into new intermediates' CRL distribution points (RFC 5280 §4.2.1.13). */
  readonly arlUrl?: string;
}

/** What signing with the root needs: no ledger (the offline machine has none). */
export type SignContext = Omit<CaOpsContext, 'store'>;

/** The root key is not in `ca/` (moved offline): names the file and the offline path. */
export class RootKeyOfflineError extends Error {
  constructor(
    readonly path: string,
    offlineHint: string,
  ) {
    super(`the root key ${path} is not here (an offline root): ${offlineHint}; see docs/ca-lifecycle.md, "Offline root"`);
    this.name = 'RootKeyOfflineError';
  }
}

interface RootSigner {
  readonly certDer: Uint8Array;
  readonly keyObject: KeyObject;
  readonly key: webcrypto.CryptoKey;
}

async function loadRoot(ctx: SignContext, offlineHint: string): Promise<RootSigner> {
  const paths = caPaths(ctx.dataDir);
  if (!existsSync(paths.rootKey)) throw new RootKeyOfflineError(paths.rootKey, offlineHint);
  const certDer = fromPem(readFileSync(paths.rootCert, 'utf8'));
  const keyObject = readPrivateKey(paths.rootKey, ctx.passphrase, 'root CA key', () => undefined);
  const certified = new X509Certificate(certDer).publicKey.export({ type: 'spki', format: 'der' });
  if (!createPublicKey(keyObject).export({ type: 'spki', format: 'der' }).equals(certified)) {
    throw new Error(`${paths.rootKey} is not the key of ${paths.rootCert}`);
  }
  return { certDer, keyObject, key: await importSigningKey(keyObject) };
}

/** The intermediates of this CA with their states now (revocations from the ledger). */
export async function intermediateStates(ctx: Pick<CaOpsContext, 'dataDir' | 'clock' | 'store'>): Promise<IntermediateView[]> {
  const dir = caPaths(ctx.dataDir).dir;
  const now = ctx.clock.now();
  const first = readIntermediates(dir, now, { longestLeafMs: LONGEST_LEAF_MS, revoked: new Map() });
  return readIntermediates(dir, now, {
    longestLeafMs: LONGEST_LEAF_MS,
    revoked: await revokedIntermediates(
      ctx.store,
      first.map((i) => i.serial),
    ),
  });
}

/** Which of `serials` the ledger records revoked, and when. */
export async function revokedIntermediates(
  store: Pick<CertificateStore, 'statusOf'>,
  serials: readonly string[],
): Promise<Map<string, number>> {
  const revoked = new Map<string, number>();
  for (const serial of serials) {
    const status = await store.statusOf(serial);
    if (status?.status === 'revoked' && status.revokedAt !== null) revoked.set(serial, status.revokedAt);
  }
  return revoked;
}

/** A rotated intermediate's subject: the trust domain's, with the serial in the CN so each CA has its own issuer name (one CRL, one OCSP responder each). */
function rotatedName(trustDomain: string, serial: string): DistinguishedName {
  return caNames(trustDomain).intermediate.map((a) =>
    a.type === 'CN' ? { type: 'CN', value: `keysmith intermediate CA ${serial.slice(0, 16)}` } : a,
  );
}

/** The intermediate profile (as at creation: pathLen 0, keyCertSign+cRLSign, URI name constraint on the trust domain), signed by the root. */
async function signIntermediate(ctx: SignContext, root: RootSigner, publicKey: Uint8Array): Promise<Uint8Array> {
  const now = ctx.clock.now();
  const notBefore = Math.floor((now - BACKDATE_MS) / 1000) * 1000;
  const rootIssuer = issuerFromCertificate(root.certDer, root.key);
  const serial = randomSerial();
  if (rootIssuer.notAfter <= now) throw new Error('the root CA has expired: a new root is a new trust domain bundle, not a rotation');
  const template: CertificateTemplate = {
    serial,
    subject: rotatedName(ctx.trustDomain, serial),
    notBefore,
    notAfter: Math.min(addYears(notBefore, INTERMEDIATE_YEARS), rootIssuer.notAfter),
    publicKey,
    basicConstraints: { ca: true, pathLength: 0 },
    keyUsage: ['keyCertSign', 'cRLSign'],
    // RFC 5280 §4.2.1.10, as for the first intermediate: only SPIFFE IDs of this trust domain.
    permittedUriHosts: [ctx.trustDomain],
    ...(ctx.arlUrl === undefined ? {} : { crlUrl: ctx.arlUrl }),
  };
  return signChecked(template, rootIssuer);
}

/** One rotation at a time: a second prepared intermediate would make `ca activate` ambiguous and the overlap meaningless. */
async function refuseIfPrepared(ctx: CaOpsContext): Promise<void> {
  const prepared = (await intermediateStates(ctx)).find((i) => i.state === 'prepared');
  if (prepared !== undefined) {
    throw new DomainError(
      'conflict',
      `intermediate ${prepared.serial} is already prepared (it signs from ${new Date(prepared.activateAt).toISOString()}): \`keysmith ca activate\` it, or wait`,
    );
  }
}

/** `ca rotate` with the root key here: a new key and intermediate, written to `ca/` and recorded; it activates at `activateAt`. */
export async function prepareIntermediate(ctx: CaOpsContext, activateAt: number): Promise<IntermediateView> {
  await refuseIfPrepared(ctx);
  const root = await loadRoot(ctx, 'prepare a request with `keysmith ca rotate --csr-out FILE` and have it signed where the root key is');
  const curve = curveOfKey(root.keyObject);
  const keys = await generateEcKeyPair('ec', { namedCurve: curve });
  const certDer = await signIntermediate(ctx, root, new Uint8Array(keys.publicKey.export({ type: 'spki', format: 'der' })));
  return install(ctx, certDer, exportPrivateKey(keys.privateKey, ctx.passphrase), activateAt);
}

/** `ca rotate --csr-out`: a new key kept in `ca/intermediates/pending.key.pem` and the PKCS#10 request for it. */
export async function requestIntermediate(ctx: CaOpsContext): Promise<{ readonly csrPem: string; readonly keyPath: string }> {
  const dir = caPaths(ctx.dataDir);
  const keyPath = pendingKeyPath(dir.dir);
  if (existsSync(keyPath)) {
    throw new DomainError(
      'conflict',
      `a request is already pending (${keyPath}): import its certificate with --import-cert, or delete that file to start over`,
    );
  }
  const rootDer = fromPem(readFileSync(dir.rootCert, 'utf8'));
  // The root's own key fixes the curve of its intermediates (issuer.ts creates both on one curve).
  const keys = await generateEcKeyPair('ec', { namedCurve: curveOfKey(new X509Certificate(rootDer).publicKey) });
  const pkcs8 = keys.privateKey.export({ type: 'pkcs8', format: 'der' });
  const spki = keys.publicKey.export({ type: 'spki', format: 'der' });
  const namedCurve = curveOfKey(keys.privateKey);
  const privateKey = await webcrypto.subtle.importKey('pkcs8', pkcs8, { name: 'ECDSA', namedCurve }, false, ['sign']);
  const publicKey = await webcrypto.subtle.importKey('spki', spki, { name: 'ECDSA', namedCurve }, true, ['verify']);
  const csrPem = await buildCaRequestPem(`O=keysmith, CN=keysmith intermediate CA request`, privateKey, publicKey);
  mkdirSync(rotatedDir(dir.dir), { recursive: true, mode: 0o700 });
  writeDurably(keyPath, exportPrivateKey(keys.privateKey, ctx.passphrase), 0o600);
  return { csrPem, keyPath };
}

/** `ca rotate --sign-csr` where the root key is (the offline machine): the intermediate certificate for a request, PEM. */
export async function signIntermediateRequest(ctx: SignContext, csrPem: string): Promise<string> {
  const root = await loadRoot(ctx, 'run this where the root key is (the offline machine)');
  const publicKey = await caRequestPublicKey(csrPem);
  return toPem(await signIntermediate(ctx, root, publicKey));
}

/** `ca rotate --import-cert`: installs the certificate signed by the offline root for the pending key, recorded and scheduled. */
export async function importIntermediate(ctx: CaOpsContext, certPem: string, activateAt: number): Promise<IntermediateView> {
  const dir = caPaths(ctx.dataDir);
  const keyPath = pendingKeyPath(dir.dir);
  if (!existsSync(keyPath))
    throw new DomainError('notFound', `no pending key (${keyPath}): start with \`keysmith ca rotate --csr-out FILE\``);
  const keyPem = readFileSync(keyPath, 'utf8');
  const certDer = fromPem(certPem);
  const view = await install(ctx, certDer, keyPem, activateAt);
  rmSync(keyPath, { force: true });
  return view;
}

async function install(ctx: CaOpsContext, certDer: Uint8Array, keyPem: string, activateAt: number): Promise<IntermediateView> {
  await refuseIfPrepared(ctx);
  const dir = caPaths(ctx.dataDir);
  const rootDer = fromPem(readFileSync(dir.rootCert, 'utf8'));
  if (keyPem.includes('ENCRYPTED') && ctx.passphrase === undefined)
    throw new Error(`the new intermediate's key is encrypted: set ${PASSPHRASE_VARIABLE}`);
  const key = keyPem.includes('ENCRYPTED') ? createPrivateKey({ key: keyPem, passphrase: ctx.passphrase ?? '' }) : createPrivateKey(keyPem);
  // The chain to our root, the key, the trust domain's name constraint: as every load checks.
  checkHierarchy(rootDer, certDer, key, ctx.trustDomain, dir.dir);
  const now = ctx.clock.now();
  writeIntermediate(dir.dir, certDer, keyPem, { preparedAt: now, activateAt: Math.max(now, activateAt) });
  await ensureRecorded(ctx.store, certDer, 'intermediate', ctx.clock, undefined);
  const serial = describeCertificate(certDer).serial;
  const view = (await intermediateStates(ctx)).find((i) => i.serial === serial);
  if (view === undefined) throw new Error(`intermediate ${serial} was written but is not listed`);
  return view;
}

/** `ca activate [SERIAL]`: the prepared intermediate (the only one, or SERIAL) signs from now on. */
export async function activateNow(ctx: CaOpsContext, serial?: string): Promise<IntermediateView> {
  const states = await intermediateStates(ctx);
  const prepared = states.filter((i) => i.state === 'prepared' && (serial === undefined || i.serial === normalizeSerial(serial)));
  const target = prepared[0];
  if (target === undefined)
    throw new DomainError(
      'notFound',
      serial === undefined ? 'no prepared intermediate: run `keysmith ca rotate` first' : `${serial} is not a prepared intermediate`,
    );
  if (prepared.length > 1)
    throw new DomainError('conflict', `several intermediates are prepared (${prepared.map((i) => i.serial).join(', ')}): name one`);
  rescheduleIntermediate(caPaths(ctx.dataDir).dir, target.serial, ctx.clock.now());
  const after = (await intermediateStates(ctx)).find((i) => i.serial === target.serial);
  if (after === undefined) throw new Error('unreachable: the intermediate vanished');
  return after;
}

/**
 * `ca revoke-intermediate SERIAL`: the compromise case. Needs the root key
 * (the ARL is signed by the root). The active intermediate is revoked only
 * when a prepared one can take over: that one is activated first, so
 * issuance never stops; otherwise the command refuses and says to rotate.
 */
export async function revokeIntermediate(
  ctx: CaOpsContext,
  serial: string,
  reason: RevocationReason,
): Promise<{ readonly arlPath: string; readonly activated?: string }> {
  const root = await loadRoot(
    ctx,
    'the ARL is signed by the root: for this ceremony put the root key at that path (e.g. from its offline medium), run the command, and take the key away again',
  );
  const canonical = normalizeSerial(serial);
  const states = await intermediateStates(ctx);
  const target = states.find((i) => i.serial === canonical);
  if (target === undefined) throw new DomainError('notFound', `${canonical} is not an intermediate of this CA`);
  if (target.state === 'revoked') throw new DomainError('conflict', `intermediate ${canonical} is already revoked`);
  let activated: string | undefined;
  if (target.state === 'active') {
    const successor = states.find((i) => i.state === 'prepared');
    if (successor === undefined) {
      throw new DomainError(
        'conflict',
        `intermediate ${canonical} is the active one and none is prepared: run \`keysmith ca rotate --activate-after 0s\` first, then revoke it`,
      );
    }
    rescheduleIntermediate(caPaths(ctx.dataDir).dir, successor.serial, ctx.clock.now());
    activated = successor.serial;
  }
  // The ARL first, the ledger second. `serve` (cli/ca-watch.ts) drops an intermediate from the trust
  // bundle once the ledger records it revoked, and reads the ledger before ca/arl.der in each reload:
  // with the ARL already in place when the ledger changes, no reload can see the intermediate gone
  // from the bundle while /crl/root does not list it (RFC 5280 §5: the relying parties' signal).
  // A crash between the two leaves an ARL listing a revocation the ledger lacks: relying parties
  // already refuse the intermediate (the operator's decision, only not yet recorded), which is the
  // safe side; the other order would have left it unrevoked everywhere. Rerunning the command
  // finds the intermediate not revoked in the ledger, signs the ARL again and records it.
  const revokedAt = ctx.clock.now();
  const path = await writeArl(ctx, root, { serial: canonical, revokedAt, reason });
  await ctx.store.revoke(canonical, reason, revokedAt);
  return activated === undefined ? { arlPath: path } : { arlPath: path, activated };
}

/** `ca arl`: re-signs the ARL (before its nextUpdate, with the root key). */
export async function resignArl(ctx: CaOpsContext): Promise<string> {
  const root = await loadRoot(
    ctx,
    'the ARL is signed by the root: for this ceremony put the root key at that path, run the command, and take the key away again',
  );
  return writeArl(ctx, root);
}

/**
 * The ARL (RFC 5280 §5: a CRL whose issuer is the root, listing the revoked
 * CA certificates it issued), written to `ca/arl.der`, where `serve` finds it.
 * `pending` is a revocation the ledger records only after this file is in place (revokeIntermediate).
 * The CRL number is the signing second: it only grows (§5.2.3) without a counter to keep.
 */
async function writeArl(ctx: CaOpsContext, root: RootSigner, pending?: CrlEntry): Promise<string> {
  const states = await intermediateStates(ctx);
  const entries: CrlEntry[] = [];
  for (const i of states) {
    if (i.serial === pending?.serial) entries.push(pending);
    if (i.revokedAt === undefined || i.serial === pending?.serial) continue;
    const record = await ctx.store.findBySerial(i.serial);
    entries.push({ serial: i.serial, revokedAt: i.revokedAt, reason: record?.revocationReason ?? null });
  }
  const now = ctx.clock.now();
  const thisUpdate = Math.floor(now / 1000) * 1000;
  const issuer = crlIssuerOf(issuerFromCertificate(root.certDer, root.key));
  const tbs = encodeCrlTbs({ thisUpdate, nextUpdate: thisUpdate + ARL_VALIDITY_MS, crlNumber: Math.floor(now / 1000), entries }, issuer);
  const der = joinCrl(tbs, issuer.curve, ecdsaSigner(root.keyObject, issuer.curve)(tbs));
  const path = arlPath(caPaths(ctx.dataDir).dir);
  replaceFile(path, der, 0o644);
  return path;
}
