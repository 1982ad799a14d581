import { sign, verify, type KeyObject } from 'node:crypto';
import type { SubjectAltName } from '../domain/certificates.js';
import { contextTag, decodeOid, decodeTime, DerError, DerReader, readChildren, readSingle, Tag, tlv } from '../pkix/index.js';
import { type NameAttribute, octetsToIp } from './names.js';
import { signOneShot, verifyOneShot } from './one-shot.js';

/*
 * The signing half of the leaf hot path (leaf-template.ts encodes): sign a
 * TBSCertificate with the issuer key, then check what was signed. Everything
 * it needs is bytes and KeyObjects (`LeafSigningKeys`, `LeafExpectation`), so
 * the same code runs on the event loop (one-shots on the libuv pool) and in a
 * crypto worker (src/x509/crypto-pool, synchronous calls on the worker's own
 * thread), and both give the same bytes for the same signature.
 */

/** RFC 5280 §4.2.1 OIDs the leaf path writes and checks. */
export const LEAF_OIDS = {
  basicConstraints: '2.5.29.19',
  keyUsage: '2.5.29.15',
  extKeyUsage: '2.5.29.37',
  subjectKeyIdentifier: '2.5.29.14',
  authorityKeyIdentifier: '2.5.29.35',
  subjectAltName: '2.5.29.17',
  authorityInfoAccess: '1.3.6.1.5.5.7.1.1',
  cRLDistributionPoints: '2.5.29.31',
  accessMethodOcsp: '1.3.6.1.5.5.7.48.1',
} as const;
export const ATTRIBUTE_OIDS: Readonly<Record<NameAttribute['type'], string>> = { CN: '2.5.4.3', O: '2.5.4.10', OU: '2.5.4.11' };
// RFC 5280 §4.1.2.1: v3 is INTEGER 2 under [0] EXPLICIT.
export const VERSION_V3 = tlv(contextTag(0, true), tlv(Tag.integer, Uint8Array.of(2)));
export const GENERAL_NAME_TAG = { dns: contextTag(2, false), uri: contextTag(6, false), ip: contextTag(7, false) } as const;

/** What signs and checks leaves of one issuer: structured-clonable (a worker gets its own copy once per issuer). */
export interface LeafSigningKeys {
  /** node:crypto digest name for the issuer's curve (RFC 5758 §3.2: SHA-256 for P-256, SHA-384 for P-384). */
  readonly nodeHash: 'sha256' | 'sha384';
  readonly signingKey: KeyObject;
  readonly issuerPublicKey: KeyObject;
  /** The issuer Name as the TBS carries it. */
  readonly issuerName: Uint8Array;
  /** The signature AlgorithmIdentifier TLV (both in the TBS and after it). */
  readonly signatureAlgorithm: Uint8Array;
}

/** What a signed leaf must hold: the template's per-certificate fields and its shape's fixed extensions. */
export interface LeafExpectation {
  readonly serial: string;
  readonly notBefore: number;
  readonly notAfter: number;
  readonly subject: readonly NameAttribute[];
  readonly publicKey: Uint8Array;
  readonly subjectAltNames: readonly SubjectAltName[];
  readonly subjectKeyId: Uint8Array;
  /** Extension TLVs by OID that are the same for every leaf of the shape. */
  readonly fixed: ReadonlyMap<string, Uint8Array>;
  /** Extension OIDs in the order they are written. */
  readonly order: readonly string[];
}

export class LeafSigner {
  readonly keys: LeafSigningKeys;

  constructor(keys: LeafSigningKeys) {
    this.keys = keys;
  }

  /** Signs on the libuv pool (node:crypto one-shot), returning the DER certificate (RFC 5280 §4.1). */
  async sign(tbs: Uint8Array): Promise<Uint8Array> {
    // dsaEncoding 'der' gives the Ecdsa-Sig-Value X.509 wants (RFC 3279 §2.2.3).
    const signature = await signOneShot(this.keys.nodeHash, tbs, { key: this.keys.signingKey, dsaEncoding: 'der' });
    return this.assemble(tbs, signature);
  }

  /** The same on this thread, for a crypto worker (no second hop to a pool). */
  signNow(tbs: Uint8Array): Uint8Array {
    return this.assemble(tbs, sign(this.keys.nodeHash, tbs, { key: this.keys.signingKey, dsaEncoding: 'der' }));
  }

  /** The check after signing with the signature verified on the libuv pool. */
  async check(der: Uint8Array, expected: LeafExpectation): Promise<void> {
    const walked = this.walk(der, expected.serial);
    const isSigned = await verifyOneShot(
      this.keys.nodeHash,
      walked.tbs,
      { key: this.keys.issuerPublicKey, dsaEncoding: 'der' },
      walked.signature,
    );
    this.compare(walked, expected, isSigned);
  }

