import { createHash, verify } from 'node:crypto';
import { AsnConvert } from '@peculiar/asn1-schema';
import * as asn from '@peculiar/asn1-x509';
import { DomainError } from '../shared/errors.js';
import type { SubjectAltName } from '../domain/certificates.js';
import { OID, SIGNATURE, type ExtendedKeyUsageName, type KeyUsageName, type PreparedCertificate } from './certificate.js';
import { normalizeIpAddress } from './names.js';
import { peculiar } from './provider.js';
import { normalizeSerial } from './serial.js';
import { parseSpiffeId } from '../shared/spiffe-id.js';

/** What keysmith reads back from a certificate: the ledger row's fields and the extensions the profiles set. */
export interface CertificateDescription {
  readonly serial: string;
  readonly subject: string;
  readonly issuer: string;
  readonly sans: readonly SubjectAltName[];
  /** The URI SAN when it is the only one and a valid SPIFFE ID (X509-SVID §2), else null. */
  readonly spiffeId: string | null;
  readonly notBefore: number;
  readonly notAfter: number;
  /** SHA-256 of the DER, lowercase hex. */
  readonly fingerprint: string;
  /** DER SubjectPublicKeyInfo. */
  readonly publicKey: Uint8Array;
  readonly isCa: boolean;
  readonly pathLength: number | null;
  readonly keyUsage: readonly KeyUsageName[];
  /** Known purposes by name (an ExtendedKeyUsageName); any other OID as dotted text. */
  readonly extendedKeyUsage: readonly string[];
  readonly subjectKeyId: string | null;
  readonly authorityKeyId: string | null;
  readonly ocspUrls: readonly string[];
  readonly crlUrls: readonly string[];
  readonly permittedUriHosts: readonly string[];
  readonly hasOcspNoCheck: boolean;
  readonly criticalExtensions: readonly string[];
}

const KEY_USAGE_NAMES: readonly [KeyUsageName, number][] = [
  ['digitalSignature', asn.KeyUsageFlags.digitalSignature],
  ['keyEncipherment', asn.KeyUsageFlags.keyEncipherment],
  ['keyCertSign', asn.KeyUsageFlags.keyCertSign],
  ['cRLSign', asn.KeyUsageFlags.cRLSign],
];
const EKU_NAMES: ReadonlyMap<string, ExtendedKeyUsageName> = new Map([
  [asn.id_kp_serverAuth, 'serverAuth'],
  [asn.id_kp_clientAuth, 'clientAuth'],
  [asn.id_kp_OCSPSigning, 'ocspSigning'],
]);

/** Parses a DER certificate; `malformed` when it does not decode. */
export function describeCertificate(der: Uint8Array): CertificateDescription {
  return parseCertificate(der).description;
}

function parseCertificate(der: Uint8Array): { cert: asn.Certificate; description: CertificateDescription } {
  try {
    const cert = AsnConvert.parse(der, asn.Certificate);
    return { cert, description: describeParsed(cert, der) };
  } catch (cause) {
    // Extension values are decoded lazily above, so their failures land here too.
    if (cause instanceof DomainError) throw cause;
    throw new DomainError('malformed', 'not a DER X.509 certificate', { cause });
  }
}

function describeParsed(cert: asn.Certificate, der: Uint8Array): CertificateDescription {
  const tbs = cert.tbsCertificate;
  const extensions = [...(tbs.extensions ?? [])];
  const find = (oid: string): asn.Extension | undefined => extensions.find((e) => e.extnID === oid);
  const parse = <T>(oid: string, type: new () => T): T | undefined => {
    const extension = find(oid);
    return extension === undefined ? undefined : AsnConvert.parse(extension.extnValue.buffer, type);
  };

  const sans = [...(parse(asn.id_ce_subjectAltName, asn.SubjectAlternativeName) ?? [])].flatMap(describeGeneralName);
  const uris = sans.filter((s) => s.type === 'uri');
  const basic = parse(asn.id_ce_basicConstraints, asn.BasicConstraints);
  const keyUsage = parse(asn.id_ce_keyUsage, asn.KeyUsage);
  const flags = keyUsage === undefined ? 0 : keyUsage.toNumber();
  const ski = parse(asn.id_ce_subjectKeyIdentifier, asn.SubjectKeyIdentifier);
  const aki = parse(asn.id_ce_authorityKeyIdentifier, asn.AuthorityKeyIdentifier);
  const aia = [...(parse(asn.id_pe_authorityInfoAccess, asn.AuthorityInfoAccessSyntax) ?? [])];
  const crl = [...(parse(asn.id_ce_cRLDistributionPoints, asn.CRLDistributionPoints) ?? [])];
  const constraints = parse(asn.id_ce_nameConstraints, asn.NameConstraints);

  return {
    serial: normalizeSerial(Buffer.from(tbs.serialNumber).toString('hex')),
    subject: new peculiar.Name(tbs.subject).toString(),
    issuer: new peculiar.Name(tbs.issuer).toString(),
    sans,
    spiffeId: uris.length === 1 && uris[0] !== undefined && isSpiffeId(uris[0].value) ? uris[0].value : null,
    notBefore: tbs.validity.notBefore.getTime().getTime(),
    notAfter: tbs.validity.notAfter.getTime().getTime(),
    fingerprint: createHash('sha256').update(der).digest('hex'),
    publicKey: new Uint8Array(AsnConvert.serialize(tbs.subjectPublicKeyInfo)),
    isCa: basic?.cA ?? false,
    pathLength: basic?.pathLenConstraint ?? null,
    keyUsage: KEY_USAGE_NAMES.filter(([, flag]) => (flags & flag) !== 0).map(([name]) => name),
    extendedKeyUsage: [...(parse(asn.id_ce_extKeyUsage, asn.ExtendedKeyUsage) ?? [])].map((oid) => EKU_NAMES.get(oid) ?? oid),
    subjectKeyId: ski === undefined ? null : Buffer.from(ski.buffer).toString('hex'),
    authorityKeyId: aki?.keyIdentifier === undefined ? null : Buffer.from(aki.keyIdentifier.buffer).toString('hex'),
    ocspUrls: aia.filter((a) => a.accessMethod === asn.id_ad_ocsp).flatMap((a) => uriOf(a.accessLocation)),
    crlUrls: crl.flatMap((point) => (point.distributionPoint?.fullName ?? []).flatMap(uriOf)),
    permittedUriHosts: [...(constraints?.permittedSubtrees ?? [])].flatMap((subtree) => uriOf(subtree.base)),
    hasOcspNoCheck: find(OID.ocspNoCheck) !== undefined,
    criticalExtensions: extensions.filter((e) => e.critical).map((e) => e.extnID),
  };
}

