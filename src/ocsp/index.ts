/** src/ocsp: the OCSP responder's protocol rules (RFC 6960, RFC 5019, RFC 9654), behind its ports (STYLE §2.2). */
export { DEFAULT_OCSP_VALIDITY_MS, LedgerSource, type LedgerSourceOptions, type OcspCacheCheck } from './ledger-source.js';
export type { OcspCertificateRow, OcspLedger, OcspResponseSigner, OcspSerialStatus } from './ports.js';
export {
  MAX_CERT_IDS,
  MAX_GET_PATH_CHARS,
  MAX_NONCE_OCTETS,
  MIN_NONCE_OCTETS,
  parseOcspRequest,
  requestForCertificate,
  requestFromGetPath,
  type OcspRequest,
} from './request.js';
export { OcspResponder, refusal, type OcspReply } from './responder.js';
export type { CacheFacts, OcspCertStatusKind, OcspResponse, Source } from './source.js';
export { compromisedIssuerSource, IssuerRouter, type IssuerRoute, type RoutedSource } from './issuer-router.js';
export { reportOcspStatus, type OcspAnswerer, type OcspStatusReport } from './status-report.js';
