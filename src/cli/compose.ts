import { isIP } from 'node:net';
import { join } from 'node:path';
import { Gauge, type Registry } from 'prom-client';
import { ConfigError, type Config } from '../config/index.js';
import { type Authority, checkClientCertificate, type ClientCertificateVerdict, crlIssuerFor, JwtKeyRing } from '../ca/index.js';
import { RevokedSerials } from '../http/index.js';
import {
  type CommitWorker,
  openLedgerBackend,
  tightenDatabaseFiles,
  type LedgerBackend,
  type LedgerLocation,
  type OpenedLedger,
} from '../ledger/index.js';
import type { Awaitable } from '../shared/awaitable.js';
import { systemClock, type Clock } from '../shared/clock.js';
import {
  createAcmeServer,
  type AcmeAuthority,
  type AcmeCertificateLookup,
  type AcmeServer,
  type AcmeServerDeps,
  type AcmeStore,
  type NonceLedger,
  createChallengeValidator,
} from '../acme/index.js';
import { connect } from '../tls/index.js';
import type { CryptoPool } from '../x509/index.js';
import {
  createSvidService,
  MAX_JWT_TTL_MS,
  type EntryStore,
  type JoinTokenStore,
  type JwtSigner,
  type SvidIssuer,
  type SvidService,
} from '../svid/index.js';
import { joinCa, joinCluster } from './core-join.js';
import { openSigning, type Signing } from './core-signing.js';
import { checkCrlShardLayout } from './crl-files.js';
import type { ClusterSecret } from './cluster-secret.js';
import { dataPaths, ensureDataDir, readIfExists, writeFileAtomic } from './files.js';
import { checkLedgerFileAccess, explainFileError } from './file-errors.js';
import { issueIdentity, writeIdentity } from './identities.js';
import { listenerNames, listenerRenewalReason, RENEWAL_REASONS } from './listener-identity.js';

/** The composed core: ledger and Authority, ready for the HTTP layer or an offline command. */
export interface Core {
  readonly config: Config;
  /** The ledger on its backend: the SQLite file (kind 'sqlite') or PostgreSQL (kind 'postgres'). */
  readonly ledger: OpenedLedger;
  /** The ledger's repositories, whichever backend holds them: the Awaitable shapes both share. */
  readonly repositories: LedgerBackend;
  readonly authority: Authority;
  /** The crypto worker pool (absent with cryptoWorkers 0); `close` ends it. */
  readonly cryptoPool?: CryptoPool;
  /**
   * Where a crypto worker's uncaught error is reported from now on (the
   * worker is replaced; its jobs fail with `busy`). Until called: a warning
   * on stderr. `serve` points it at its logger.
   */
  reportCryptoWorkerErrors(report: (error: Error) => void): void;
  readonly clock: Clock;
  readonly paths: ReturnType<typeof dataPaths>;
  /** Revocations this node has heard of (its own; on PostgreSQL also the cluster's, from the feed). */
  readonly revokedSerials: RevokedSerials;
  /** `<dataDir>/ca/cluster.key`: what every node of a cluster derives its shared keys from (ticket keys, ACME nonces). */
  readonly clusterSecret: ClusterSecret;
  /** Lines for the operator: what was created on this start. */
  readonly notices: readonly string[];
  /** SQLite: the thread that commits issued certificates (src/ledger/commit-worker.ts; its stats); undefined on PostgreSQL. */
  readonly commitWorker: CommitWorker | undefined;
  /** Commits what is queued, then closes the ledger (the PostgreSQL pool ends asynchronously). */
  close(): Promise<void>;
}

export const ADMIN_NAME = 'bootstrap';

export function adminSpiffeId(trustDomain: string): string {
  return `spiffe://${trustDomain}/admin/${ADMIN_NAME}`;
}

/** Where the ledger lives: PostgreSQL when `databaseUrl` is set, else the SQLite file in the data directory. */
export function ledgerLocation(config: Config): LedgerLocation {
  if (config.databaseUrl === undefined) {
    return { kind: 'sqlite', path: dataPaths(config.dataDir).database, walSizeLimitBytes: config.ledgerWalSizeLimit };
  }
  return {
    kind: 'postgres',
    url: config.databaseUrl,
    poolSize: config.databasePoolSize,
    statementTimeoutMs: config.databaseStatementTimeout,
    ...(config.databaseSslMode === undefined ? {} : { sslMode: config.databaseSslMode }),
    ...(config.databaseSslCaFile === undefined ? {} : { sslCaFile: config.databaseSslCaFile }),
  };
}

