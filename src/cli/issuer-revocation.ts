import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import {
  CrlPublisher,
  crlIssuerFor,
  DirectOcspSigner,
  issuerCrlUrl,
  LIFETIMES,
  OcspSigner,
  responderKeyWrap,
  type CaMaterial,
  type CrlNumberSource,
  type CrlScope,
  type OcspResponderStore,
} from '../ca/index.js';
import type { OcspPort, CrlView } from '../http/index.js';
import {
  compromisedIssuerSource,
  IssuerRouter,
  LedgerSource,
  OcspResponder,
  type IssuerRoute,
  type OcspLedger,
  type OcspResponseSigner,
} from '../ocsp/index.js';
import { type OcspResponseContent, describeCrl } from '../x509/index.js';
import { CaWatch, type CaSnapshot } from './ca-watch.js';
import { WorkerCrlBuilder } from './crl-builder.js';
import { CrlFiles } from './crl-files.js';
import { crlUrl, ledgerLocation, type Core } from './compose.js';

/*
 * OCSP and CRLs for every intermediate that has signed leaves still alive
 * (RFC 5280 §5: a CRL per issuer; RFC 6960: a response signed by the
 * issuer of the certificate in question or its delegate):
 * - the active intermediate answers through its delegated responder
 *   (OcspSigner, shared through the ledger), as before rotations existed;
 * - a retiring one (a successor signs now) signs its OCSP responses itself
 *   (DirectOcspSigner): it issues nothing any more, so no delegate;
 * - a revoked one answers `revoked` (cACompromise) for every certificate it
 *   issued, as RFC 6960 §2.7 allows, and publishes no CRL any more (the ARL
 *   revokes the whole branch);
 * - a retired one (its last leaf expired) answers nothing: `unauthorized`.
 * Each has its CRL publisher and worker; the original intermediate's CRLs
 * live at /crl (and /crl/<n>), a rotated one's at /crl/issuer/<serial>.
 */

type Role = 'active' | 'retiring' | 'revoked';

/** An OcspResponseSigner whose key can change under a LedgerSource (active to retiring: delegate to the CA itself). */
class SignerSlot implements OcspResponseSigner {
  constructor(public inner: OcspResponseSigner) {}
  get notAfter(): number {
    return this.inner.notAfter;
  }
  signResponse(content: OcspResponseContent): Uint8Array {
    return this.inner.signResponse(content);
  }
}

interface IssuerUnit {
  readonly serial: string;
  readonly material: CaMaterial;
  readonly slot: SignerSlot;
  readonly direct: DirectOcspSigner;
  readonly source: LedgerSource;
  readonly crl: CrlPublisher;
  readonly builder: WorkerCrlBuilder;
  role: Role;
  delegated: OcspSigner | undefined;
  revokedAt: number | undefined;
}

/** The /crl routes' and the revocation feed's view of every issuer's CRL publisher. */
export class IssuerCrls {
  constructor(private readonly units: () => readonly IssuerUnit[]) {}

  /** O(1) per issuer: a revocation may be of any issuer's leaf. */
  readonly noteRevoked = (): void => {
    for (const unit of this.units()) unit.crl.noteRevoked();
  };

  get builds(): number {
    let total = 0;
    for (const unit of this.units()) total += unit.crl.builds;
    return total;
  }

  /**
   * The publisher of one issuer: `issuerSerial` (a rotated intermediate, /crl/issuer/<serial>), or the
   * original intermediate's (/crl), while it publishes one (active or retiring; not revoked).
   */
  publisher(issuerSerial?: string): CrlPublisher | undefined {
    const unit = this.units().find((u) => (issuerSerial === undefined ? u.material.intermediate.isOriginal : u.serial === issuerSerial));
    return unit?.role === 'revoked' ? undefined : unit?.crl;
  }

  /** Waits for every pending build (tests). */
  async settled(): Promise<void> {
    for (const unit of this.units()) await unit.crl.settled();
  }
}

export interface Revocation {
  readonly port: OcspPort;
  /** The delegated responder of the active intermediate. */
  readonly signer: OcspSigner;
  readonly source: IssuerRouter;
  readonly crl: IssuerCrls;
  readonly watch: CaWatch;
  start(onError: (err: unknown) => void): void;
  stop(): void;
}

/**
 * Takes the delegated OCSP responder the ledger holds (issuing one only when
 * none has enough life left: src/ca/ocsp-signer.ts), sets up the CRL
 * publishers (serving the original intermediate's CRLs kept from the last
 * run, if any, at once; CRL numbers from the ledger) and hangs both caches
 * on the Authority's revocations. The CA watch (ca-watch.ts) keeps the set
 * of issuers current. On PostgreSQL the OCSP cache trusts the revocation
 * feed: whoever opens this there must also start the feed
 * (startRevocationFeed), as `serve` does.
 */
