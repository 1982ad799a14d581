import { AsnConvert, BitString, OctetString } from '@peculiar/asn1-schema';
import * as asn from '@peculiar/asn1-x509';
import { DomainError } from '../shared/errors.js';
import { REVOCATION_REASONS, revocationReasonOf, type RevocationReason } from '../domain/certificates.js';
import { SIGNATURE, type CertificateIssuer, type IssuerCurve } from './certificate.js';
import { asciiBytes, contextTag, derSequence, encodeOid, Tag, tlv } from '../pkix/index.js';
import { peculiar } from './provider.js';
import { normalizeSerial } from './serial.js';

/*
 * X.509 v2 CRLs (RFC 5280 §5). The TBSCertList is written by a small DER
 * writer (a revoked entry costs a few microseconds; the asn1-schema object
 * model costs ~100 us an entry, 10 s for 100,000), byte for byte what the
 * asn1-x509 schemas produce for the same content: `encodeCrlTbsWithSchemas`
 * is kept as the reference the tests compare with. The TBS is signed through
 * a function src/ca hands in; the signed bytes are joined into the
 * CertificateList unchanged.
 */

export interface CrlEntry {
  /** Lowercase hex, as the ledger stores it. */
  readonly serial: string;
  readonly revokedAt: number;
  readonly reason: RevocationReason | null;
}

export interface CrlContent {
  readonly thisUpdate: number;
  readonly nextUpdate: number;
  /** RFC 5280 §5.2.3: monotonically increasing, at most 20 octets; safe integers here. */
  readonly crlNumber: number;
  readonly entries: readonly CrlEntry[];
  /**
   * RFC 5280 §5.2.5: the distribution point this CRL covers (a shard's URL,
   * as the certificates of that shard name it), written as a critical
   * Issuing Distribution Point with onlyContainsUserCerts. Absent for the
   * full CRL, whose scope is everything the issuer issued.
   */
  readonly distributionPoint?: string;
}

/**
 * The issuing CA as a CRL needs it, in plain bytes so that it crosses to a
 * worker thread: its Name (DER, byte for byte its certificate's subject), its
 * key identifier (for the AKI) and its curve (the signature algorithm).
 */
export interface CrlIssuer {
  readonly nameDer: Uint8Array;
  readonly keyIdentifier: Uint8Array;
  readonly curve: IssuerCurve;
}

/** The issuing CA as the CRL needs it, and a signature by its key. */
export interface CrlSigner {
  readonly issuer: CrlIssuer;
  /** DER ECDSA-Sig-Value over `tbs`, hashed as SIGNATURE[curve] says. */
  sign(tbs: Uint8Array): Uint8Array;
}

/** The CRL view of a certificate issuer. */
export function crlIssuerOf(issuer: Pick<CertificateIssuer, 'name' | 'keyIdentifier' | 'curve'>): CrlIssuer {
  return { nameDer: new Uint8Array(AsnConvert.serialize(issuer.name)), keyIdentifier: issuer.keyIdentifier, curve: issuer.curve };
}

