/**
 * What a keysmith configuration may hold: every setting with its type,
 * bounds and default (zod), and the checks across settings, grouped by
 * section (the alerts and ACME sections in alerts.ts and
 * acme.ts, the value types in values.ts). Where the values
 * come from (the file, KEYSMITH_* variables) and how errors are worded is
 * config.ts.
 */
import { z } from 'zod';
import { checkAcmeValidationLimits, ACME_FIELDS } from './acme.js';
import { ALERT_FIELDS, checkAlertSettings } from './alerts.js';
import { trustDomainProblem } from './rules.js';
import { cidrListSchema, DurationSchema, ListenSchema, listenSchema } from './values.js';

export { parseAlertThresholds, type AlertThreshold } from './alerts.js';
export { DurationSchema, isCidr, parseDuration } from './values.js';

/** The service itself: where its data lives, where it listens, its identity, its CA, its logs. */
const SERVICE_FIELDS = {
  dataDir: z.string().min(1).default('./data'),
  /** Port 0 binds any free port; the URL serve prints (and writes into certificates) carries the port it got. */
  listen: listenSchema({ allowAnyPort: true }).default({ host: '127.0.0.1', port: 8443 }),
  trustDomain: z
    .string()
    .superRefine((value, ctx) => {
      const problem = trustDomainProblem(value);
      if (problem !== undefined) ctx.addIssue({ code: 'custom', message: problem });
    })
    .default('keysmith.local'),
  mtlsMode: z.enum(['standard', 'strict']).default('standard'),
  caPassphrase: z.string().min(8, 'expected at least 8 characters').optional(),
  caAlgorithm: z.enum(['P-256', 'P-384']).default('P-256'),
  /** `keysmith ca rotate`: how long a new intermediate is published before it signs (docs/ca-lifecycle.md). */
  caRotationOverlap: DurationSchema.default(86_400_000),
  /** Warn (log, metric, /healthz detail) when the active intermediate has less than this percentage of its life left. */
  caRenewWarningPercent: z.number().int().min(1, 'expected at least 1').max(90, 'expected at most 90').default(20),
  /** How often `serve` re-reads ca/ and the ledger for rotations (a new intermediate, an activation, a revocation). */
  caReloadInterval: DurationSchema.pipe(z.number().min(1_000, 'expected at least 1s').max(3_600_000, 'expected at most 1h')).default(
    10_000,
  ),
  /** Base URL clients use to reach this service (AIA OCSP URL); default https://<listen>. */
  publicUrl: z.url().optional(),
  logLevel: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  /** Lifetime of the listener's own certificate; renewed at start when a third of it is left. */
  serverCertificateTtl: DurationSchema.default(30 * 86_400_000),
  /** Lifetime of the bootstrap admin certificate made by `init` (the CA allows at most 90 days). */
  adminCertificateTtl: DurationSchema.pipe(z.number().max(90 * 86_400_000, 'expected at most 90d')).default(90 * 86_400_000),
  /** How long SIGTERM waits for in-flight requests. */
  shutdownGraceMs: z.number().int().min(0).max(600_000).default(10_000),
  /** Worker threads for CSR checks and leaf signatures (src/x509/crypto-pool); absent: one per core (os.availableParallelism()); 0: on the event loop. */
  cryptoWorkers: z.number().int().min(0, 'expected at least 0').max(64, 'expected at most 64').optional(),
};

/** The listener (src/tls/net, src/http/server-factory): how many connections, and how long each may take. */
const LISTENER_FIELDS = {
  /**
   * TCP connections open at once, TLS handshakes included; past it a new
   * connection is closed at once. Keep it well below the process's open-file
   * limit (`ulimit -n`; Node cannot read it), which ACME validation and the
   * ledger share.
   */
  maxConnections: z.number().int().min(1, 'expected at least 1').max(1_000_000, 'expected at most 1000000').default(4096),
  /**
   * Sources (CIDRs) that put a PROXY protocol header (v1 or v2) before TLS: the TCP balancer in front of
   * several nodes. From them the header is required and names the client (rate limits, logs); from
   * anywhere else none is accepted. Empty: off.
   */
  proxyProtocolFrom: cidrListSchema('10.0.0.5/32').default([]),
  /** The lowest TLS version the listener speaks: 1.2 (default; clients without TLS 1.3, e.g. SChannel) or 1.3. */
  // A settings file's `tlsMinVersion: 1.2` is a YAML number: read it as the version it names.
  tlsMinVersion: z
    .preprocess((v) => (typeof v === 'number' ? v.toFixed(1) : v), z.enum(['1.2', '1.3'], { error: "expected '1.2' or '1.3'" }))
    .default('1.2'),
  /**
   * TLS 1.3 0-RTT (RFC 8446 §2.3): the max_early_data_size, in bytes, our session tickets advertise; 0 turns
   * early data off. Only GET/HEAD on the public read routes is served from early data; anything else gets
   * 425 Too Early (RFC 8470).
   */
  tlsEarlyData: z.number().int().min(0, 'expected at least 0').max(1_048_576, 'expected at most 1048576').default(16_384),
  /** A TLS handshake not finished within this is aborted (handshake_failure). */
  handshakeTimeout: DurationSchema.pipe(z.number().min(1_000, 'expected at least 1s').max(300_000, 'expected at most 5m')).default(10_000),
  /** From a request's first byte (or the end of the handshake) to the end of its head. */
  headersTimeout: DurationSchema.pipe(z.number().min(1_000, 'expected at least 1s').max(600_000, 'expected at most 10m')).default(20_000),
  /** From a request's first byte to its last; at least headersTimeout. */
  requestTimeout: DurationSchema.pipe(z.number().min(1_000, 'expected at least 1s').max(3_600_000, 'expected at most 1h')).default(30_000),
  /** An idle keep-alive connection is closed after this (above common load-balancer idle timeouts, 60 s). */
  keepAliveTimeout: DurationSchema.pipe(z.number().min(1_000, 'expected at least 1s').max(3_600_000, 'expected at most 1h')).default(
    72_000,
  ),
};

