/**
 * What a keysmith configuration may hold: every setting with its type,
 * bounds and default (zod), and the checks across settings. Where the values
 * come from (the file, KEYSMITH_* variables) and how errors are worded is
 * config.ts.
 */
import { isIP } from 'node:net';
import { z } from 'zod';
import { cidrProblem, listenHostProblem, trustDomainProblem } from './config-rules.js';
import { PROFILE_NAMES, type ProfileName } from './domain/certificates.js';

/** `host:port`, with IPv6 hosts in brackets; port 0 (any free port, read back once bound) only where `allowAnyPort`. */
function listenSchema(options: { readonly allowAnyPort: boolean }) {
  const lowest = options.allowAnyPort ? 0 : 1;
  return z
    .string()
    .regex(/^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):\d{1,5}$/, 'expected host:port, e.g. 127.0.0.1:8443')
    .transform((value, ctx) => {
      const at = value.lastIndexOf(':');
      const port = Number(value.slice(at + 1));
      if (port < lowest || port > 65535) ctx.addIssue({ code: 'custom', message: `port ${port} is outside ${lowest}..65535` });
      const host = value.slice(0, at);
      const problem = listenHostProblem(host);
      if (problem !== undefined) ctx.addIssue({ code: 'custom', message: problem });
      return { host: host.replace(/^\[|\]$/g, ''), port };
    });
}
const ListenSchema = listenSchema({ allowAnyPort: false });

/** Durations as operators write them: 90s, 15m, 12h, 7d. */
export const DurationSchema = z
  .string()
  .regex(/^\d+(s|m|h|d)$/, 'expected a duration such as 90s, 15m, 12h or 7d')
  .transform((value) => parseDuration(value));

export function parseDuration(value: string): number {
  const match = /^(\d+)(s|m|h|d)$/.exec(value);
  if (match === null) throw new RangeError(`not a duration: ${value}`);
  const unit = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 }[match[2] as 's' | 'm' | 'h' | 'd'];
  return Number(match[1]) * unit;
}

/** An expiry-alert threshold: alert when notAfter is this close; `profiles` null means every profile. */
export interface AlertThreshold {
  readonly withinMs: number;
  readonly profiles: readonly ProfileName[] | null;
}

const THRESHOLD_ENTRY = /^(\d+(?:s|m|h|d))(?::([a-z-]+(?:\+[a-z-]+)*))?$/;
const MAX_THRESHOLD_MS = 3650 * 86_400_000;

/** "7d", "30d,7d", or scoped to profiles: "7d,30d:root+intermediate"; tightest first. */
export function parseAlertThresholds(text: string): AlertThreshold[] {
  const entries = text.split(',').map((entry) => entry.trim());
  if (entries.some((entry) => entry === '')) throw new RangeError('expected durations separated by commas, e.g. 30d,7d');
  const thresholds: AlertThreshold[] = [];
  for (const entry of entries) {
    const match = THRESHOLD_ENTRY.exec(entry);
    if (match === null || match[1] === undefined) throw new RangeError(`'${entry}' is not DURATION or DURATION:profile+profile, e.g. 30d:root+intermediate`);
    const withinMs = parseDuration(match[1]);
    if (withinMs <= 0 || withinMs > MAX_THRESHOLD_MS) throw new RangeError(`'${entry}': expected a duration from 1s to 3650d`);
    const names = match[2]?.split('+') ?? null;
    const unknown = names?.filter((name) => !PROFILE_NAMES.some((p) => p === name)) ?? [];
    if (unknown.length > 0) throw new RangeError(`'${entry}': unknown profile ${unknown.join(', ')} (expected ${PROFILE_NAMES.join(', ')})`);
    if (thresholds.some((t) => t.withinMs === withinMs)) throw new RangeError(`'${entry}': the duration ${match[1]} is given twice`);
    thresholds.push({ withinMs, profiles: names === null ? null : PROFILE_NAMES.filter((p) => names.includes(p)) });
  }
  return thresholds.sort((a, b) => a.withinMs - b.withinMs);
}

