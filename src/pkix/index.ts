/**
 * keysmith's X.509 path validation and parsing: the public surface. Used by
 * src/tls (the default peer verifier) and src/x509 (DER reading, PEM, names).
 * Imports only node:* and src/shared, so it can be published beside src/tls.
 */
export {
  checkStrictDer,
  contextTag,
  DerError,
  DerReader,
  readChildren,
  readSingle,
  Tag,
  type DerElement,
  type StrictDerLimits,
} from './der-reader.js';
export { decodeBoolean, decodeIa5, decodeOid, decodeSmallInteger, decodeTime } from './der-values.js';
export { asciiBytes, derSequence, encodeOid, tlv, tlvOf } from './der-writer.js';
export { fromPem, parsePemBlocks, parsePemCertificates, PemError, splitPemChain, toPem, type PemBlock, type PemLimits } from './pem.js';
export { formatIpAddress, ipToOctets, normalizeIpAddress, octetsToIp, parseIpAddress } from './ip.js';
export { matchesDnsName, normalizeDnsName, uriHost } from './names.js';
export {
  constraintViolation,
  directoryWithin,
  dnsWithin,
  ipWithin,
  nameWithin,
  uriWithin,
  type DistinguishedName,
  type GeneralName,
  type NameConstraints,
  type NameOfForm,
} from './name-constraints.js';
export type { SubjectAltNames } from './general-names.js';
export { KeyUsageBit, Oid, type BasicConstraints, type CertificateExtensions } from './extensions.js';
export { decodeCertificate, KeyOid, type CertificateFields, type PublicKeyInfo } from './certificate.js';
export { CertificateError, type RefusalAlert } from './errors.js';
export { type LeafKeyType, type ParsedCertificate, type PeerCertificate, type PeerCertificates } from './parsed-certificate.js';
export { describeCertificate } from './cache.js';
export type { PeerRole, VerifyExpectation } from './path-checks.js';
export { ChainVerifier, type ChainVerifierOptions, type VerifiedChain, type VerifierStats } from './chain-verifier.js';
