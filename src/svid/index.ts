/** src/svid: the SVID signer front end (registration entries, join tokens, X.509- and JWT-SVIDs) behind its ports. */
export { findGrantingEntry } from './authorize.js';
export { DEFAULT_JWT_TTL_MS, DEFAULT_X509_TTL_MS, MAX_ENTRY_DNS_NAMES, MAX_JWT_TTL_MS, SVID_PROFILE_MAX_TTL_MS } from './entries.js';
export { hashJoinToken, MAX_JOIN_TOKEN_TTL_MS, MIN_JOIN_TOKEN_TTL_MS } from './join-tokens.js';
export type * from './ports.js';
export { cryptoUnitRandom, renewAfter, RENEWAL_JITTER, type UnitRandom } from './renewal.js';
export {
  createSvidService,
  DEFAULT_JOIN_TOKEN_RATE_LIMIT,
  MAX_BATCH_REQUESTS,
  MAX_JWT_AUDIENCES,
  SvidService,
  type SvidServiceDeps,
  type SvidServiceOptions,
} from './service.js';