/**
 * Opens the ledger (where `ledgerLocation` says, applying pending
 * migrations) and the CA in the data directory, creating both on first
 * start, and keeps the listener's certificate fresh. The only place that
 * constructs adapters; offline commands and `serve` share it.
 */
export async function openCore(config: Config, options: { clock?: Clock; ensureIdentities?: boolean } = {}): Promise<Core> {
  const clock = options.clock ?? systemClock;
  const paths = dataPaths(config.dataDir);
  const notices: string[] = [];
  const ledger = await openLedgerBackend(prepareDataDir(config, notices));
  let signing: Signing | undefined;
  try {
    const repositories: LedgerBackend = ledger.ledger;
    const material = await joinCa(config, ledger, clock, notices);
    const clusterSecret = await joinCluster(config, repositories, clock, notices);
    // Before anything is issued: the shard count is part of every certificate's CRL distribution point.
    checkCrlShardLayout(config.dataDir, crlIssuerFor(material).issuer, crlUrl(config), config.crlShards);
    signing = openSigning(config, ledger, material, clock, { ocspUrl: `${revocationBaseUrl(config)}/ocsp`, crlUrl: crlUrl(config) });
    const { authority, cryptoPool } = signing;
    const revokedSerials = new RevokedSerials();
    authority.onRevoked(revokedSerials.add);
    if (readIfExists(paths.bundle) !== authority.bundlePem()) writeFileAtomic(paths.bundle, authority.bundlePem(), 0o644);
    if (options.ensureIdentities !== false) {
      await ensureServerIdentity(config, authority, repositories, paths, clock, notices);
      await ensureAdminIdentity(config, authority, paths, notices);
    }
    const opened = signing;
    return {
      config,
      ledger,
      repositories,
      authority,
      ...(cryptoPool === undefined ? {} : { cryptoPool }),
      reportCryptoWorkerErrors: (report) => opened.reportCryptoWorkerErrors(report),
      clock,
      paths,
      revokedSerials,
      clusterSecret,
      notices,
      commitWorker: opened.commitWorker,
      close: () => closeCore(opened, ledger),
    };
  } catch (err) {
    await signing?.commitWorker?.close();
    await ledger.ledger.close();
    throw explainFileError(err, 'CA and identity files', join(config.dataDir, 'ca'));
  }
}

/**
 * The data directory made and checked, and the ledger's location; permission and path problems become
 * sentences naming the path and what to do (files.ts, file-errors.ts). Warnings go to `notices`.
 */
function prepareDataDir(config: Config, notices: string[]): LedgerLocation {
  const warn = (message: string): void => {
    notices.push(`warning: ${message}`);
  };
  ensureDataDir(config.dataDir, warn);
  const location = ledgerLocation(config);
  if (location.kind === 'sqlite') {
    checkLedgerFileAccess(location.path);
    tightenDatabaseFiles(location.path, warn);
  }
  return location;
}

/** Queued rows are committed before the database goes; then the commit worker stops, then the main connection. */
async function closeCore(signing: Signing, ledger: OpenedLedger): Promise<void> {
  try {
    await signing.close();
  } finally {
    await ledger.ledger.close();
  }
}

export function publicUrl(config: Config): string {
  if (config.publicUrl !== undefined) return config.publicUrl.replace(/\/$/, '');
  // Only `serve` resolves port 0 (it binds first); any other command would write ':0' into certificate URLs.
  if (config.listen.port === 0)
    throw new ConfigError([
      'KEYSMITH_LISTEN (listen): port 0 is resolved only by `keysmith serve`; give the port serve printed, or set KEYSMITH_PUBLIC_URL',
    ]);
  const host = isIP(config.listen.host) === 6 ? `[${config.listen.host}]` : config.listen.host;
  return `https://${host}:${config.listen.port}`;
}

/**
 * Where certificates send relying parties for OCSP and the CRL (AIA, CRL
 * distribution point): the plain-HTTP listener when it is on (clients that
 * follow only http:// URLs), else the TLS listener.
 */
export function revocationBaseUrl(config: Config): string {
  if (config.ocspHttpPublicUrl !== undefined) return config.ocspHttpPublicUrl.replace(/\/$/, '');
  if (config.ocspHttpListen === undefined) return publicUrl(config);
  const { host, port } = config.ocspHttpListen;
  return `http://${isIP(host) === 6 ? `[${host}]` : host}:${port}`;
}

