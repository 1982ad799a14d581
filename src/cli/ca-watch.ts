import {
  caPaths,
  DEFAULT_RENEW_WARNING_SHARE,
  lifeLeft,
  listIntermediates,
  loadIntermediateMaterial,
  LONGEST_LEAF_MS,
  readIntermediates,
  renewalWarning,
  revokedIntermediates,
  x509BundleChanges,
  type CaMaterial,
  type CertificateStore,
  type IntermediateView,
  type Authority,
  arlPath,
  type PublishedSetHistory,
} from '../ca/index.js';
import type { Clock } from '../shared/clock.js';
import { readFileSync, existsSync } from 'node:fs';

/*
 * How a running node follows CA rotations without a restart: it re-reads
 * `<dataDir>/ca/` (the intermediates and their schedules, the ARL) and the
 * ledger's status of those intermediates (revocations) at start and every
 * `caReloadInterval` (default 10 s). Polling, not inotify: on PostgreSQL the
 * nodes each hold a copy of ca/ (README "Running several nodes"), and the
 * activation instant is in the files, so every node switches at the same
 * moment (give or take the interval) whether or not it saw a file change.
 */

export interface CaSnapshot {
  readonly at: number;
  readonly intermediates: readonly IntermediateView[];
  /** Prepared, active and retiring: the trust bundle's intermediates. */
  readonly published: readonly IntermediateView[];
  readonly active: IntermediateView;
  /** The ARL (`ca/arl.der`), when one was signed. */
  readonly arl: Uint8Array | undefined;
}

export interface CaWatchOptions {
  readonly dataDir: string;
  readonly trustDomain: string;
  readonly passphrase?: string;
  readonly clock: Clock;
  readonly ledger: Pick<CertificateStore, 'statusOf'>;
  readonly authority: Authority;
  /** Share (0..1) of the active intermediate's life below which the renewal warning shows; default 0.2. */
  readonly warningShare?: number;
  readonly longestLeafMs?: number;
}

export class CaWatch {
  private readonly o: CaWatchOptions;
  private readonly materials = new Map<string, CaMaterial>();
  private readonly listeners: ((snapshot: CaSnapshot) => Promise<void> | void)[] = [];
  private latestSnapshot: CaSnapshot | undefined;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<CaSnapshot> | undefined;
  /** The intermediates' revocations the ledger gave at the last successful read. */
  private revoked: ReadonlyMap<string, number> | undefined;
  private revokedSet: ReadonlySet<string> = new Set();
  /** The states the listeners last took in full. */
  private appliedKey: string | undefined;
  /** The largest sequence handed out: never goes back, even if a bound moved (rotation.ts). */
  private sequenceFloor = 0;

  constructor(options: CaWatchOptions) {
    this.o = options;
    const active = options.authority.material;
    this.materials.set(active.intermediate.serial, active);
  }

  get snapshot(): CaSnapshot {
    if (this.latestSnapshot === undefined) throw new Error('CaWatch.refresh() has not run yet');
    return this.latestSnapshot;
  }

  /** Runs after every refresh whose states differ from the last ones every listener took (and after the first). */
  onChange(listener: (snapshot: CaSnapshot) => Promise<void> | void): void {
    this.listeners.push(listener);
  }