  /** The check after signing on this thread. */
  checkNow(der: Uint8Array, expected: LeafExpectation): void {
    const walked = this.walk(der, expected.serial);
    const isSigned = verify(this.keys.nodeHash, walked.tbs, { key: this.keys.issuerPublicKey, dsaEncoding: 'der' }, walked.signature);
    this.compare(walked, expected, isSigned);
  }

  private assemble(tbs: Uint8Array, signature: Uint8Array): Uint8Array {
    return tlv(Tag.sequence, tbs, this.keys.signatureAlgorithm, tlv(Tag.bitString, Uint8Array.of(0), signature));
  }

  private walk(der: Uint8Array, serial: string): WalkedCertificate {
    try {
      return walkCertificate(der);
    } catch (cause) {
      throw new Error(`issued certificate ${serial} is not well-formed DER`, { cause });
    }
  }

  /**
   * The check after signing (STYLE §6, after Boulder and SPIRE), cut to what
   * this path can get wrong. The issuer-wide DER was compared with the
   * reference builder when its shape was first used, so here it suffices to
   * (1) verify the signature over the TBS as it sits in the output, with the
   * issuer's public key: this catches a faulty signature or the wrong key, the
   * one thing no re-encoding shows; and (2) walk the whole certificate as DER,
   * every length and every element, and compare each spliced field with the
   * template (serial, validity, subject, SPKI, SKI, SANs) and each fixed
   * extension with its cached bytes: a splice or length bug breaks the walk
   * or a comparison. A mismatch is a keysmith bug: a plain Error, and nothing
   * is handed out.
   */
  private compare(walked: WalkedCertificate, expected: LeafExpectation, isSigned: boolean): void {
    const mismatch = (field: string): never => {
      throw new Error(`issued certificate ${expected.serial} does not match its template: ${field}`);
    };
    const { signatureAlgorithm, issuerName } = this.keys;
    if (!equalBytes(walked.signatureAlgorithm, signatureAlgorithm) || !equalBytes(walked.tbsSignatureAlgorithm, signatureAlgorithm)) {
      mismatch('signature algorithm');
    }
    if (!isSigned) mismatch('signature does not verify with the issuer key');
    if (!equalBytes(walked.version, VERSION_V3)) mismatch('version');
    if (!equalBytes(walked.serial, serialBytes(expected.serial))) mismatch('serial');
    if (!equalBytes(walked.issuer, issuerName)) mismatch('issuer name');
    if (walked.notBefore !== expected.notBefore || walked.notAfter !== expected.notAfter) mismatch('validity');
    if (!sameSubject(walked.subject, expected.subject)) mismatch('subject');
    if (!equalBytes(walked.publicKey, expected.publicKey)) mismatch('public key');

    const sans = expected.subjectAltNames;
    const expectedOrder = expected.order.flatMap((oid) => (oid === LEAF_OIDS.subjectAltName && sans.length === 0 ? [] : [oid]));
    const seen = walked.extensions.map((e) => e.oid);
    if (seen.length !== expectedOrder.length || seen.some((oid, i) => oid !== expectedOrder[i])) mismatch('extension list');
    for (const ext of walked.extensions) {
      const fixed = expected.fixed.get(ext.oid);
      if (fixed !== undefined) {
        if (!equalBytes(ext.bytes, fixed)) mismatch(`extension ${ext.oid}`);
      } else if (ext.oid === LEAF_OIDS.subjectKeyIdentifier) {
        if (ext.isCritical || !equalBytes(ext.value, tlv(Tag.octetString, expected.subjectKeyId))) mismatch('subjectKeyIdentifier');
      } else if (ext.oid === LEAF_OIDS.subjectAltName) {
        if (ext.isCritical !== (expected.subject.length === 0) || !sameSans(decodeSans(ext.value), sans)) mismatch('subjectAltName');
      } else {
        mismatch(`unexpected extension ${ext.oid}`);
      }
    }
  }
}

/** RFC 5280 §4.1.2.2 checks, as the builder makes them: lowercase hex, positive, minimal, at most 20 octets. */
export function serialBytes(serial: string): Uint8Array {
  if (!/^([0-9a-f]{2}){1,20}$/.test(serial) || serial.startsWith('00') || parseInt(serial.slice(0, 2), 16) > 0x7f) {
    throw new Error(
      `certificate template ${serial}: serial must be lowercase hex of a positive, minimally encoded INTEGER of at most 20 octets`,
    );
  }
  return Buffer.from(serial, 'hex');
}

export function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(b);
}

// ---------------------------------------------------------------- the walk after signing

interface WalkedExtension {
  readonly oid: string;
  readonly isCritical: boolean;
  /** extnValue contents (the DER inside the OCTET STRING). */
  readonly value: Uint8Array;
  readonly bytes: Uint8Array;
}