/** A comma-separated list in the environment, or a list in the file. */
const ListSchema = z.union([z.string(), z.array(z.string())]).transform((value) =>
  (Array.isArray(value) ? value : value.split(',')).map((item) => item.trim()).filter((item) => item !== ''),
);

const CapSchema = z.number().int().min(1, 'expected at least 1').max(10_000, 'expected at most 10000');

/** Expiry alert settings (src/alerts): schedule, what is expiring, where alerts go, how hard they push. */
const ALERT_FIELDS = {
  /** Cron expression evaluated in UTC (5 fields, or 6 with seconds), or 'off' to run only on request. */
  alertsSchedule: z
    .string()
    .trim()
    .regex(/^(?:off|\S+(?:\s+\S+){4,5})$/, "expected a cron expression of 5 or 6 fields (UTC), e.g. '0 9 * * *', or 'off'")
    .default('0 9 * * *'),
  alertsThresholds: z
    .union([z.string(), z.array(z.string())])
    .transform((value, ctx) => {
      try {
        return parseAlertThresholds(Array.isArray(value) ? value.join(',') : value);
      } catch (err) {
        ctx.addIssue({ code: 'custom', message: err instanceof Error ? err.message : String(err) });
        return z.NEVER;
      }
    })
    .default([{ withinMs: 7 * 86_400_000, profiles: null }]),
  alertsMode: z.enum(['per-certificate', 'digest']).default('per-certificate'),
  alertsWebhookUrl: z.url({ protocol: /^https?$/, error: 'expected an http:// or https:// URL' }).optional(),
  /** HMAC-SHA256 key for the signature header; required with alertsWebhookUrl. */
  alertsWebhookSecret: z.string().min(16, 'expected at least 16 characters').optional(),
  /** Overall deadline of one webhook attempt (DNS, connect, request, the answer's head), not an idle timeout. */
  alertsWebhookTimeout: DurationSchema.pipe(z.number().min(1_000, 'expected at least 1s').max(300_000, 'expected at most 5m')).default(10_000),
  alertsSmtpHost: z.string().min(1).optional(),
  alertsSmtpPort: z.number().int().min(1).max(65535).default(587),
  /** true: TLS from the first byte (port 465); false: STARTTLS when the server offers it. */
  alertsSmtpSecure: z.union([z.boolean(), z.stringbool()]).default(false),
  alertsSmtpUser: z.string().min(1).optional(),
  alertsSmtpPassword: z.string().min(1).optional(),
  /** Overall deadline of one SMTP exchange, from connect to QUIT (nodemailer's own timeouts are idle timeouts). */
  alertsSmtpTimeout: DurationSchema.pipe(z.number().min(1_000, 'expected at least 1s').max(300_000, 'expected at most 5m')).default(30_000),
  /**
   * With alertsSmtpUser and not alertsSmtpSecure, STARTTLS is required before AUTH (nodemailer requireTLS):
   * credentials never cross in clear text. true sends them in clear text when the server offers no STARTTLS (logged at start).
   */
  alertsSmtpAllowPlaintextAuth: z.union([z.boolean(), z.stringbool()]).default(false),
  /** PEM file of the CA certificates that verify the SMTP server (default: Node's bundled roots); verification is always on. */
  alertsSmtpCaFile: z.string().min(1).optional(),
  alertsMailFrom: z.string().min(3).optional(),
  alertsMailTo: ListSchema.pipe(z.array(z.email('expected mail addresses separated by commas')).min(1, 'expected at least one address')).optional(),
  /** Messages one run may send in all, and to one recipient; the rest go out on the next run. */
  alertsMaxPerRun: CapSchema.default(100),
  alertsMaxPerRecipient: CapSchema.default(20),
  /** Attempts per message before it is marked failed. */
  alertsMaxAttempts: z.number().int().min(1, 'expected at least 1').max(50, 'expected at most 50').default(8),
  /** Overall deadline of one delivery pass (a run's sending, or a resend of what is due); what is left waits for the next pass. */
  alertsRunTimeout: DurationSchema.pipe(z.number().min(1_000, 'expected at least 1s').max(3_600_000, 'expected at most 1h')).default(300_000),
};

