/** src/acme: the ACME protocol (RFC 8555, RFC 8738, RFC 9773) behind the transport seam and its ports. */
export { createAcmeServer, type AcmeServer } from './server.js';
export { createEabKey } from './eab.js';
export { formatCertId, parseCertId, suggestedWindow, type CertId } from './ari.js';
export { SUPPORTED_ALGORITHMS, MAX_JWS_BYTES } from './jws.js';
export { ACME_ERROR_PREFIX, type AcmeErrorType } from './problems.js';
export { NonceStore, pruneSpentNonces, SPENT_NONCE_RETENTION_MS } from './nonces.js';
export type {
  AcmeAuthority,
  AcmeCertificateLookup,
  AcmeIssueRequest,
  AcmeLimits,
  AcmeMeta,
  AcmeNonceDeps,
  AcmePolicy,
  AcmeServerDeps,
  AcmeStore,
  AcmeValidationLimits,
  NonceLedger,
  ValidationEvent,
} from './ports.js';
export type { AcmeHandler, AcmeHttpRequest, AcmeHttpResponse } from './transport.js';
export { createChallengeValidator, type ChallengeValidatorOptions } from './validation/index.js';
