/** The HTTP front end's public surface, for the composition root (src/cli). */
export { buildApp } from './app.js';
export { createHttpsServer, DEFAULT_DRAIN_MS, type HttpsServer, type HttpsServerOptions } from './server-factory.js';
export { EventLoopLag, type EventLoopLagSnapshot, type EventLoopLagSource } from './event-loop-lag.js';
export {
  KeysmithMetrics,
  type AcmeOrderOutcome,
  type AlertOutboxDepth,
  type HandshakeResult,
  type KeysmithMetricsOptions,
  type OcspAnswerStatus,
  type WatchedCertificate,
  type WatchedCertificateRole,
} from './metrics.js';
export { generateOpenApi } from './openapi-generate.js';
export { ACCESS_POLICIES, type AccessPolicy } from './plugins/access.js';
export { buildPlainHttpApp, type PlainHttpAppDeps } from './routes/ocsp/plain-app.js';
export { MAX_OCSP_BODY_BYTES } from './routes/ocsp/plugin.js';
export { alertWire } from './routes/alerts/schemas.js';
export { certificateView } from './routes/ops/schemas.js';
export { entryWire, type EntryWire } from './routes/svid/schemas.js';
export { tokenWire, type TokenWire } from './routes/svid/token-schemas.js';
export type { Principal, PrincipalKind } from './plugins/mtls-peer.js';
export { DEFAULT_MAX_REVOKED_SERIALS, RevokedSerials } from './revoked-serials.js';
export { PROBLEM_TYPES, PROBLEM_TYPE_BASE, type ProblemDocument, type ProblemKind } from './problem.js';
export type {
  AlertsPort,
  AppDeps,
  AppLoggerOptions,
  AuthorityView,
  CertificateReader,
  CertificateRevoker,
  CertificateStatusView,
  CrlView,
  DatabaseHealthSource,
  DatabaseStatus,
  ExpiryThresholdView,
  HealthCheck,
  HealthCheckResult,
  OcspPort,
  TrustBundleSource,
} from './ports.js';