function checkAlertSettings(
  config: {
    alertsWebhookUrl?: string | undefined;
    alertsWebhookSecret?: string | undefined;
    alertsWebhookTimeout: number;
    alertsSmtpHost?: string | undefined;
    alertsSmtpTimeout: number;
    alertsMailFrom?: string | undefined;
    alertsMailTo?: string[] | undefined;
    alertsRunTimeout: number;
  },
  ctx: z.RefinementCtx,
): void {
  if (config.alertsRunTimeout < Math.max(config.alertsWebhookTimeout, config.alertsSmtpTimeout)) {
    ctx.addIssue({ code: 'custom', path: ['alertsRunTimeout'], message: 'expected at least alertsWebhookTimeout and alertsSmtpTimeout: a pass must have time for one attempt' });
  }
  if (config.alertsWebhookUrl !== undefined && config.alertsWebhookSecret === undefined) {
    ctx.addIssue({ code: 'custom', path: ['alertsWebhookSecret'], message: 'expected with alertsWebhookUrl: webhook bodies are signed with it' });
  }
  const mail = { alertsSmtpHost: config.alertsSmtpHost, alertsMailFrom: config.alertsMailFrom, alertsMailTo: config.alertsMailTo };
  if (Object.values(mail).some((v) => v !== undefined)) {
    for (const [field, value] of Object.entries(mail)) {
      if (value === undefined) ctx.addIssue({ code: 'custom', path: [field], message: 'expected: mail alerts need alertsSmtpHost, alertsMailFrom and alertsMailTo' });
    }
  }
}

/** A DNS name as a policy entry: lowercase labels; a leading '.' is dropped (".example.test" and "example.test" mean the same). */
const DNS_SUFFIX = /^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/;

/** `address/prefix` with the prefix within the family's width, e.g. 10.0.0.0/8 or fd00::/8. */
export function isCidr(text: string): boolean {
  const slash = text.lastIndexOf('/');
  if (slash < 0) return false;
  const family = isIP(text.slice(0, slash));
  const prefix = text.slice(slash + 1);
  if (family === 0 || !/^\d{1,3}$/.test(prefix)) return false;
  return Number(prefix) <= (family === 4 ? 32 : 128);
}

/** A list of CIDRs (comma-separated, or a list in the file); each bad item is named with what is wrong. */
function cidrListSchema(example: string) {
  const item = z.string().superRefine((value, ctx) => {
    const problem = cidrProblem(value);
    if (problem !== undefined) ctx.addIssue({ code: 'custom', message: `${problem}; expected CIDRs separated by commas, e.g. ${example}` });
  });
  return ListSchema.pipe(z.array(item));
}

/** An address node:dns can ask (no names: resolving the resolver would need a resolver). */
function isDnsServer(text: string): boolean {
  const match = /^(?:\[([0-9A-Fa-f:.]+)\]|([0-9.]+))(?::(\d{1,5}))?$/.exec(text);
  if (match === null) return false;
  const family = isIP(match[1] ?? match[2] ?? '');
  const port = Number(match[3] ?? '53');
  return family !== 0 && (family === 6) === (match[1] !== undefined) && port >= 1 && port <= 65535;
}

