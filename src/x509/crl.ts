import { AsnConvert, BitString, OctetString } from '@peculiar/asn1-schema';
import * as asn from '@peculiar/asn1-x509';
import { DomainError } from '../shared/errors.js';
import { REVOCATION_REASONS, type RevocationReason } from '../shared/records.js';
import { SIGNATURE, type CertificateIssuer } from './certificate.js';
import { derSequence } from './der.js';
import { peculiar } from './provider.js';
import { normalizeSerial } from './serial.js';

/*
 * X.509 v2 CRLs (RFC 5280 §5) on the asn1-x509 schemas. The TBSCertList is
 * encoded here and signed through a function src/ca hands in; the signed
 * bytes are joined into the CertificateList unchanged.
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
}

/** The issuing CA as the CRL needs it: its Name and key identifier (AKI), and a signature by its key. */
export interface CrlSigner {
  readonly issuer: Pick<CertificateIssuer, 'name' | 'keyIdentifier' | 'curve'>;
  /** DER ECDSA-Sig-Value over `tbs`, hashed as SIGNATURE[curve] says. */
  sign(tbs: Uint8Array): Uint8Array;
}

function serialize(value: unknown): Uint8Array {
  return new Uint8Array(AsnConvert.serialize(value));
}

/** RFC 5280 §5.1.2.4: UTCTime through 2049, GeneralizedTime after; whole seconds either way. */
function crlTime(ms: number): asn.Time {
  return new asn.Time(new Date(Math.floor(ms / 1000) * 1000));
}

function extension(oid: string, value: Uint8Array): asn.Extension {
  return new asn.Extension({ extnID: oid, critical: false, extnValue: new OctetString(value) });
}

/** The INTEGER content octets of a serial: a 00 sign octet when the top bit is set (X.690 §8.3.2), else positive values read as negative. */
function integerContent(serial: string): ArrayBuffer {
  const octets = Buffer.from(normalizeSerial(serial), 'hex');
  return Uint8Array.from((octets[0] ?? 0) >= 0x80 ? [0, ...octets] : octets).buffer;
}

/** Encodes and signs a complete CRL (DER CertificateList). */
export function encodeCrl(content: CrlContent, signer: CrlSigner): Uint8Array {
  if (!Number.isSafeInteger(content.crlNumber) || content.crlNumber < 0) throw new Error('crlNumber must be a non-negative safe integer');
  if (content.nextUpdate <= content.thisUpdate) throw new Error('nextUpdate must be after thisUpdate');
  const algorithm = new asn.AlgorithmIdentifier({ algorithm: SIGNATURE[signer.issuer.curve].oid });
  const revoked = content.entries.map(
    (entry) =>
      new asn.RevokedCertificate({
        userCertificate: integerContent(entry.serial),
        revocationDate: crlTime(entry.revokedAt),
        // RFC 5280 §5.3.1: reasonCode unspecified SHOULD be absent rather than written.
        ...(entry.reason === null || entry.reason === 'unspecified'
          ? {}
          : { crlEntryExtensions: [extension(asn.id_ce_cRLReasons, serialize(new asn.CRLReason(REVOCATION_REASONS[entry.reason])))] }),
      }),
  );
  const tbs = new asn.TBSCertList({
    version: asn.Version.v2,
    signature: algorithm,
    issuer: signer.issuer.name,
    thisUpdate: crlTime(content.thisUpdate),
    nextUpdate: crlTime(content.nextUpdate),
    // RFC 5280 §5.1.2.6: when there are no revoked certificates the list is absent, not empty.
    ...(revoked.length === 0 ? {} : { revokedCertificates: revoked }),
    crlExtensions: [
      // RFC 5280 §5.2.1 and §5.2.3: conforming CAs MUST include the AKI and the CRL number.
      extension(asn.id_ce_authorityKeyIdentifier, serialize(new asn.AuthorityKeyIdentifier({ keyIdentifier: new asn.KeyIdentifier(signer.issuer.keyIdentifier) }))),
      extension(asn.id_ce_cRLNumber, serialize(new asn.CRLNumber(content.crlNumber))),
    ],
  });
  const tbsDer = serialize(tbs);
  // RFC 5280 §5.1: CertificateList ::= SEQUENCE { tbsCertList, signatureAlgorithm, signatureValue BIT STRING }.
  return derSequence([tbsDer, serialize(algorithm), serialize(new BitString(signer.sign(tbsDer)))]);
}

export interface CrlDescription {
  readonly issuer: string;
  readonly thisUpdate: number;
  readonly nextUpdate: number | null;
  readonly crlNumber: number | null;
  readonly authorityKeyId: string | null;
  readonly entries: readonly CrlEntry[];
  readonly signatureAlgorithm: string;
  readonly signature: Uint8Array;
  readonly tbs: Uint8Array;
}

const REASON_NAMES: ReadonlyMap<number, RevocationReason> = new Map(
  Object.entries(REVOCATION_REASONS).map(([name, code]) => [code, name as RevocationReason]),
);

/** asn1-schema hands INTEGERs beyond 32 bits back as decimal strings. */
function crlNumberOf(extnValue: ArrayBuffer): number {
  const value: unknown = AsnConvert.parse(extnValue, asn.CRLNumber).value;
  const number = typeof value === 'string' ? Number(value) : value;
  if (typeof number !== 'number' || !Number.isSafeInteger(number)) throw new DomainError('malformed', 'the CRL number is not a safe integer');
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
    const keyId = aki === undefined ? undefined : AsnConvert.parse(aki.extnValue.buffer, asn.AuthorityKeyIdentifier).keyIdentifier;
    return {
      issuer: new peculiar.Name(tbs.issuer).toString(),
      thisUpdate: tbs.thisUpdate.getTime().getTime(),
      nextUpdate: tbs.nextUpdate === undefined ? null : tbs.nextUpdate.getTime().getTime(),
      crlNumber: number === undefined ? null : crlNumberOf(number.extnValue.buffer),
      authorityKeyId: keyId === undefined ? null : Buffer.from(keyId.buffer).toString('hex'),
      entries: (tbs.revokedCertificates ?? []).map((entry) => {
        const reason = (entry.crlEntryExtensions ?? []).find((e) => e.extnID === asn.id_ce_cRLReasons);
        return {
          serial: normalizeSerial(Buffer.from(entry.userCertificate).toString('hex')),
          revokedAt: entry.revocationDate.getTime().getTime(),
          reason: reason === undefined ? null : (REASON_NAMES.get(AsnConvert.parse(reason.extnValue.buffer, asn.CRLReason).reason) ?? null),
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