function describeGeneralName(name: asn.GeneralName): SubjectAltName[] {
  if (name.dNSName !== undefined) return [{ type: 'dns', value: name.dNSName }];
  if (name.iPAddress !== undefined) return [{ type: 'ip', value: normalizeIpAddress(name.iPAddress) }];
  if (name.uniformResourceIdentifier !== undefined) return [{ type: 'uri', value: name.uniformResourceIdentifier }];
  if (name.rfc822Name !== undefined) return [{ type: 'email', value: name.rfc822Name }];
  return [];
}

function uriOf(name: asn.GeneralName): string[] {
  return name.uniformResourceIdentifier === undefined ? [] : [name.uniformResourceIdentifier];
}

function isSpiffeId(uri: string): boolean {
  try {
    parseSpiffeId(uri);
    return true;
  } catch {
    return false;
  }
}

/**
 * The check after signing (SPIRE's credvalidator step): re-parse the DER,
 * compare every field with the template, and verify the signature with the
 * issuer's public key. A mismatch is a keysmith bug, so it is a plain Error
 * (internal) and nothing is handed out.
 */
export function checkIssuedCertificate(der: Uint8Array, prepared: PreparedCertificate): CertificateDescription {
  const { template, issuer } = prepared;
  const { cert, description: described } = parseCertificate(der);
  const mismatch = (field: string): never => {
    throw new Error(`issued certificate ${template.serial} does not match its template: ${field}`);
  };
  const signature = SIGNATURE[issuer.curve];
  if (cert.signatureAlgorithm.algorithm !== signature.oid || cert.tbsCertificate.signature.algorithm !== signature.oid)
    mismatch('signature algorithm');
  const tbsRaw = cert.tbsCertificateRaw;
  if (tbsRaw === undefined) mismatch('TBSCertificate bytes');
  const isSigned = verify(
    signature.nodeHash,
    new Uint8Array(tbsRaw ?? new ArrayBuffer(0)),
    { key: issuer.publicKeyObject, dsaEncoding: 'der' },
    new Uint8Array(cert.signatureValue),
  );
  if (!isSigned) mismatch('signature does not verify with the issuer key');
  if (described.serial !== template.serial) mismatch('serial');
  if (described.notBefore !== template.notBefore || described.notAfter !== template.notAfter) mismatch('validity');
  if (!Buffer.from(described.publicKey).equals(Buffer.from(template.publicKey))) mismatch('public key');
  if (described.isCa !== template.basicConstraints.ca) mismatch('basicConstraints cA');
  if (described.pathLength !== (template.basicConstraints.pathLength ?? null)) mismatch('basicConstraints pathLenConstraint');
  if (!sameSet(described.keyUsage, template.keyUsage)) mismatch('keyUsage');
  if (!sameSet(described.extendedKeyUsage, template.extendedKeyUsage ?? [])) mismatch('extendedKeyUsage');
  const sanKey = (s: SubjectAltName): string => `${s.type}:${s.value}`;
  if (!sameSet(described.sans.map(sanKey), (template.subjectAltNames ?? []).map(sanKey))) mismatch('subjectAltName');
  const subjectKeyId = Buffer.from(prepared.subjectKeyId).toString('hex');
  if (described.subjectKeyId !== subjectKeyId) mismatch('subjectKeyIdentifier');
  if (described.authorityKeyId !== (issuer.isSelf ? subjectKeyId : Buffer.from(issuer.keyIdentifier).toString('hex'))) {
    mismatch('authorityKeyIdentifier');
  }
  // RFC 5280 §4.1.2.4: the issuer field is the issuing certificate's subject.
  if (described.issuer !== (issuer.isSelf ? described.subject : issuer.nameText)) mismatch('issuer name');
  if (!sameSet(described.ocspUrls, template.ocspUrl === undefined ? [] : [template.ocspUrl])) mismatch('AIA OCSP URL');
  if (!sameSet(described.crlUrls, template.crlUrl === undefined ? [] : [template.crlUrl])) mismatch('CRL distribution point');
  if (!sameSet(described.permittedUriHosts, template.permittedUriHosts ?? [])) mismatch('name constraints');
  if (described.hasOcspNoCheck !== (template.ocspNoCheck === true)) mismatch('id-pkix-ocsp-nocheck');
  // basicConstraints and keyUsage are always critical (RFC 5280 §4.2.1.9, SPIFFE X509-SVID §4).
  for (const oid of [asn.id_ce_basicConstraints, asn.id_ce_keyUsage])
    if (!described.criticalExtensions.includes(oid)) mismatch(`${oid} not critical`);
  return described;
}

function sameSet(a: readonly string[], b: readonly string[]): boolean {
  const left = new Set(a);
  const right = new Set(b);
  return left.size === right.size && a.length === b.length && [...left].every((x) => right.has(x));
}