  /** Re-reads ca/ and the ledger; switches the Authority when the active intermediate changed. One at a time. */
  refresh(): Promise<CaSnapshot> {
    this.running ??= this.refreshOnce().finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  private async refreshOnce(): Promise<CaSnapshot> {
    const now = this.o.clock.now();
    const dir = caPaths(this.o.dataDir).dir;
    const serials = listIntermediates(dir).map((i) => i.serial);
    // The API never revokes a CA certificate (keysmith ca revoke-intermediate does).
    this.o.authority.noteCaSerials(serials);
    let revoked: ReadonlyMap<string, number>;
    try {
      revoked = await revokedIntermediates(this.o.ledger, serials);
      this.revoked = revoked;
    } catch (err) {
      // The ledger is unreachable (PostgreSQL down): ca/ is still followed, with the revocations known last; the database health check reports the outage.
      if (this.revoked === undefined) throw err;
      revoked = this.revoked;
    }
    const intermediates = readIntermediates(dir, now, { longestLeafMs: this.o.longestLeafMs ?? LONGEST_LEAF_MS, revoked });
    const active = intermediates.find((i) => i.state === 'active');
    // No usable intermediate (all expired or revoked): keep signing with what we have; the health check says so.
    const current = this.o.authority.material.intermediate.serial;
    const activeView = active ?? intermediates.find((i) => i.serial === current);
    if (activeView === undefined) throw new Error(`${dir}: the intermediate ${current} this node signs with is gone`);
    if (active !== undefined && active.serial !== current) this.o.authority.useIntermediate(await this.materialOf(active));
    // Read after the ledger, on purpose: `ca revoke-intermediate` renames the ARL into place before it records
    // the revocation (ca/intermediate-ops.ts), so an intermediate this snapshot drops is listed in this ARL.
    const arlFile = arlPath(dir);
    const snapshot: CaSnapshot = {
      at: now,
      intermediates,
      published: intermediates.filter((i) => i.state === 'prepared' || i.state === 'active' || i.state === 'retiring'),
      active: activeView,
      arl: existsSync(arlFile) ? new Uint8Array(readFileSync(arlFile)) : undefined,
    };
    this.latestSnapshot = snapshot;
    this.revokedSet = new Set(intermediates.filter((i) => i.state === 'revoked').map((i) => i.serial));
    const key = stateKey(snapshot);
    if (key !== this.appliedKey) {
      // Recorded only once every listener took it: one that failed (a key that would not load) is retried at the next refresh.
      for (const listener of this.listeners) await listener(snapshot);
      this.appliedKey = key;
    }
    return snapshot;
  }

  /** Serials of the intermediates the ledger records revoked (the TLS layer refuses chains through them). */
  revokedCaSerials(): ReadonlySet<string> {
    return this.revokedSet;
  }

  /** The key and certificate of one intermediate, loaded (and checked) once. */
  async materialOf(intermediate: IntermediateView): Promise<CaMaterial> {
    const known = this.materials.get(intermediate.serial);
    if (known !== undefined) return known;
    const material = await loadIntermediateMaterial(
      this.o.authority.material.root.certDer,
      intermediate,
      { trustDomain: this.o.trustDomain, ...(this.o.passphrase === undefined ? {} : { passphrase: this.o.passphrase }) },
      () => undefined,
      caPaths(this.o.dataDir).dir,
    );
    this.materials.set(intermediate.serial, material);
    return material;
  }

  /** The trust bundle PEM: the root, then every published intermediate (so a relying party has them before they sign). */
  bundlePem(): string {
    return this.o.authority.material.root.certPem + this.snapshot.published.map((i) => i.certPem).join('');
  }

  /** DER of the X.509 authorities, root first. */
  authorities(): Uint8Array[] {
    return [this.o.authority.material.root.certDer, ...this.snapshot.published.map((i) => i.certDer)];
  }

  /** The instants the published X.509 set changed (bundleSequence adds the JWT authority's). */
  /** The X.509 part of the SPIFFE bundle's history: when its published intermediates last changed (bundle-sequence.ts). */
  x509History(): PublishedSetHistory {
    return { lastChangedAt: (now) => Math.max(0, ...x509BundleChanges(this.snapshot.intermediates, now)) };
  }

  /** Keeps a sequence from ever going back (a retiring intermediate's bound cannot move, but a clock can). */
  monotonic(sequence: number): number {
    this.sequenceFloor = Math.max(this.sequenceFloor, sequence);
    return this.sequenceFloor;
  }

  /** The active intermediate's share of life left (0..1), for the gauge. */
  lifeLeft(): number {
    return lifeLeft(this.snapshot.active, this.o.clock.now());
  }

  /** The operator's warning, with the command to run, or undefined while the intermediate has enough life or a successor is prepared. */
  renewalWarning(): string | undefined {
    const snapshot = this.snapshot;
    const hasSuccessor = snapshot.intermediates.some((i) => i.state === 'prepared');
    return renewalWarning(snapshot.active, this.o.clock.now(), this.o.warningShare ?? DEFAULT_RENEW_WARNING_SHARE, hasSuccessor);
  }

  start(everyMs: number, onError: (err: unknown) => void): void {
    this.stop();
    this.timer = setInterval(() => {
      this.refresh().catch(onError);
    }, everyMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
  }
}

function stateKey(snapshot: CaSnapshot): string {
  return `${snapshot.intermediates.map((i) => `${i.serial}:${i.state}:${i.activateAt}`).join(',')}|${snapshot.arl?.byteLength ?? 0}:${snapshot.arl === undefined ? '' : Buffer.from(snapshot.arl.slice(-16)).toString('hex')}`;
}