/** ACME (src/acme): identifier policy (deny by default), account rules, and where validation connects (closed networks and tests). */
const ACME_FIELDS = {
  /** Connect here for http-01 and tls-alpn-01 instead of resolving the name (e.g. 127.0.0.1). */
  acmeValidationAddress: z.string().refine((value) => isIP(value) !== 0, 'expected an IPv4 or IPv6 address').optional(),
  /** CIDRs validation may connect to although the address policy refuses them (loopback, reserved blocks); empty: none. */
  acmeValidationRoutableRanges: cidrListSchema('127.0.0.0/8').default([]),
  acmeHttp01Port: z.number().int().min(1).max(65535).default(80),
  acmeTlsAlpn01Port: z.number().int().min(1).max(65535).default(443),
  /** `ip:port` or `[ipv6]:port` (port optional, 53) of the DNS server asked for dns-01 TXT records; the system resolver when unset. */
  acmeDnsResolver: z.string().refine(isDnsServer, 'expected ip:port or [ipv6]:port, e.g. 127.0.0.1:53').optional(),
  /** Names that may be ordered: a name equal to an entry or below it. Empty refuses every DNS identifier. */
  acmeAllowedSuffixes: ListSchema.transform((items) => items.map((item) => item.toLowerCase().replace(/^\./, ''))).pipe(
    z.array(z.string().regex(DNS_SUFFIX, 'expected DNS names separated by commas, e.g. example.test,svc.internal')),
  ).default([]),
  /** IP identifiers that may be ordered, as CIDRs. Empty refuses every IP identifier. */
  acmeAllowedIpRanges: cidrListSchema('10.0.0.0/8,fd00::/8').default([]),
  /** Accounts must be bound to a key from `keysmith acme eab create` (RFC 8555 §7.3.4). */
  acmeEabRequired: z.union([z.boolean(), z.stringbool()]).default(false),
  /** Directory meta (RFC 8555 §7.1.1). */
  acmeTermsOfService: z.url({ protocol: /^https?$/, error: 'expected an http:// or https:// URL' }).optional(),
  acmeWebsite: z.url({ protocol: /^https?$/, error: 'expected an http:// or https:// URL' }).optional(),
  /** Challenge validations in flight at once, all accounts together: bounds the sockets validation holds (a few per validation). */
  acmeMaxValidations: z.number().int().min(1, 'expected at least 1').max(1_024, 'expected at most 1024').default(64),
  /** Validations in flight at once for one account; the rest of its validations wait their turn. */
  acmeMaxValidationsPerAccount: z.number().int().min(1, 'expected at least 1').max(1_024, 'expected at most 1024').default(8),
  /** Validations waiting, all accounts together; past it a challenge response is answered rateLimited with Retry-After. */
  acmeMaxQueuedValidations: z.number().int().min(1, 'expected at least 1').max(1_000_000, 'expected at most 1000000').default(4_096),
  /** Validations waiting for one account. */
  acmeMaxQueuedValidationsPerAccount: z.number().int().min(1, 'expected at least 1').max(1_000_000, 'expected at most 1000000').default(1_024),
};

/** The scheduler's caps must nest: one account never gets more than everyone together. */
function checkAcmeValidationLimits(config: { acmeMaxValidations: number; acmeMaxValidationsPerAccount: number; acmeMaxQueuedValidations: number; acmeMaxQueuedValidationsPerAccount: number }, ctx: z.RefinementCtx): void {
  if (config.acmeMaxValidationsPerAccount > config.acmeMaxValidations) {
    ctx.addIssue({ code: 'custom', path: ['acmeMaxValidationsPerAccount'], message: 'expected at most acmeMaxValidations' });
  }
  if (config.acmeMaxQueuedValidationsPerAccount > config.acmeMaxQueuedValidations) {
    ctx.addIssue({ code: 'custom', path: ['acmeMaxQueuedValidationsPerAccount'], message: 'expected at most acmeMaxQueuedValidations' });
  }
}

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
  jwtRotationOverlap: DurationSchema.pipe(z.number().min(300_000, 'expected at least 5m').max(30 * DAY_MS, 'expected at most 30d')).default(DAY_MS),
  /** How often `serve` re-reads ca/jwt-keys.json for a key `keysmith ca rotate-jwt` prepared (no restart needed). */
  jwtKeyCheckInterval: DurationSchema.pipe(z.number().min(1_000, 'expected at least 1s').max(600_000, 'expected at most 10m')).default(10_000),
};

