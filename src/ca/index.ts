/** src/ca: the Authority, issuer keys, profiles and the client-certificate verdict (STYLE.md §2.2). */
export { Authority, type AuthorityDeps, type IssuedCertificate, type IssueStep } from './authority.js';
export { checkClientCertificate, type ClientCertificateVerdict } from './cert-verifier.js';
export {
  CrlPublisher,
  DEFAULT_CRL_DEBOUNCE_MS,
  DEFAULT_CRL_MAX_DELAY_MS,
  DEFAULT_CRL_VALIDITY_MS,
  type CrlBuilder,
  type CrlNumberSource,
  type CrlPublisherDeps,
  type CrlScope,
  type CrlStore,
  type CrlTimers,
  type PublishedCrl,
  type RevokedSetProbe,
  type RevokedSetSummary,
} from './crl.js';
export { buildCrlSet, crlIssuerFor, type BuiltCrl, type BuiltCrlSet, type CrlBuildOrder, type CrlBuildParams } from './crl-build.js';
export { crlShardOf, crlShardUrl, issuerCrlUrl, MAX_CRL_SHARDS } from './crl-shard.js';
export {
  caPaths,
  DEFAULT_RENEW_WARNING_SHARE,
  initCertificateAuthority,
  loadIntermediateMaterial,
  renewalWarning,
  loadCertificateAuthority,
  type CaMaterial,
  type InitOptions,
  type InitResult,
  type LoadOptions,
} from './issuer.js';
export { listIntermediates, arlPath, rotatedDir, type IntermediateOnDisk } from './intermediate-files.js';
export { LONGEST_LEAF_MS, readIntermediates, type IntermediateView } from './intermediate-states.js';
export {
  activateNow,
  ARL_VALIDITY_MS,
  importIntermediate,
  intermediateStates,
  prepareIntermediate,
  requestIntermediate,
  resignArl,
  revokedIntermediates,
  revokeIntermediate,
  RootKeyOfflineError,
  signIntermediateRequest,
  type CaOpsContext,
} from './intermediate-ops.js';
export {
  activeOf,
  classifyIntermediates,
  lifeLeft,
  publishedOf,
  x509BundleChanges,
  type IntermediateFacts,
  type IntermediateState,
  type IntermediateStatus,
  type RotationPolicy,
} from './rotation.js';
export { ecdsaSigner } from './ocsp-signer.js';
export { OcspSigner, type OcspSignerDeps, type SharedResponders } from './ocsp-signer.js';
export { responderKeyWrap, type ResponderKeyWrap } from './responder-key-wrap.js';
/** The durable, exact-mode file writes of the CA directory, for what else lives there (the cluster secret). */
export { fixMode, syncDirectory, writeDurably } from './key-files.js';
export {
  JwtAuthority,
  jwtSigningKeyPath,
  type JwtAuthorityOptions,
  type JwtAuthorityPublicJwk,
  type JwtSvidClaims,
} from './jwt-authority.js';
export type { CertificateStore, OcspResponderStore, SerialStatus, StoredOcspResponder } from './ports.js';
export {
  ADMIN_PATH,
  BACKDATE_MS,
  isOperatorRequester,
  LIFETIMES,
  NODE_PATH,
  TLS_SERVER_MAX_TTL_MS,
  type IssueRequest,
} from './profiles.js';
export { JwtKeyRing, type JwtKeyRingOptions } from './jwt-key-ring.js';
export { currentJwtSchedule, jwtSchedulePath, prepareJwtKey, type PrepareJwtKeyOptions, type PreparedJwtKey } from './jwt-rotation.js';
export { jwtKeyStates, type JwtKeyPhase, type JwtKeySchedule, type JwtKeyState } from './jwt-schedule.js';
export { bundleSequence, FIRST_BUNDLE_SEQUENCE, type PublishedSetHistory } from './bundle-sequence.js';
export { DirectOcspSigner } from './direct-ocsp-signer.js';