/** Revocation status (src/ocsp, src/ca): OCSP responses, their cache and responder, the CRLs, the plain-HTTP listener. */
const REVOCATION_FIELDS = {
  /** OCSP responses: nextUpdate - thisUpdate (RFC 5019 §2.2.4); cached responses are re-signed after half of it. */
  ocspValidity: DurationSchema.pipe(
    z
      .number()
      .min(60_000, 'expected at least 1m')
      .max(7 * 86_400_000, 'expected at most 7d'),
  ).default(3_600_000),
  /**
   * Pre-signed OCSP responses kept in memory, one per certificate asked about: ~1.1 KB each with a
   * POST and a GET key (measured, bench/ledger/ocsp-cache.ts). The default holds ~100,000 live
   * certificates with room to spare in ~130 MB; 0 turns the cache off. Eviction is O(1), oldest first.
   */
  ocspCacheSize: z.number().int().min(0, 'expected at least 0').max(10_000_000, 'expected at most 10000000').default(120_000),
  /**
   * The delegated OCSP responder certificate (shared by every node on the ledger) is reused, at start and by the
   * periodic check, while more than this percentage of its lifetime is left; below it one node issues the next.
   */
  ocspResponderRenewPercent: z.number().int().min(5, 'expected at least 5').max(90, 'expected at most 90').default(33),
  /** The CRL's nextUpdate - thisUpdate. */
  crlValidity: DurationSchema.pipe(
    z
      .number()
      .min(600_000, 'expected at least 10m')
      .max(30 * 86_400_000, 'expected at most 30d'),
  ).default(86_400_000),
  /** How often the ledger is checked for a changed revoked set (revocations by the offline CLI appear then); the CRL is also rebuilt at each revocation through the service and at half its validity. */
  crlRefreshInterval: DurationSchema.pipe(z.number().min(60_000, 'expected at least 1m')).default(300_000),
  /**
   * CRL shards: 1 publishes one CRL at /crl (named by every certificate); N > 1 also publishes /crl/0 .. /crl/N-1 and
   * each new certificate names the shard its serial falls in. Certificates keep the URL they were issued with: change it only with a new CA.
   */
  crlShards: z.number().int().min(1).max(256).default(1),
  /** Quiet time after a revocation before the CRL is rebuilt (a burst of revocations makes one build). */
  crlRebuildDelayMs: z.number().int().min(0).max(60_000).default(500),
  /** Longest a revocation waits for its CRL rebuild while a burst goes on. */
  crlRebuildMaxDelayMs: z.number().int().min(0).max(600_000).default(5_000),
  /** `host:port` of an optional plain-HTTP listener serving only /ocsp, /crl and /ca.crt; off when unset. */
  ocspHttpListen: ListenSchema.optional(),
  /** Base URL of that listener as relying parties reach it (written into certificates); default http://<ocspHttpListen>. */
  ocspHttpPublicUrl: z.url().optional(),
};

/** The SQLite ledger's upkeep and retention (src/ledger). */
const LEDGER_FIELDS = {
  /** How often a worker thread checkpoints the ledger's WAL (off the event loop; src/ledger/checkpoint.ts). */
  ledgerCheckpointInterval: DurationSchema.pipe(z.number().min(1_000, 'expected at least 1s').max(600_000, 'expected at most 10m')).default(
    1_000,
  ),
  /** The WAL file is cut back to this many bytes after a checkpoint (SQLite journal_size_limit). */
  ledgerWalSizeLimit: z
    .number()
    .int()
    .min(0, 'expected at least 0')
    .max(1 << 30, 'expected at most 1073741824')
    .default(64 * 1024 * 1024),
  /** Retention (src/ledger/retention.ts): rows are pruned this long after they stopped mattering (a certificate's notAfter, an order's expiry, a message's delivery). */
  retentionPeriod: DurationSchema.pipe(
    z
      .number()
      .min(0, 'expected at least 0s')
      .max(3650 * 86_400_000, 'expected at most 3650d'),
  ).default(90 * 86_400_000),
  /** How often `serve` runs the pruner (one node of a cluster, under the `retention` lease); 0 turns the schedule off (`keysmith prune` still works). */
  retentionInterval: DurationSchema.pipe(
    z
      .number()
      .min(0)
      .max(7 * 86_400_000, 'expected at most 7d'),
  ).default(3_600_000),
};

