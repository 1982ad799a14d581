import { createHash, createPublicKey, type KeyObject, type webcrypto } from 'node:crypto';
import { AsnConvert, BitString, OctetString } from '@peculiar/asn1-schema';
import * as asn from '@peculiar/asn1-x509';
import type { SubjectAltName } from '../domain/certificates.js';
import { derSequence } from '../pkix/index.js';
import { checkDistinguishedName, normalizeDnsName, normalizeIpAddress, type DistinguishedName } from './names.js';
import { peculiar, subtle } from './provider.js';

/*
 * The certificate builder. Issuance is two steps, after Boulder's
 * issuance/cert.go: `prepareCertificate` checks an explicit template and
 * encodes the TBSCertificate; `signCertificate` signs it once with the
 * issuer's key. Nothing is defaulted here: profiles (src/ca) decide every field.
 */

export type KeyUsageName = 'digitalSignature' | 'keyEncipherment' | 'keyCertSign' | 'cRLSign';
export type ExtendedKeyUsageName = 'serverAuth' | 'clientAuth' | 'ocspSigning';
/** Issuing keys are ECDSA on these curves (STYLE: P-256 default, P-384 option). */
export type IssuerCurve = 'P-256' | 'P-384';

export interface CertificateTemplate {
  /** Lowercase hex of a positive DER INTEGER, no leading zero octet, at most 20 octets (RFC 5280 §4.1.2.2). */
  readonly serial: string;
  readonly subject: DistinguishedName;
  /** ms since the epoch, whole seconds (X.509 times have second precision). */
  readonly notBefore: number;
  readonly notAfter: number;
  /** DER SubjectPublicKeyInfo of the subject key. */
  readonly publicKey: Uint8Array;
  readonly basicConstraints: { readonly ca: boolean; readonly pathLength?: number };
  readonly keyUsage: readonly KeyUsageName[];
  readonly extendedKeyUsage?: readonly ExtendedKeyUsageName[];
  /** dns, ip and uri names only. */
  readonly subjectAltNames?: readonly SubjectAltName[];
  /** Authority Information Access, id-ad-ocsp (RFC 5280 §4.2.2.1). */
  readonly ocspUrl?: string;
  readonly crlUrl?: string;
  /** Name constraints: permitted uniformResourceIdentifier subtrees, i.e. hosts (RFC 5280 §4.2.1.10). CA only. */
  readonly permittedUriHosts?: readonly string[];
  /** id-pkix-ocsp-nocheck (RFC 6960 §4.2.2.2.1), for delegated OCSP responders. */
  readonly ocspNoCheck?: boolean;
}

export const OID = {
  ecdsaWithSha256: '1.2.840.10045.4.3.2', // RFC 5758 §3.2
  ecdsaWithSha384: '1.2.840.10045.4.3.3',
  ocspNoCheck: '1.3.6.1.5.5.7.48.1.5', // RFC 6960 §4.2.2.2.1
  commonName: '2.5.4.3',
  organization: '2.5.4.10',
  organizationalUnit: '2.5.4.11',
} as const;

const ATTRIBUTE_OIDS = { CN: OID.commonName, O: OID.organization, OU: OID.organizationalUnit } as const;

const EKU_OIDS: Readonly<Record<ExtendedKeyUsageName, string>> = {
  serverAuth: asn.id_kp_serverAuth,
  clientAuth: asn.id_kp_clientAuth,
  ocspSigning: asn.id_kp_OCSPSigning,
};

const KEY_USAGE_FLAGS: Readonly<Record<KeyUsageName, number>> = {
  digitalSignature: asn.KeyUsageFlags.digitalSignature,
  keyEncipherment: asn.KeyUsageFlags.keyEncipherment,
  keyCertSign: asn.KeyUsageFlags.keyCertSign,
  cRLSign: asn.KeyUsageFlags.cRLSign,
};

/** How each issuer curve signs: RFC 5758 §3.2 pairs P-256 with SHA-256 and P-384 with SHA-384. */
export const SIGNATURE = {
  'P-256': { oid: OID.ecdsaWithSha256, params: { name: 'ECDSA', hash: 'SHA-256' }, namedCurve: 'P-256', nodeHash: 'sha256' },
  'P-384': { oid: OID.ecdsaWithSha384, params: { name: 'ECDSA', hash: 'SHA-384' }, namedCurve: 'P-384', nodeHash: 'sha384' },
} as const;