/** The CRL URL certificates name (with shards, `<this>/<n>`). */
export function crlUrl(config: Config): string {
  return `${revocationBaseUrl(config)}/crl`;
}

/**
 * The SVID front end of a core: the JWT-SVID key (created beside the CA keys
 * on first use), the ledger's entries and join tokens, the Authority. In
 * strict mTLS mode every connection already has a certificate, so join
 * tokens (the one way in without one) are off.
 */
export async function openSvid(
  core: Core,
  options: { onInternalError?: (error: unknown) => void; jwtKeys?: JwtKeyRing } = {},
): Promise<SvidService> {
  const { config, repositories, authority, clock } = core;
  const jwtKeys = options.jwtKeys ?? (await openJwtKeys(core));
  return createSvidService({
    entries: repositories.entries satisfies EntryStore,
    joinTokens: repositories.joinTokens satisfies JoinTokenStore,
    issuer: authority satisfies SvidIssuer,
    jwtSigner: jwtKeys satisfies JwtSigner,
    clock,
    trustDomain: config.trustDomain,
    options: {
      maxX509TtlMs: config.svidMaxTtl,
      joinTokensEnabled: config.mtlsMode !== 'strict',
      joinTokenRateLimit: { burst: config.joinTokenBurst, perSecond: 1000 / config.joinTokenInterval },
      ...(options.onInternalError === undefined ? {} : { onInternalError: options.onInternalError }),
      ...(core.cryptoPool === undefined ? {} : { checkCsr: core.cryptoPool.checkCsr.bind(core.cryptoPool) }),
    },
  });
}

/**
 * The JWT-SVID keys of the data directory (`ca/jwt-keys.json` and the key files;
 * the first key is created on first use). A retired key stays published for the
 * longest JWT-SVID lifetime after it stopped signing. `serve` re-reads the
 * schedule every jwtKeyCheckInterval (JwtKeyRing.start).
 */
export function openJwtKeys(core: Core): Promise<JwtKeyRing> {
  const { config, clock } = core;
  return JwtKeyRing.open({
    dataDir: config.dataDir,
    clock,
    retainMs: MAX_JWT_TTL_MS,
    ...(config.caPassphrase === undefined ? {} : { passphrase: config.caPassphrase }),
  });
}

/**
 * The listener's certificate (names: listener-identity.ts listenerNames), re-issued at start when
 * missing, unreadable, not matching its key, carrying other names than configured, unknown to the
 * ledger, revoked, or with a third or less of its life left; otherwise the one on disk is kept.
 */
async function ensureServerIdentity(
  config: Config,
  authority: Authority,
  repositories: LedgerBackend,
  paths: Core['paths'],
  clock: Clock,
  notices: string[],
): Promise<void> {
  const wanted = listenerNames(config);
  const reason = await listenerRenewalReason({
    certPem: readIfExists(paths.serverCert),
    keyPem: readIfExists(paths.serverKey),
    wanted,
    now: clock.now(),
    statusOf: (serial) => repositories.certificates.statusOf(serial),
  });
  if (reason === undefined) return;
  const identity = await issueIdentity(authority, {
    profile: 'tls-server',
    dnsNames: wanted.dnsNames,
    ipAddresses: wanted.ipAddresses,
    ttlMs: config.serverCertificateTtl,
    requester: 'system',
  });
  writeIdentity(identity, paths.serverCert, paths.serverKey);
  const names = [...wanted.dnsNames, ...wanted.ipAddresses].join(', ');
  notices.push(`issued the listener certificate ${identity.issued.serial} (${names}): ${RENEWAL_REASONS[reason]}`);
}

/** The first admin identity, made once; later admins are issued with `keysmith issue`. */
async function ensureAdminIdentity(config: Config, authority: Authority, paths: Core['paths'], notices: string[]): Promise<void> {
  if (readIfExists(paths.adminCert) !== undefined && readIfExists(paths.adminKey) !== undefined) return;
  const identity = await issueIdentity(authority, {
    profile: 'svid',
    spiffeId: adminSpiffeId(config.trustDomain),
    ttlMs: config.adminCertificateTtl,
    requester: 'system',
  });
  writeIdentity(identity, paths.adminCert, paths.adminKey);
  notices.push(`issued the admin certificate ${identity.issued.serial} for ${adminSpiffeId(config.trustDomain)}`);
}

