/**
 * What the HTTP front end needs from the rest of keysmith. The ledger, the
 * Authority and the trust-bundle store fit these shapes structurally;
 * cli/compose.ts checks each fit with `satisfies` (STYLE §2.3).
 */
import type { Awaitable } from '../shared/awaitable.js';
import type { Clock } from '../shared/clock.js';
import type {
  CertificatePage,
  CertificateQuery,
  CertificateRecord,
  ExpiryTimelineCount,
  ExpiryTimelineQuery,
  ProfileName,
  RevocationReason,
} from '../domain/certificates.js';
import type { OcspResponder } from '../ocsp/index.js';
import type { KeysmithMetrics } from './metrics.js';
import type { AlertsPort } from './routes/alerts/port.js';
import type { JwtAuthorityJwk, SvidApi } from '../svid/index.js';
import type { AcmeHandler } from '../acme/index.js';
import type { EventLoopLagSource } from './event-loop-lag.js';
import type { RevokedSerials } from './revoked-serials.js';

export type { AlertsPort };

export interface CertificateStatusView {
  readonly status: 'valid' | 'revoked';
  readonly notAfter: number;
  readonly revokedAt: number | null;
  readonly reason: RevocationReason | null;
}

/**
 * Read-only ledger access (Boulder's read-only SA client): route handlers
 * never write through it. Awaitable: either ledger backend fits.
 */
export interface CertificateReader {
  list(q: CertificateQuery): Awaitable<CertificatePage>;
  findBySerial(serial: string): Awaitable<CertificateRecord | undefined>;
  /** Cheap status lookup, run on every request that presents a client certificate. */
  statusOf(serial: string): Awaitable<CertificateStatusView | undefined>;
  /** Certificates not revoked expiring in [now, to), counted per UTC day and profile by the database (GET /v1/certificates/timeline). */
  expiryTimeline(query: ExpiryTimelineQuery): Awaitable<readonly ExpiryTimelineCount[]>;
}

/** A configured expiry-alert threshold (config alertsThresholds), as the timeline marks it. */
export interface ExpiryThresholdView {
  readonly withinMs: number;
  /** null: every profile. */
  readonly profiles: readonly ProfileName[] | null;
}

/** A CA certificate of the trust bundle or the issuing chain, as the timeline marks its notAfter. */
export interface AuthorityView {
  readonly kind: 'root' | 'intermediate';
  /** As the ledger writes names (e.g. CN=keysmith root). */
  readonly subject: string;
  /** Lowercase hex. */
  readonly serial: string;
  readonly notAfter: number;
}

/** The Authority's revocation pipeline; fails with DomainError('conflict') when already revoked. */
export interface CertificateRevoker {
  revoke(serial: string, reason: RevocationReason): Awaitable<CertificateRecord>;
}

export interface TrustBundleSource {
  /** The X.509 authorities as concatenated PEM. */
  pem(): string;
  /** DER of each X.509 authority (root first): the trust anchors a relying party installs. */
  authorities(): readonly Uint8Array[];
  /** DER of the certificates that may stand in an issued chain (the online intermediate, then the root). */
  issuers(): readonly Uint8Array[];
  /** Increases whenever the bundle changes (SPIFFE bundle `spiffe_sequence`). */
  sequence(): number;
  /** The JWT-SVID signing keys (SPIFFE bundle entries with `use: jwt-svid`); none when absent. */
  jwtAuthorities?(): readonly JwtAuthorityJwk[];
}

/** One CRL as the /crl routes serve it. */
export interface CrlView {
  readonly der: Uint8Array;
  readonly thisUpdate: number;
  readonly nextUpdate: number;
  /** Strong ETag, quoted; computed off the event loop with the CRL when given. */
  readonly etag?: string;
}