// The DER encoding of NULL: the whole value of id-pkix-ocsp-nocheck.
const DER_NULL = Uint8Array.of(0x05, 0x00);

/** The issuing side of a signature: name, key identifier, validity and private key. */
export class CertificateIssuer {
  private readonly distinguishedName: asn.Name;
  private cachedNameText: string | undefined;
  /** Subject key identifier of the issuer; becomes the AKI of what it signs. */
  readonly keyIdentifier: Uint8Array;
  /** DER SubjectPublicKeyInfo of the issuer key, for checking signatures after signing. */
  readonly publicKey: Uint8Array;
  /** The same key for node:crypto, imported once. */
  readonly publicKeyObject: KeyObject;
  readonly curve: IssuerCurve;
  readonly signingKey: webcrypto.CryptoKey;
  /** ms; nothing this issuer signs may outlive it. Infinity for a self-signed root's own signature. */
  readonly notAfter: number;
  /** True when the issuer signs its own certificate (the root). */
  readonly isSelf: boolean;

  /** Use `issuerFromCertificate` or `selfIssuer`. */
  constructor(o: {
    name: asn.Name;
    keyIdentifier: Uint8Array;
    publicKey: Uint8Array;
    signingKey: webcrypto.CryptoKey;
    notAfter: number;
    isSelf: boolean;
  }) {
    this.distinguishedName = o.name;
    this.keyIdentifier = o.keyIdentifier;
    this.publicKey = o.publicKey;
    this.publicKeyObject = createPublicKey({ key: Buffer.from(o.publicKey), format: 'der', type: 'spki' });
    this.signingKey = o.signingKey;
    this.curve = curveOf(o.signingKey);
    this.notAfter = o.notAfter;
    this.isSelf = o.isSelf;
  }

  /** The issuer Name, byte for byte the subject of the issuing certificate (RFC 5280 §4.1.2.4). */
  get name(): asn.Name {
    return this.distinguishedName;
  }

  /** The issuer Name as text, as `describeCertificate` prints it. */
  get nameText(): string {
    this.cachedNameText ??= new peculiar.Name(this.distinguishedName).toString();
    return this.cachedNameText;
  }
}

function curveOf(key: webcrypto.CryptoKey): IssuerCurve {
  const namedCurve: unknown = Reflect.get(key.algorithm, 'namedCurve');
  if (key.algorithm.name !== 'ECDSA' || (namedCurve !== 'P-256' && namedCurve !== 'P-384')) {
    throw new Error(
      `issuer key must be ECDSA P-256 or P-384, got ${key.algorithm.name} ${typeof namedCurve === 'string' ? namedCurve : ''}`.trim(),
    );
  }
  if (!key.usages.includes('sign') || key.type !== 'private') throw new Error('issuer key must be a private key usable for signing');
  return namedCurve;
}

/** An issuer backed by an existing CA certificate and its private key. */
export function issuerFromCertificate(certDer: Uint8Array, signingKey: webcrypto.CryptoKey): CertificateIssuer {
  const cert = AsnConvert.parse(certDer, asn.Certificate);
  const tbs = cert.tbsCertificate;
  const publicKey = new Uint8Array(AsnConvert.serialize(tbs.subjectPublicKeyInfo));
  const skiExtension = tbs.extensions?.find((e) => e.extnID === asn.id_ce_subjectKeyIdentifier);
  const keyIdentifier =
    skiExtension === undefined
      ? keyIdentifierOf(publicKey)
      : new Uint8Array(AsnConvert.parse(skiExtension.extnValue.buffer, asn.SubjectKeyIdentifier).buffer);
  return new CertificateIssuer({
    name: tbs.subject,
    keyIdentifier,
    publicKey,
    signingKey,
    notAfter: tbs.validity.notAfter.getTime().getTime(),
    isSelf: false,
  });
}

/** An issuer for a self-signed certificate: the subject signs with its own key. */
export function selfIssuer(subject: DistinguishedName, publicKey: Uint8Array, signingKey: webcrypto.CryptoKey): CertificateIssuer {
  checkDistinguishedName(subject);
  return new CertificateIssuer({
    name: encodeName(subject),
    keyIdentifier: keyIdentifierOf(publicKey),
    publicKey,
    signingKey,
    notAfter: Number.POSITIVE_INFINITY,
    isSelf: true,
  });
}