/**
 * The TLS-layer policy on client certificates: refuse revoked and
 * never-issued serials. The engine's hook is synchronous, so only the
 * embedded SQLite ledger can be asked here; on PostgreSQL the handshake
 * refuses the serials this node has heard are revoked, and the HTTP layer
 * asks the ledger on every request (unknown, revoked, expired).
 */
export function clientCertificateVerdict(core: Core, leaf: { serialNumber: string; notAfter: Date }): Awaitable<ClientCertificateVerdict> {
  if (core.revokedSerials.has(leaf.serialNumber)) return 'revoked';
  if (core.ledger.kind === 'sqlite') return checkClientCertificate(core.ledger.ledger.certificates, leaf);
  return 'valid';
}

/** What a caller of composeAcme may add: rate limits (the bench lifts them), hooks, and the registry its gauges go on. */
export type AcmeExtras = Pick<AcmeServerDeps, 'limits' | 'onValidated' | 'onInternalError' | 'onOrderEnded'> & {
  readonly metrics?: Registry;
};

/**
 * The ACME server of a core, as `serve` mounts it under /acme: the
 * identifier policy and validation targets from the configuration, the
 * challenge validator over keysmith's own TLS client (tls-alpn-01), the
 * ledger's ACME store and the Authority.
 */
export function composeAcme(core: Core, extras: AcmeExtras = {}): AcmeServer {
  const { config, repositories, authority, clock } = core;
  const validator = createChallengeValidator({
    http01Port: config.acmeHttp01Port,
    tlsAlpn01Port: config.acmeTlsAlpn01Port,
    tlsConnect: connect,
    ...(config.acmeValidationAddress === undefined ? {} : { validationAddress: config.acmeValidationAddress }),
    routableRanges: config.acmeValidationRoutableRanges,
    ...(config.acmeDnsResolver === undefined ? {} : { dnsResolver: config.acmeDnsResolver }),
  });
  const server = createAcmeServer({
    baseUrl: `${publicUrl(config)}/acme`,
    store: repositories.acme satisfies AcmeStore,
    // RFC 8555 §6.5: any node with the same cluster secret accepts the nonce once; the ledger records it spent.
    nonces: { key: core.clusterSecret.acmeNonceKey(), ledger: core.repositories.nonces satisfies NonceLedger },
    certificates: repositories.certificates satisfies AcmeCertificateLookup,
    authority: authority satisfies AcmeAuthority,
    validator,
    clock,
    policy: {
      allowedSuffixes: config.acmeAllowedSuffixes,
      allowedIpRanges: config.acmeAllowedIpRanges,
      eabRequired: config.acmeEabRequired,
    },
    meta: {
      ...(config.acmeTermsOfService === undefined ? {} : { termsOfService: config.acmeTermsOfService }),
      ...(config.acmeWebsite === undefined ? {} : { website: config.acmeWebsite }),
    },
    ...(extras.limits === undefined ? {} : { limits: extras.limits }),
    ...(extras.onValidated === undefined ? {} : { onValidated: extras.onValidated }),
    ...(extras.onInternalError === undefined ? {} : { onInternalError: extras.onInternalError }),
    ...(extras.onOrderEnded === undefined ? {} : { onOrderEnded: extras.onOrderEnded }),
    // The finalize CSR check on the crypto workers, as for SVIDs (openSvid).
    ...(core.cryptoPool === undefined ? {} : { checkCsr: core.cryptoPool.checkCsr.bind(core.cryptoPool) }),
    validationLimits: {
      maxInFlight: config.acmeMaxValidations,
      maxInFlightPerAccount: config.acmeMaxValidationsPerAccount,
      maxQueued: config.acmeMaxQueuedValidations,
      maxQueuedPerAccount: config.acmeMaxQueuedValidationsPerAccount,
    },
  });
  if (extras.metrics !== undefined) acmeValidationGauges(extras.metrics, server);
  return server;
}

/** Gauges read when Prometheus scrapes: validations in flight and waiting (the scheduler's caps bound both). */
function acmeValidationGauges(registry: Registry, server: AcmeServer): void {
  const registers = [registry];
  new Gauge({
    name: 'keysmith_acme_validations_in_flight',
    help: 'ACME challenge validations running now (at most acmeMaxValidations).',
    registers,
    collect() {
      this.set(server.validationLoad.inFlight);
    },
  });
  new Gauge({
    name: 'keysmith_acme_validations_queued',
    help: 'ACME challenge validations waiting for a slot (processing to the client).',
    registers,
    collect() {
      this.set(server.validationLoad.queued);
    },
  });
}