export async function openRevocation(core: Core, given?: CaWatch): Promise<Revocation> {
  const { authority, clock, config, repositories } = core;
  const watch =
    given ??
    new CaWatch({
      dataDir: config.dataDir,
      trustDomain: config.trustDomain,
      clock,
      ledger: repositories.certificates,
      authority,
      warningShare: config.caRenewWarningPercent / 100,
      ...(config.caPassphrase === undefined ? {} : { passphrase: config.caPassphrase }),
    });
  const units = new Map<string, IssuerUnit>();
  const router = new IssuerRouter();
  const crls = new IssuerCrls(() => [...units.values()]);
  let started: ((err: unknown) => void) | undefined;
  const reportError = (err: unknown): void => started?.(err);

  const sync = async (snapshot: CaSnapshot): Promise<void> => {
    const wanted = wantedRoles(snapshot);
    for (const [serial, unit] of units) {
      if (!wanted.has(serial)) {
        stopUnit(unit);
        units.delete(serial);
      }
    }
    for (const [serial, role] of wanted) {
      const view = snapshot.intermediates.find((i) => i.serial === serial);
      if (view === undefined) continue;
      let unit = units.get(serial);
      if (unit === undefined) {
        unit = createIssuerUnit(core, await watch.materialOf(view), reportError);
        units.set(serial, unit);
        if (started !== undefined && role !== 'revoked') unit.crl.start({ everyMs: config.crlRefreshInterval, onError: started });
      }
      unit.revokedAt = view.revokedAt;
      await assignRole(core, unit, role, started);
    }
    router.setRoutes(issuerRoutes(units.values(), core));
  };

  watch.onChange(sync);
  await watch.refresh();
  authority.onRevoked(router.drop);
  authority.onRevoked(crls.noteRevoked);
  const initial = units.get(authority.material.intermediate.serial)?.delegated;
  if (initial === undefined) throw new Error('no delegated OCSP responder for the active intermediate');

  return {
    port: revocationPort(core, router, crls, watch),
    signer: initial,
    source: router,
    crl: crls,
    watch,
    start(onError) {
      started = onError;
      for (const unit of units.values()) {
        unit.delegated?.start({ onError });
        if (unit.role !== 'revoked') unit.crl.start({ everyMs: config.crlRefreshInterval, onError });
      }
      if (given === undefined) watch.start(config.caReloadInterval, onError);
    },
    stop() {
      if (given === undefined) watch.stop();
      for (const unit of units.values()) stopUnit(unit);
    },
  };
}

/** Only intermediates that have signed: active, retiring, or revoked after they began to sign. */
function wantedRoles(snapshot: CaSnapshot): Map<string, Role> {
  const wanted = new Map<string, Role>();
  for (const i of snapshot.intermediates) {
    if (i.state === 'active' || i.state === 'retiring') wanted.set(i.serial, i.state);
    else if (i.state === 'revoked' && i.activateAt <= (i.revokedAt ?? 0)) wanted.set(i.serial, 'revoked');
  }
  return wanted;
}

/** The active intermediate answers through its delegated responder; any other signs its responses itself. */
async function assignRole(core: Core, unit: IssuerUnit, role: Role, started: ((err: unknown) => void) | undefined): Promise<void> {
  if (role === 'active' && unit.delegated === undefined) {
    const delegated = delegatedResponder(core, unit.material);
    await delegated.rotateIfDue();
    unit.delegated = delegated;
    unit.slot.inner = delegated;
    if (started !== undefined) delegated.start({ onError: started });
  }
  if (role !== 'active' && unit.delegated !== undefined) {
    // It issues nothing now: its responses are signed by the CA itself (RFC 6960 §4.2.2.2).
    unit.delegated.stop();
    unit.delegated = undefined;
    unit.slot.inner = unit.direct;
  }
  if (role === 'revoked') unit.crl.stop();
  unit.role = role;
}

/** The delegated OCSP responder of an intermediate, shared through the ledger with the other nodes. */
function delegatedResponder(core: Core, material: CaMaterial): OcspSigner {
  const { authority, clock, config, repositories } = core;
  const responderTtlMs = LIFETIMES.ocspSigner.defaultTtlMs;
  return new OcspSigner({
    authority,
    clock,
    certificateTtlMs: responderTtlMs,
    rotateBeforeMs: Math.floor((responderTtlMs * config.ocspResponderRenewPercent) / 100),
    shared: {
      store: repositories.ocspResponders satisfies OcspResponderStore,
      issuerName: crlIssuerFor(material).issuerName,
      keyWrap: responderKeyWrap(material.intermediate.keyObject),
      holder: `${hostname()}:${process.pid}:${randomUUID()}`,
    },
  });
}