/**
 * Key identifier by RFC 7093 §2 method 1: the leftmost 160 bits of the
 * SHA-256 of the subjectPublicKey BIT STRING value (RFC 5280 §4.2.1.2 allows
 * any method; this one avoids SHA-1).
 */
export function keyIdentifierOf(spki: Uint8Array): Uint8Array {
  return keyIdentifierOfInfo(AsnConvert.parse(spki, asn.SubjectPublicKeyInfo));
}

export function keyIdentifierOfInfo(info: asn.SubjectPublicKeyInfo): Uint8Array {
  return new Uint8Array(createHash('sha256').update(new Uint8Array(info.subjectPublicKey)).digest().subarray(0, 20));
}

/** An encoded TBSCertificate ready to sign, usable once (after Boulder's one-use issuance token). */
export class PreparedCertificate {
  readonly template: CertificateTemplate;
  readonly issuer: CertificateIssuer;
  /** The SKI written into the TBS (RFC 7093 §2 method 1). */
  readonly subjectKeyId: Uint8Array;
  private readonly tbsDer: Uint8Array;
  private isUsed = false;

  constructor(template: CertificateTemplate, issuer: CertificateIssuer, subjectKeyId: Uint8Array, tbsDer: Uint8Array) {
    this.template = template;
    this.issuer = issuer;
    this.subjectKeyId = subjectKeyId;
    this.tbsDer = tbsDer;
  }

  /** Hands out the DER TBSCertificate exactly once. */
  take(): Uint8Array {
    if (this.isUsed) throw new Error('a prepared certificate can be signed only once');
    this.isUsed = true;
    return this.tbsDer;
  }
}

/** Checks the template and encodes the TBSCertificate (DER); throws a plain Error on a template keysmith itself got wrong. */
export function prepareCertificate(template: CertificateTemplate, issuer: CertificateIssuer): PreparedCertificate {
  checkTemplate(template, issuer);
  const signature = new asn.AlgorithmIdentifier({ algorithm: SIGNATURE[issuer.curve].oid });
  const subjectPublicKeyInfo = AsnConvert.parse(template.publicKey, asn.SubjectPublicKeyInfo);
  const subjectKeyId = keyIdentifierOfInfo(subjectPublicKeyInfo);
  const tbs = new asn.TBSCertificate({
    version: asn.Version.v3,
    serialNumber: bufferOf(Buffer.from(template.serial, 'hex')),
    signature,
    issuer: issuer.isSelf ? encodeName(template.subject) : issuer.name,
    validity: new asn.Validity({ notBefore: new Date(template.notBefore), notAfter: new Date(template.notAfter) }),
    subject: encodeName(template.subject),
    subjectPublicKeyInfo,
    extensions: new asn.Extensions(encodeExtensions(template, issuer, subjectKeyId)),
  });
  return new PreparedCertificate(template, issuer, subjectKeyId, new Uint8Array(AsnConvert.serialize(tbs)));
}

/** Signs a prepared certificate with the issuer's key; returns the certificate DER. */
export async function signCertificate(prepared: PreparedCertificate): Promise<Uint8Array> {
  const tbsDer = prepared.take();
  const algorithm = SIGNATURE[prepared.issuer.curve];
  // WebCrypto returns ECDSA signatures as r||s (IEEE P1363); X.509 wants the DER ECDSA-Sig-Value (RFC 3279 §2.2.3).
  const raw = await subtle.sign(algorithm.params, prepared.issuer.signingKey, tbsDer);
  const signatureValue = new peculiar.AsnEcSignatureFormatter().toAsnSignature({ name: 'ECDSA', namedCurve: algorithm.namedCurve }, raw);
  if (signatureValue === null) throw new Error('could not encode the ECDSA signature');
  // RFC 5280 §4.1: Certificate ::= SEQUENCE { tbsCertificate, signatureAlgorithm, signatureValue BIT STRING }.
  return derSequence([
    tbsDer,
    new Uint8Array(AsnConvert.serialize(new asn.AlgorithmIdentifier({ algorithm: algorithm.oid }))),
    new Uint8Array(AsnConvert.serialize(new BitString(signatureValue))),
  ]);
}