/**
 * The ledger's database. Without `databaseUrl`, SQLite in the data directory (one node); with a
 * postgres:// URL, PostgreSQL, which several keysmith nodes share (README, "Running several nodes").
 */
const DATABASE_FIELDS = {
  /** postgres://user:password@host:port/database (sslmode in the URL or databaseSslMode); never logged with its password. */
  databaseUrl: z
    .string()
    .regex(/^postgres(ql)?:\/\//, 'expected a postgres:// or postgresql:// URL')
    .optional(),
  /** Connections this node keeps to PostgreSQL at most. */
  databasePoolSize: z.number().int().min(1, 'expected at least 1').max(1000, 'expected at most 1000').default(10),
  /** PostgreSQL statement_timeout for every statement; 0 turns it off. */
  databaseStatementTimeout: DurationSchema.pipe(z.number().min(0).max(600_000, 'expected at most 10m')).default(5_000),
  /** TLS to PostgreSQL: disable, require (encrypted, server not verified) or verify-full. Default: the URL's sslmode, else disable. */
  databaseSslMode: z.enum(['disable', 'require', 'verify-full']).optional(),
  /** PEM bundle that verifies the PostgreSQL server for verify-full; default the system store. */
  databaseSslCaFile: z.string().min(1).optional(),
} as const;

const DAY_MS = 86_400_000;

/** SVIDs (src/svid): the ceiling of registration entries' X.509 lifetimes, and the join-token attestation rate limit per client address. */
const SVID_FIELDS = {
  /** Never above the svid profile's own 24 h. */
  svidMaxTtl: DurationSchema.pipe(z.number().min(1_000, 'expected at least 1s').max(DAY_MS, 'expected at most 24h')).default(DAY_MS),
  /** Attestations one client address may make at once. */
  joinTokenBurst: z.number().int().min(1, 'expected at least 1').max(1_000, 'expected at most 1000').default(5),
  /** Then one more per this interval. */
  joinTokenInterval: DurationSchema.pipe(z.number().min(1_000, 'expected at least 1s').max(DAY_MS, 'expected at most 24h')).default(2_000),
  /**
   * `keysmith ca rotate-jwt`: how long a new JWT-SVID key is published before it signs. Default the longest
   * JWT-SVID lifetime (24 h); at least the bundle refresh hint (5 min), so relying parties have fetched it.
   */
  jwtRotationOverlap: DurationSchema.pipe(
    z
      .number()
      .min(300_000, 'expected at least 5m')
      .max(30 * DAY_MS, 'expected at most 30d'),
  ).default(DAY_MS),
  /** How often `serve` re-reads ca/jwt-keys.json for a key `keysmith ca rotate-jwt` prepared (no restart needed). */
  jwtKeyCheckInterval: DurationSchema.pipe(z.number().min(1_000, 'expected at least 1s').max(600_000, 'expected at most 10m')).default(
    10_000,
  ),
};

/** Every setting, by its file key (the environment's names are in ENVIRONMENT). */
export const CONFIG_SHAPE = {
  ...SERVICE_FIELDS,
  ...LISTENER_FIELDS,
  ...ALERT_FIELDS,
  ...REVOCATION_FIELDS,
  ...LEDGER_FIELDS,
  ...DATABASE_FIELDS,
  ...ACME_FIELDS,
  ...SVID_FIELDS,
};

/** The one configuration schema; defaults work on a laptop. */
export const ConfigSchema = z
  .object(CONFIG_SHAPE)
  .strict()
  .superRefine((config, ctx) => {
    if (config.headersTimeout > config.requestTimeout) {
      ctx.addIssue({
        code: 'custom',
        path: ['headersTimeout'],
        message: 'expected at most requestTimeout, which counts from the same first byte',
      });
    }
    if (config.crlRefreshInterval >= config.crlValidity) {
      ctx.addIssue({
        code: 'custom',
        path: ['crlRefreshInterval'],
        message: 'expected less than crlValidity, so the CRL is rebuilt before it goes stale',
      });
    }
  })
  .superRefine(checkAlertSettings)
  .superRefine(checkAcmeValidationLimits);

export type Config = z.infer<typeof ConfigSchema>;