/** What the OCSP, CRL and CA-certificate routes serve (routes/ocsp); without it those routes are not registered. */
export interface OcspPort {
  /** Never throws: every failure is an OCSP status (src/ocsp OcspResponder). */
  readonly responder: Pick<OcspResponder, 'answer' | 'answerGet'>;
  /**
   * The current DER CRL of an issuing CA, with its dates: the full CRL, or
   * shard `shard` when given; of the original intermediate, or of the rotated
   * one `issuerSerial` (docs/ca-lifecycle.md). 'pending' until the first build finished (start-up
   * builds in the background); 'unknown' for a shard that does not exist.
   */
  crl(shard?: number, issuerSerial?: string): CrlView | 'pending' | 'unknown';
  /** The ARL (RFC 5280 §5, the root's CRL of revoked intermediates, served at /crl/root), when one was signed. */
  arl?(): CrlView | undefined;
  /** DER of the issuing CA certificate (the intermediate), for AIA caIssuers-style fetches. */
  issuerCertificate(): Uint8Array;
}

export interface HealthCheckResult {
  readonly ok: boolean;
  readonly detail?: string;
}

export interface HealthCheck {
  readonly name: string;
  /**
   * What this check failing makes the node: 'fail' (the default; HTTP 503, take it out of
   * rotation) or 'degraded' (HTTP 200: it still serves what it can, e.g. OCSP from its cache
   * while the ledger database is down, and refuses the rest with 503 itself).
   */
  readonly whenFailing?: 'fail' | 'degraded';
  /** May answer later (a database round trip); /healthz awaits it. */
  check(): HealthCheckResult | Promise<HealthCheckResult>;
}

/** The ledger's database as /healthz reports it. */
export interface DatabaseStatus {
  readonly backend: 'sqlite' | 'postgres';
  /** Whether the database answered just now. */
  readonly reachable: boolean;
  /** The migration version the ledger was opened at. */
  readonly schemaVersion: number;
}

export interface DatabaseHealthSource {
  /** Never throws; bounded in time (an unreachable database reports false, it does not hold /healthz). */
  status(): Promise<DatabaseStatus>;
}

/** pino options accepted by buildApp (a `stream` may be given to capture logs). */
export interface AppLoggerOptions {
  readonly level?: string;
  readonly stream?: { write(line: string): void };
  readonly [option: string]: unknown;
}

export interface AppDeps {
  readonly certificates: CertificateReader;
  readonly revoker: CertificateRevoker;
  readonly bundle: TrustBundleSource;
  readonly health: readonly HealthCheck[];
  /** The ledger's database; /healthz reports it (backend, reachable, schema version) when given. */
  readonly database?: DatabaseHealthSource;
  /** Revocations this node has heard of (its own and the cluster's), refused before the ledger is asked. */
  readonly revokedSerials?: Pick<RevokedSerials, 'has'>;
  /** How late the event loop runs; /healthz reports it when given. */
  readonly eventLoopLag?: EventLoopLagSource;
  /** e.g. 'keysmith.local': principals come only from SPIFFE IDs in this trust domain. */
  readonly trustDomain: string;
  readonly mtlsMode: 'standard' | 'strict';
  readonly clock: Clock;
  readonly metrics: KeysmithMetrics;
  /** false silences logs; an object is pino options (default level info). */
  readonly logger?: boolean | AppLoggerOptions;
  /** SPIFFE bundle `spiffe_refresh_hint` in seconds (default 300). */
  readonly bundleRefreshHintSeconds?: number;
  /** The OCSP responder and CRL; their routes are served only when given. */
  readonly ocsp?: OcspPort;
  /** Expiry alerts (GET /v1/alerts, POST /v1/alerts/run); their routes are served only when given. */
  readonly alerts?: AlertsPort;
  /** X.509- and JWT-SVIDs, join-token attestation and registration entries (src/svid); served only when given. */
  readonly svid?: SvidApi;
  /** The expiry-alert thresholds the timeline marks (none when absent). */
  readonly expiryThresholds?: readonly ExpiryThresholdView[];
  /** The CA certificates the timeline marks (none when absent); read on each request, so a rotation shows at once. */
  readonly authorities?: () => readonly AuthorityView[];
  /** The ACME server (src/acme); /acme/* is served only when given. */
  readonly acme?: AcmeHandler;
  /** Where the built operator console lives (default: dist/ui beside the compiled service). */
  readonly consoleDirectory?: string;
}