function checkTemplate(t: CertificateTemplate, issuer: CertificateIssuer): void {
  const fail = (why: string): never => {
    throw new Error(`certificate template ${t.serial}: ${why}`);
  };
  // RFC 5280 §4.1.2.2: positive, at most 20 octets; DER wants no leading zero octet.
  if (!/^([0-9a-f]{2}){1,20}$/.test(t.serial) || t.serial.startsWith('00') || parseInt(t.serial.slice(0, 2), 16) > 0x7f) {
    fail('serial must be lowercase hex of a positive, minimally encoded INTEGER of at most 20 octets');
  }
  checkDistinguishedName(t.subject);
  if (!Number.isSafeInteger(t.notBefore) || !Number.isSafeInteger(t.notAfter) || t.notBefore % 1000 !== 0 || t.notAfter % 1000 !== 0) {
    fail('validity times must be whole seconds');
  }
  if (t.notAfter <= t.notBefore) fail('notAfter must be after notBefore');
  if (t.notAfter > issuer.notAfter) fail('notAfter is past the issuer certificate notAfter');
  if (t.keyUsage.length === 0) fail('keyUsage must not be empty');
  const isCaUsage = t.keyUsage.includes('keyCertSign') || t.keyUsage.includes('cRLSign');
  if (t.basicConstraints.ca) {
    // RFC 5280 §4.2.1.9: a CA that signs certificates asserts keyCertSign.
    if (!t.keyUsage.includes('keyCertSign')) fail('a CA certificate needs keyUsage keyCertSign');
    if (t.extendedKeyUsage !== undefined) fail('CA certificates carry no extendedKeyUsage here');
  } else {
    if (isCaUsage) fail('keyCertSign/cRLSign are for CA certificates only');
    // RFC 5280 §4.2.1.9: pathLenConstraint only when cA is asserted.
    if (t.basicConstraints.pathLength !== undefined) fail('pathLength needs ca=true');
    if (t.permittedUriHosts !== undefined) fail('name constraints are for CA certificates only (RFC 5280 §4.2.1.10)');
  }
  const pathLength = t.basicConstraints.pathLength;
  if (pathLength !== undefined && (!Number.isInteger(pathLength) || pathLength < 0)) fail('pathLength must be a non-negative integer');
  for (const san of t.subjectAltNames ?? []) {
    switch (san.type) {
      case 'dns':
        if (normalizeDnsName(san.value, { allowWildcard: true }) !== san.value) fail(`DNS name ${san.value} is not normalized`);
        break;
      case 'ip':
        if (normalizeIpAddress(san.value) !== san.value) fail(`IP address ${san.value} is not in canonical form`);
        break;
      case 'uri':
        if (!URL.canParse(san.value)) fail(`URI ${san.value} is not absolute`);
        break;
      case 'email':
        fail('rfc822Name SANs are not issued');
        break;
      default: {
        const never: never = san.type;
        fail(`unknown SAN type ${String(never)}`);
      }
    }
  }
  // RFC 5280 §4.1.2.6: an empty subject needs subjectAltName (made critical below).
  if (t.subject.length === 0 && (t.subjectAltNames ?? []).length === 0) fail('an empty subject needs subjectAltName');
  for (const url of [t.ocspUrl, t.crlUrl]) {
    if (url !== undefined && !/^https?:\/\//.test(url)) fail(`${url} is not an http(s) URL`);
  }
  for (const host of t.permittedUriHosts ?? []) if (host.length === 0 || host.includes('/')) fail(`${host} is not a URI host constraint`);
}

function encodeExtensions(t: CertificateTemplate, issuer: CertificateIssuer, subjectKeyId: Uint8Array): asn.Extension[] {
  const out: asn.Extension[] = [];
  const add = (oid: string, critical: boolean, value: ArrayBuffer | Uint8Array): void => {
    out.push(new asn.Extension({ extnID: oid, critical, extnValue: new OctetString(value) }));
  };
  // RFC 5280 §4.2.1.9: basicConstraints MUST be critical in CA certificates; SPIFFE X509-SVID §4.1 wants it critical in leaves too.
  const basicConstraints = new asn.BasicConstraints({ cA: t.basicConstraints.ca });
  if (t.basicConstraints.pathLength !== undefined) basicConstraints.pathLenConstraint = t.basicConstraints.pathLength;
  add(asn.id_ce_basicConstraints, true, AsnConvert.serialize(basicConstraints));
  // RFC 5280 §4.2.1.3: keyUsage SHOULD be critical; SPIFFE X509-SVID §4.3 says MUST.
  const flags = t.keyUsage.reduce((acc, name) => acc | KEY_USAGE_FLAGS[name], 0);
  add(asn.id_ce_keyUsage, true, AsnConvert.serialize(new asn.KeyUsage(flags)));
  if (t.extendedKeyUsage !== undefined && t.extendedKeyUsage.length > 0) {
    add(asn.id_ce_extKeyUsage, false, AsnConvert.serialize(new asn.ExtendedKeyUsage(t.extendedKeyUsage.map((u) => EKU_OIDS[u]))));
  }
  add(asn.id_ce_subjectKeyIdentifier, false, AsnConvert.serialize(new asn.SubjectKeyIdentifier(subjectKeyId)));
  // RFC 5280 §4.2.1.1: AKI in every certificate but a self-signed one, where it MAY appear; we always write it.
  const authorityKeyId = issuer.isSelf ? subjectKeyId : issuer.keyIdentifier;
  add(
    asn.id_ce_authorityKeyIdentifier,
    false,
    AsnConvert.serialize(new asn.AuthorityKeyIdentifier({ keyIdentifier: new asn.KeyIdentifier(authorityKeyId) })),
  );
  const sans = t.subjectAltNames ?? [];
  if (sans.length > 0) {
    add(
      asn.id_ce_subjectAltName,
      t.subject.length === 0,
      AsnConvert.serialize(new asn.SubjectAlternativeName(sans.map(encodeGeneralName))),
    );
  }
  if (t.ocspUrl !== undefined) {
    const access = new asn.AccessDescription({
      accessMethod: asn.id_ad_ocsp,
      accessLocation: new asn.GeneralName({ uniformResourceIdentifier: t.ocspUrl }),
    });
    add(asn.id_pe_authorityInfoAccess, false, AsnConvert.serialize(new asn.AuthorityInfoAccessSyntax([access])));
  }
  if (t.crlUrl !== undefined) {
    const point = new asn.DistributionPoint({
      distributionPoint: new asn.DistributionPointName({ fullName: [new asn.GeneralName({ uniformResourceIdentifier: t.crlUrl })] }),
    });
    add(asn.id_ce_cRLDistributionPoints, false, AsnConvert.serialize(new asn.CRLDistributionPoints([point])));
  }
  if (t.permittedUriHosts !== undefined && t.permittedUriHosts.length > 0) {
    const subtrees = new asn.GeneralSubtrees(
      t.permittedUriHosts.map((host) => new asn.GeneralSubtree({ base: new asn.GeneralName({ uniformResourceIdentifier: host }) })),
    );
    // RFC 5280 §4.2.1.10: conforming CAs MUST mark nameConstraints critical.
    add(asn.id_ce_nameConstraints, true, AsnConvert.serialize(new asn.NameConstraints({ permittedSubtrees: subtrees })));
  }
  if (t.ocspNoCheck === true) add(OID.ocspNoCheck, false, DER_NULL);
  return out;
}

function encodeGeneralName(san: SubjectAltName): asn.GeneralName {
  switch (san.type) {
    case 'dns':
      return new asn.GeneralName({ dNSName: san.value });
    case 'ip':
      return new asn.GeneralName({ iPAddress: san.value });
    case 'uri':
      return new asn.GeneralName({ uniformResourceIdentifier: san.value });
    case 'email':
      return new asn.GeneralName({ rfc822Name: san.value });
    default: {
      const never: never = san.type;
      throw new Error(`unknown SAN type ${String(never)}`);
    }
  }
}

/** RFC 5280 §4.1.2.6: UTF8String for new names; one attribute per RDN, in the order given. */
function encodeName(name: DistinguishedName): asn.Name {
  return new asn.Name(
    name.map(
      (attribute) =>
        new asn.RelativeDistinguishedName([
          new asn.AttributeTypeAndValue({
            type: ATTRIBUTE_OIDS[attribute.type],
            value: new asn.AttributeValue({ utf8String: attribute.value }),
          }),
        ]),
    ),
  );
}

/** A fresh ArrayBuffer holding exactly these bytes (asn1-schema wants ArrayBuffers). */
function bufferOf(bytes: Uint8Array): ArrayBuffer {
  return Uint8Array.from(bytes).buffer;
}
