/** src/x509: the only importer of @peculiar/x509 (STYLE.md §2.3). */
export {
  CertificateIssuer,
  issuerFromCertificate,
  keyIdentifierOf,
  PreparedCertificate,
  prepareCertificate,
  selfIssuer,
  signCertificate,
  type CertificateTemplate,
  type ExtendedKeyUsageName,
  type IssuerCurve,
  type KeyUsageName,
} from './certificate.js';
export { parseCsr, type ParseCsrOptions, type ParsedCsr } from './csr.js';
export { LeafTemplate, leafExpectation, type EncodedLeaf } from './leaf-template.js';
export { LeafSigner, type LeafExpectation, type LeafSigningKeys } from './leaf-signer.js';
export { CryptoPool, DEFAULT_CRYPTO_QUEUE_LIMIT, type CryptoPoolOptions } from './crypto-pool/pool.js';
export { formatDistinguishedName } from './name-text.js';
export { checkSubjectPublicKey, type CheckedSubjectKey } from './subject-key.js';
export {
  checkJwkPolicy,
  checkSpkiPolicy,
  policyKeyJwk,
  type CertifiedCurve,
  type KeyVerdict,
  type PolicyKey,
  type PublicJwkMembers,
} from './key-policy.js';
export {
  crlIssuerOf,
  describeCrl,
  encodeCrl,
  encodeCrlTbs,
  encodeCrlTbsWithSchemas,
  encodeCrlWithSchemas,
  joinCrl,
  type CrlContent,
  type CrlDescription,
  type CrlEntry,
  type CrlIssuer,
  type CrlSigner,
} from './crl.js';
export { checkIssuedCertificate, describeCertificate, type CertificateDescription } from './describe.js';
export {
  ACME_IDENTIFIER_OID,
  readTlsAlpnCertificate,
  reverseDnsName,
  TlsAlpnCertificateError,
  type AcmeIdentifierExtension,
  type ResponderAltName,
  type TlsAlpnCertificateFacts,
} from './acme-identifier.js';
export {
  checkDistinguishedName,
  ipToOctets,
  normalizeDnsName,
  normalizeIpAddress,
  type DistinguishedName,
  type NameAttribute,
} from './names.js';
export { fromPem, parsePemBlocks, splitPemChain, toPem, type PemBlock } from './pem.js';
export { checkPublicKey, type CheckedPublicKey, type SubjectKeyAlgorithm } from './public-key.js';
export { normalizeSerial, randomSerial, SERIAL_OCTETS, type RandomSource } from './serial.js';
export {
  decodeOcspRequest,
  encodeOcspRequest,
  ocspIssuerHashes,
  OcspResponseStatus,
  responderKeyHash,
  type CertIdHash,
  type DecodedOcspRequest,
  type IssuerHashes,
  type OcspCertId,
  type OcspCertStatus,
  type OcspRequestTarget,
  type OcspResponseContent,
  type OcspResponseStatusName,
  type OcspSigningIdentity,
  type OcspSingleResponse,
} from './ocsp-der.js';
export { encodeOcspResponse, encodeOcspStatusResponse } from './ocsp-response-encoder.js';
export { describeOcspResponse, type DescribedOcspResponse, type DescribedSingleResponse } from './ocsp-response-reader.js';
export { formatSpiffeId, isPathUnder, parseSpiffeId, parseTrustDomain, type SpiffeId } from '../shared/spiffe-id.js';
export { buildCaRequestPem, caRequestPublicKey } from './ca-request.js';
export { encodePkcs12, PKCS12_ITERATIONS, type Pkcs12Identity, type Pkcs12Options } from './pkcs12.js';
export { bmpPassword, pkcs12Kdf, Pkcs12KdfId, type Pkcs12KdfHash, type Pkcs12KdfInput } from './pkcs12-kdf.js';