function checkContent(content: CrlContent): void {
  if (!Number.isSafeInteger(content.crlNumber) || content.crlNumber < 0) throw new Error('crlNumber must be a non-negative safe integer');
  if (content.nextUpdate <= content.thisUpdate) throw new Error('nextUpdate must be after thisUpdate');
  if (
    content.distributionPoint !== undefined &&
    (asciiBytes(content.distributionPoint) === undefined || !/^https?:\/\//.test(content.distributionPoint))
  ) {
    throw new Error('the issuing distribution point must be an ASCII http(s) URL');
  }
}

// ---------------------------------------------------------------- the DER writer

const OID_TLV = {
  reasonCode: encodeOid(asn.id_ce_cRLReasons),
  authorityKeyIdentifier: encodeOid(asn.id_ce_authorityKeyIdentifier),
  cRLNumber: encodeOid(asn.id_ce_cRLNumber),
  issuingDistributionPoint: encodeOid(asn.id_ce_issuingDistributionPoint),
} as const;
// RFC 5280 §5.1.2.1: v2 is INTEGER 1.
const VERSION_V2 = tlv(Tag.integer, Uint8Array.of(1));
const BOOLEAN_TRUE = tlv(Tag.boolean, Uint8Array.of(0xff));
const ENUMERATED = 0x0a;

/**
 * RFC 5280 §5.3.1: one Extensions SEQUENCE holding the reasonCode extension,
 * per reason, made once. unspecified SHOULD be absent rather than written.
 */
const REASON_EXTENSIONS: ReadonlyMap<RevocationReason, Uint8Array> = new Map(
  Object.entries(REVOCATION_REASONS)
    .filter(([name]) => name !== 'unspecified')
    .map(([name, code]) => [
      name as RevocationReason,
      tlv(Tag.sequence, tlv(Tag.sequence, OID_TLV.reasonCode, tlv(Tag.octetString, tlv(ENUMERATED, Uint8Array.of(code))))),
    ]),
);

/** RFC 5280 §5.1.2.4/§5.1.2.6: UTCTime through 2049, GeneralizedTime after; whole seconds. */
export function encodeCrlTime(ms: number): Uint8Array {
  const date = new Date(Math.floor(ms / 1000) * 1000);
  const year = date.getUTCFullYear();
  if (!Number.isFinite(year) || year < 1950 || year > 9999) throw new Error(`CRL time ${ms} is outside 1950-9999`);
  const two = (n: number): string => (n < 10 ? `0${n}` : String(n));
  const rest = `${two(date.getUTCMonth() + 1)}${two(date.getUTCDate())}${two(date.getUTCHours())}${two(date.getUTCMinutes())}${two(date.getUTCSeconds())}Z`;
  return year < 2050
    ? tlv(Tag.utcTime, Buffer.from(`${two(year % 100)}${rest}`, 'latin1'))
    : tlv(Tag.generalizedTime, Buffer.from(`${year}${rest}`, 'latin1'));
}

/** X.690 §8.3: the INTEGER content octets of a non-negative value, minimal, with a 00 sign octet when the top bit is set. */
function integerOctets(value: bigint): Uint8Array {
  let hex = value.toString(16);
  if (hex.length % 2 === 1) hex = `0${hex}`;
  const octets = Buffer.from(hex, 'hex');
  return (octets[0] ?? 0) >= 0x80 ? Buffer.concat([Uint8Array.of(0), octets]) : octets;
}

/** The serial INTEGER TLV (a ledger serial is already minimal lowercase hex; normalizeSerial checks it). */
function serialTlv(serial: string): Uint8Array {
  return tlv(Tag.integer, integerOctets(BigInt(`0x${normalizeSerial(serial)}`)));
}

/** One revokedCertificates entry: SEQUENCE { userCertificate, revocationDate, crlEntryExtensions OPTIONAL } (RFC 5280 §5.1). */
export function encodeRevokedEntry(entry: CrlEntry): Uint8Array {
  const extensions = entry.reason === null ? undefined : REASON_EXTENSIONS.get(entry.reason);
  return extensions === undefined
    ? tlv(Tag.sequence, serialTlv(entry.serial), encodeCrlTime(entry.revokedAt))
    : tlv(Tag.sequence, serialTlv(entry.serial), encodeCrlTime(entry.revokedAt), extensions);
}

function extension(oid: Uint8Array, isCritical: boolean, value: Uint8Array): Uint8Array {
  return isCritical
    ? tlv(Tag.sequence, oid, BOOLEAN_TRUE, tlv(Tag.octetString, value))
    : tlv(Tag.sequence, oid, tlv(Tag.octetString, value));
}

/** ecdsa-with-SHA256/384 with the parameters absent (RFC 5758 §3.2). */
function signatureAlgorithm(curve: IssuerCurve): Uint8Array {
  return tlv(Tag.sequence, encodeOid(SIGNATURE[curve].oid));
}

/**
 * The DER TBSCertList (RFC 5280 §5.1.2) by hand. Entries go in the order
 * given. Equal, byte for byte, to `encodeCrlTbsWithSchemas` for the same
 * content (test/unit/x509/crl-der.test.ts).
 */
export function encodeCrlTbs(content: CrlContent, issuer: CrlIssuer): Uint8Array {
  checkContent(content);
  const crlExtensions = [
    // RFC 5280 §5.2.1 and §5.2.3: conforming CAs MUST include the AKI and the CRL number.
    extension(OID_TLV.authorityKeyIdentifier, false, tlv(Tag.sequence, tlv(contextTag(0, false), issuer.keyIdentifier))),
    extension(OID_TLV.cRLNumber, false, tlv(Tag.integer, integerOctets(BigInt(content.crlNumber)))),
  ];
  if (content.distributionPoint !== undefined) {
    const url = asciiBytes(content.distributionPoint) ?? new Uint8Array(0);
    // RFC 5280 §5.2.5: IssuingDistributionPoint { distributionPoint [0] { fullName [0] GeneralNames }, onlyContainsUserCerts [1] TRUE }; critical.
    const point = tlv(contextTag(0, true), tlv(contextTag(0, true), tlv(contextTag(6, false), url)));
    crlExtensions.push(
      extension(OID_TLV.issuingDistributionPoint, true, tlv(Tag.sequence, point, tlv(contextTag(1, false), Uint8Array.of(0xff)))),
    );
  }
  const entries = content.entries.map(encodeRevokedEntry);
  return tlv(
    Tag.sequence,
    VERSION_V2,
    signatureAlgorithm(issuer.curve),
    issuer.nameDer,
    encodeCrlTime(content.thisUpdate),
    encodeCrlTime(content.nextUpdate),
    // RFC 5280 §5.1.2.6: when there are no revoked certificates the list is absent, not empty.
    // Joined first: spreading hundreds of thousands of entries as arguments would overflow the stack.
    ...(entries.length === 0 ? [] : [tlv(Tag.sequence, Buffer.concat(entries))]),
    tlv(contextTag(0, true), tlv(Tag.sequence, ...crlExtensions)),
  );
}

/** RFC 5280 §5.1: CertificateList ::= SEQUENCE { tbsCertList, signatureAlgorithm, signatureValue BIT STRING }. */
export function joinCrl(tbs: Uint8Array, curve: IssuerCurve, signature: Uint8Array): Uint8Array {
  return derSequence([tbs, signatureAlgorithm(curve), tlv(Tag.bitString, Uint8Array.of(0), signature)]);
}

/** Encodes and signs a complete CRL (DER CertificateList). */
export function encodeCrl(content: CrlContent, signer: CrlSigner): Uint8Array {
  const tbs = encodeCrlTbs(content, signer.issuer);
  return joinCrl(tbs, signer.issuer.curve, signer.sign(tbs));
}

// ---------------------------------------------------------------- the reference builder (asn1-x509 schemas)

function serialize(value: unknown): Uint8Array {
  return new Uint8Array(AsnConvert.serialize(value));
}

function crlTime(ms: number): asn.Time {
  return new asn.Time(new Date(Math.floor(ms / 1000) * 1000));
}

function schemaExtension(oid: string, value: Uint8Array, critical = false): asn.Extension {
  return new asn.Extension({ extnID: oid, critical, extnValue: new OctetString(value) });
}

/** The INTEGER content octets of a serial: a 00 sign octet when the top bit is set (X.690 §8.3.2), else positive values read as negative. */
function integerContent(serial: string): ArrayBuffer {
  const octets = Buffer.from(normalizeSerial(serial), 'hex');
  return Uint8Array.from((octets[0] ?? 0) >= 0x80 ? [0, ...octets] : octets).buffer;
}

/**
 * The same TBSCertList through the asn1-x509 schemas (DESIGN: no hand-written
 * ASN.1 where a schema exists): the reference `encodeCrlTbs` is checked
 * against, and what bench/crl compares its speed with. ~100 us an entry.
 */
export function encodeCrlTbsWithSchemas(content: CrlContent, issuer: CrlIssuer): Uint8Array {
  checkContent(content);
  const algorithm = new asn.AlgorithmIdentifier({ algorithm: SIGNATURE[issuer.curve].oid });
  const revoked = content.entries.map(
    (entry) =>
      new asn.RevokedCertificate({
        userCertificate: integerContent(entry.serial),
        revocationDate: crlTime(entry.revokedAt),
        ...(entry.reason === null || entry.reason === 'unspecified'
          ? {}
          : {
              crlEntryExtensions: [schemaExtension(asn.id_ce_cRLReasons, serialize(new asn.CRLReason(REVOCATION_REASONS[entry.reason])))],
            }),
      }),
  );
  const extensions = [
    schemaExtension(
      asn.id_ce_authorityKeyIdentifier,
      serialize(new asn.AuthorityKeyIdentifier({ keyIdentifier: new asn.KeyIdentifier(issuer.keyIdentifier) })),
    ),
    schemaExtension(asn.id_ce_cRLNumber, serialize(new asn.CRLNumber(content.crlNumber))),
  ];
  if (content.distributionPoint !== undefined) {
    const point = new asn.IssuingDistributionPoint({
      distributionPoint: new asn.DistributionPointName({
        fullName: [new asn.GeneralName({ uniformResourceIdentifier: content.distributionPoint })],
      }),
      onlyContainsUserCerts: true,
    });
    extensions.push(schemaExtension(asn.id_ce_issuingDistributionPoint, serialize(point), true));
  }
  const tbs = new asn.TBSCertList({
    version: asn.Version.v2,
    signature: algorithm,
    issuer: AsnConvert.parse(issuer.nameDer, asn.Name),
    thisUpdate: crlTime(content.thisUpdate),
    nextUpdate: crlTime(content.nextUpdate),
    ...(revoked.length === 0 ? {} : { revokedCertificates: revoked }),
    crlExtensions: extensions,
  });
  return serialize(tbs);
}

/** The reference CRL, signed: the schema-built TBS wrapped as asn1-x509 wraps it. */
export function encodeCrlWithSchemas(content: CrlContent, signer: CrlSigner): Uint8Array {
  const tbs = encodeCrlTbsWithSchemas(content, signer.issuer);
  const algorithm = new asn.AlgorithmIdentifier({ algorithm: SIGNATURE[signer.issuer.curve].oid });
  return derSequence([tbs, serialize(algorithm), serialize(new BitString(signer.sign(tbs)))]);
}

export interface CrlDescription {
  readonly issuer: string;
  readonly thisUpdate: number;
  readonly nextUpdate: number | null;
  readonly crlNumber: number | null;
  readonly authorityKeyId: string | null;
  /** The Issuing Distribution Point's URI (RFC 5280 §5.2.5), null without one. */
  readonly distributionPoint: string | null;
  readonly isDistributionPointCritical: boolean;
  readonly entries: readonly CrlEntry[];
  readonly signatureAlgorithm: string;
  readonly signature: Uint8Array;
  readonly tbs: Uint8Array;
}

/** asn1-schema hands INTEGERs beyond 32 bits back as decimal strings. */
function crlNumberOf(extnValue: ArrayBuffer): number {
  const value: unknown = AsnConvert.parse(extnValue, asn.CRLNumber).value;
  const number = typeof value === 'string' ? Number(value) : value;
  if (typeof number !== 'number' || !Number.isSafeInteger(number))
    throw new DomainError('malformed', 'the CRL number is not a safe integer');
  return number;
}

/** Reads a DER CRL back (tests and checks after signing); DomainError('malformed') when it is not one. */
export function describeCrl(der: Uint8Array): CrlDescription {
  try {
    const crl = AsnConvert.parse(der, asn.CertificateList);
    const tbs = crl.tbsCertList;
    const find = (oid: string): asn.Extension | undefined => (tbs.crlExtensions ?? []).find((e) => e.extnID === oid);
    const number = find(asn.id_ce_cRLNumber);
    const aki = find(asn.id_ce_authorityKeyIdentifier);
    const idp = find(asn.id_ce_issuingDistributionPoint);
    const idpName =
      idp === undefined
        ? undefined
        : AsnConvert.parse(idp.extnValue.buffer, asn.IssuingDistributionPoint).distributionPoint?.fullName?.[0]?.uniformResourceIdentifier;
    const keyId = aki === undefined ? undefined : AsnConvert.parse(aki.extnValue.buffer, asn.AuthorityKeyIdentifier).keyIdentifier;
    return {
      issuer: new peculiar.Name(tbs.issuer).toString(),
      thisUpdate: tbs.thisUpdate.getTime().getTime(),
      nextUpdate: tbs.nextUpdate === undefined ? null : tbs.nextUpdate.getTime().getTime(),
      crlNumber: number === undefined ? null : crlNumberOf(number.extnValue.buffer),
      authorityKeyId: keyId === undefined ? null : Buffer.from(keyId.buffer).toString('hex'),
      distributionPoint: idpName ?? null,
      isDistributionPointCritical: idp?.critical === true,
      entries: (tbs.revokedCertificates ?? []).map((entry) => {
        const reason = (entry.crlEntryExtensions ?? []).find((e) => e.extnID === asn.id_ce_cRLReasons);
        return {
          serial: normalizeSerial(Buffer.from(entry.userCertificate).toString('hex')),
          revokedAt: entry.revocationDate.getTime().getTime(),
          reason:
            reason === undefined ? null : (revocationReasonOf(AsnConvert.parse(reason.extnValue.buffer, asn.CRLReason).reason) ?? null),
        };
      }),
      signatureAlgorithm: crl.signatureAlgorithm.algorithm,
      signature: new Uint8Array(crl.signature),
      tbs: new Uint8Array(crl.tbsCertListRaw ?? AsnConvert.serialize(tbs)),
    };
  } catch (cause) {
    if (cause instanceof DomainError) throw cause;
    throw new DomainError('malformed', 'not a DER CRL', { cause });
  }
}