/** One intermediate's OCSP source (signing itself until it becomes active) and CRL publisher with its worker. */
function createIssuerUnit(core: Core, material: CaMaterial, reportError: (err: unknown) => void): IssuerUnit {
  const { clock, config, repositories } = core;
  const { issuer, issuerName } = crlIssuerFor(material);
  const url = issuerCrlUrl(crlUrl(config), material.intermediate);
  const direct = new DirectOcspSigner(material.intermediate.certDer, material.intermediate.keyObject);
  const slot = new SignerSlot(direct);
  const source = new LedgerSource({
    ledger: repositories.certificates satisfies OcspLedger,
    signer: slot,
    issuerCertificate: material.intermediate.certDer,
    clock,
    validityMs: config.ocspValidity,
    maxCachedResponses: config.ocspCacheSize,
    cacheCheck: core.ledger.kind === 'postgres' ? 'revocation-feed' : 'ledger-read',
  });
  // One worker thread per issuer builds its CRLs and answers its change check off the event loop.
  const builder = new WorkerCrlBuilder({
    ledger: ledgerLocation(config),
    issuerName,
    issuer,
    signingKey: material.intermediate.keyObject,
    shardCount: config.crlShards,
    crlUrl: url,
  });
  // The original intermediate's last CRLs are kept in <dataDir>/crl/ across restarts.
  const files = material.intermediate.isOriginal ? new CrlFiles(config.dataDir, issuer, url) : undefined;
  const restored = files?.restore();
  const lastNumber = files?.lastCrlNumber();
  const crl = new CrlPublisher({
    builder,
    probe: builder,
    numbers: repositories.crlNumbers satisfies CrlNumberSource,
    ...(lastNumber === undefined ? {} : { lastCrlNumber: lastNumber }),
    issuerName,
    clock,
    validityMs: config.crlValidity,
    shardCount: config.crlShards,
    debounceMs: config.crlRebuildDelayMs,
    maxDelayMs: config.crlRebuildMaxDelayMs,
    ...(files === undefined ? {} : { store: files }),
    onError: reportError,
    ...(restored === undefined ? {} : { restored }),
  });
  return {
    serial: material.intermediate.serial,
    material,
    slot,
    direct,
    source,
    crl,
    builder,
    role: 'retiring',
    delegated: undefined,
    revokedAt: undefined,
  };
}

function stopUnit(unit: IssuerUnit): void {
  unit.delegated?.stop();
  unit.crl.stop();
  void unit.builder.close();
}

/** Which source answers for each issuer: its ledger source, or for a revoked one `revoked` for everything it issued. */
function issuerRoutes(units: Iterable<IssuerUnit>, core: Core): IssuerRoute[] {
  const { clock, config } = core;
  return [...units].map((unit) => ({
    id: unit.serial,
    issuerCertificate: unit.material.intermediate.certDer,
    source:
      unit.role === 'revoked'
        ? compromisedIssuerSource({ signer: unit.direct, revokedAt: unit.revokedAt ?? 0, clock, validityMs: config.ocspValidity })
        : unit.source,
  }));
}

/** What the OCSP and CRL routes read: the responder over every issuer, each issuer's CRLs, the ARL, the issuing CA. */
function revocationPort(core: Core, router: IssuerRouter, crls: IssuerCrls, watch: CaWatch): OcspPort {
  const { authority } = core;
  return {
    responder: new OcspResponder(router),
    crl: (shard, issuerSerial) => {
      const publisher = crls.publisher(issuerSerial);
      if (publisher === undefined) return 'unknown';
      const scope: CrlScope = shard ?? 'full';
      if (!publisher.hasScope(scope)) return 'unknown';
      return publisher.current(scope) ?? 'pending';
    },
    arl: () => arlView(watch),
    issuerCertificate: () => authority.material.intermediate.certDer,
  };
}

const arlViews = new WeakMap<Uint8Array, CrlView>();

/** The ARL as the /crl/root route serves it: the file `keysmith ca revoke-intermediate` / `ca arl` signed. */
function arlView(watch: CaWatch): CrlView | undefined {
  const der = watch.snapshot.arl;
  if (der === undefined) return undefined;
  let view = arlViews.get(der);
  if (view === undefined) {
    const described = describeCrl(der);
    view = { der, thisUpdate: described.thisUpdate, nextUpdate: described.nextUpdate ?? described.thisUpdate };
    arlViews.set(der, view);
  }
  return view;
}

/** The /crl routes' view of one publisher (tests that build their own stack): never builds, never waits. */
export function crlAnswer(crl: CrlPublisher): OcspPort['crl'] {
  return (shard) => {
    const scope = shard ?? 'full';
    if (!crl.hasScope(scope)) return 'unknown';
    return crl.current(scope) ?? 'pending';
  };
}