interface WalkedCertificate {
  readonly tbs: Uint8Array;
  readonly signatureAlgorithm: Uint8Array;
  readonly signature: Uint8Array;
  readonly version: Uint8Array;
  readonly serial: Uint8Array;
  readonly tbsSignatureAlgorithm: Uint8Array;
  readonly issuer: Uint8Array;
  readonly notBefore: number;
  readonly notAfter: number;
  readonly subject: readonly { readonly oid: string; readonly tag: number; readonly value: Uint8Array }[];
  readonly publicKey: Uint8Array;
  readonly extensions: readonly WalkedExtension[];
}

/** Reads every element of a v3 certificate (RFC 5280 §4.1); throws DerError on any structural fault. */
function walkCertificate(der: Uint8Array): WalkedCertificate {
  const outer = DerReader.of(readSingle(der, Tag.sequence, 'Certificate').content);
  const tbs = outer.expect(Tag.sequence);
  const signatureAlgorithm = outer.expect(Tag.sequence);
  const signatureBits = outer.expect(Tag.bitString);
  outer.expectEnd('Certificate');
  if (signatureBits.content[0] !== 0) throw new DerError('signature BIT STRING has unused bits');

  const fields = DerReader.of(tbs.content);
  const version = fields.expect(contextTag(0, true));
  const serial = fields.expect(Tag.integer);
  const tbsSignatureAlgorithm = fields.expect(Tag.sequence);
  const issuer = fields.expect(Tag.sequence);
  const validity = DerReader.of(fields.expect(Tag.sequence).content);
  const notBefore = decodeTime(validity.read(), 'notBefore');
  const notAfter = decodeTime(validity.read(), 'notAfter');
  validity.expectEnd('Validity');
  const subject = readChildren(fields.expect(Tag.sequence)).map((rdn) => {
    if (rdn.tag !== Tag.set) throw new DerError('RDN is not a SET');
    const attribute = readSingle(rdn.content, Tag.sequence, 'RDN');
    const parts = DerReader.of(attribute.content);
    const oid = decodeOid(parts.expect(Tag.oid).content);
    const value = parts.read();
    parts.expectEnd('AttributeTypeAndValue');
    return { oid, tag: value.tag, value: value.content };
  });
  const publicKey = fields.expect(Tag.sequence);
  const extensionsWrapper = fields.expect(contextTag(3, true));
  fields.expectEnd('TBSCertificate');
  const extensions = readChildren(readSingle(extensionsWrapper.content, Tag.sequence, 'Extensions')).map((element): WalkedExtension => {
    if (element.tag !== Tag.sequence) throw new DerError('Extension is not a SEQUENCE');
    const parts = DerReader.of(element.content);
    const oid = decodeOid(parts.expect(Tag.oid).content);
    const critical = parts.optional(Tag.boolean);
    // DER: a DEFAULT FALSE field is absent rather than FALSE (X.690 §11.5).
    if (critical !== undefined && (critical.content.byteLength !== 1 || critical.content[0] !== 0xff))
      throw new DerError('critical is not DER TRUE');
    const value = parts.expect(Tag.octetString);
    parts.expectEnd('Extension');
    return { oid, isCritical: critical !== undefined, value: value.content, bytes: element.bytes };
  });
  return {
    tbs: tbs.bytes,
    signatureAlgorithm: signatureAlgorithm.bytes,
    signature: signatureBits.content.subarray(1),
    version: version.bytes,
    serial: serial.content,
    tbsSignatureAlgorithm: tbsSignatureAlgorithm.bytes,
    issuer: issuer.bytes,
    notBefore,
    notAfter,
    subject,
    publicKey: publicKey.bytes,
    extensions,
  };
}

function decodeSans(value: Uint8Array): SubjectAltName[] {
  return readChildren(readSingle(value, Tag.sequence, 'GeneralNames')).map((name): SubjectAltName => {
    switch (name.tag) {
      case GENERAL_NAME_TAG.dns:
        return { type: 'dns', value: Buffer.from(name.content).toString('latin1') };
      case GENERAL_NAME_TAG.uri:
        return { type: 'uri', value: Buffer.from(name.content).toString('latin1') };
      case GENERAL_NAME_TAG.ip:
        return { type: 'ip', value: octetsToIp(name.content) };
      default:
        throw new DerError(`unexpected GeneralName tag 0x${name.tag.toString(16)}`);
    }
  });
}

function sameSubject(walked: WalkedCertificate['subject'], subject: readonly NameAttribute[]): boolean {
  return (
    walked.length === subject.length &&
    walked.every((attribute, i) => {
      const expected = subject[i];
      return (
        expected !== undefined &&
        attribute.oid === ATTRIBUTE_OIDS[expected.type] &&
        attribute.tag === Tag.utf8String &&
        Buffer.from(attribute.value).toString('utf8') === expected.value
      );
    })
  );
}

function sameSans(walked: readonly SubjectAltName[], expected: readonly SubjectAltName[]): boolean {
  return walked.length === expected.length && walked.every((san, i) => san.type === expected[i]?.type && san.value === expected[i]?.value);
}