/** The listener (src/tls/net, src/http/server-factory): how many connections, and how long each may take. */
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
  /** A TLS handshake not finished within this is aborted (handshake_failure). */
  handshakeTimeout: DurationSchema.pipe(z.number().min(1_000, 'expected at least 1s').max(300_000, 'expected at most 5m')).default(10_000),
  /** From a request's first byte (or the end of the handshake) to the end of its head. */
  headersTimeout: DurationSchema.pipe(z.number().min(1_000, 'expected at least 1s').max(600_000, 'expected at most 10m')).default(20_000),
  /** From a request's first byte to its last; at least headersTimeout. */
  requestTimeout: DurationSchema.pipe(z.number().min(1_000, 'expected at least 1s').max(3_600_000, 'expected at most 1h')).default(30_000),
  /** An idle keep-alive connection is closed after this (above common load-balancer idle timeouts, 60 s). */
  keepAliveTimeout: DurationSchema.pipe(z.number().min(1_000, 'expected at least 1s').max(3_600_000, 'expected at most 1h')).default(72_000),
};

/** Every setting, by its file key (the environment's names are in ENVIRONMENT). */
export const CONFIG_SHAPE = {
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
    caReloadInterval: DurationSchema.pipe(z.number().min(1_000, 'expected at least 1s').max(3_600_000, 'expected at most 1h')).default(10_000),
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
    ...LISTENER_FIELDS,
    ...ALERT_FIELDS,
    /** OCSP responses: nextUpdate - thisUpdate (RFC 5019 §2.2.4); cached responses are re-signed after half of it. */
    ocspValidity: DurationSchema.pipe(z.number().min(60_000, 'expected at least 1m').max(7 * 86_400_000, 'expected at most 7d')).default(3_600_000),
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
    crlValidity: DurationSchema.pipe(z.number().min(600_000, 'expected at least 10m').max(30 * 86_400_000, 'expected at most 30d')).default(86_400_000),
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
    /** How often a worker thread checkpoints the ledger's WAL (off the event loop; src/ledger/checkpoint.ts). */
    ledgerCheckpointInterval: DurationSchema.pipe(z.number().min(1_000, 'expected at least 1s').max(600_000, 'expected at most 10m')).default(1_000),
    /** The WAL file is cut back to this many bytes after a checkpoint (SQLite journal_size_limit). */
    ledgerWalSizeLimit: z.number().int().min(0, 'expected at least 0').max(1 << 30, 'expected at most 1073741824').default(64 * 1024 * 1024),
    /** Retention (src/ledger/retention.ts): rows are pruned this long after they stopped mattering (a certificate's notAfter, an order's expiry, a message's delivery). */
    retentionPeriod: DurationSchema.pipe(z.number().min(0, 'expected at least 0s').max(3650 * 86_400_000, 'expected at most 3650d')).default(90 * 86_400_000),
    /** How often `serve` runs the pruner (one node of a cluster, under the `retention` lease); 0 turns the schedule off (`keysmith prune` still works). */
    retentionInterval: DurationSchema.pipe(z.number().min(0).max(7 * 86_400_000, 'expected at most 7d')).default(3_600_000),
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
      ctx.addIssue({ code: 'custom', path: ['headersTimeout'], message: 'expected at most requestTimeout, which counts from the same first byte' });
    }
    if (config.crlRefreshInterval >= config.crlValidity) {
      ctx.addIssue({ code: 'custom', path: ['crlRefreshInterval'], message: 'expected less than crlValidity, so the CRL is rebuilt before it goes stale' });
    }
  })
  .superRefine(checkAlertSettings)
  .superRefine(checkAcmeValidationLimits);

export type Config = z.infer<typeof ConfigSchema>;

