import { constants, verify, type KeyObject } from 'node:crypto';
import { verifyOneShot } from './one-shot.js';
import { DomainError } from '../shared/errors.js';
import {
  contextTag,
  decodeOid,
  decodeSmallInteger,
  DerError,
  DerReader,
  readChildren,
  readSingle,
  Tag,
  type DerElement,
} from '../pkix/index.js';
import { describeNameDer } from './name-text.js';
import { octetsToIp } from './names.js';
import { parsePemBlocks } from './pem.js';
import type { SubjectKeyAlgorithm } from './public-key.js';
import { checkSubjectPublicKey, importSubjectKey, type CheckedSubjectKey } from './subject-key.js';

/** What a PKCS#10 request asks for, after its signature and key were checked. */
export interface ParsedCsr {
  /** DER SubjectPublicKeyInfo, re-encoded canonically. */
  readonly publicKey: Uint8Array;
  readonly keyAlgorithm: SubjectKeyAlgorithm;
  /** RFC 4514-style string, "" when the subject is empty. */
  readonly subject: string;
  readonly commonName: string | null;
  readonly dnsNames: readonly string[];
  /** Canonical text (dotted quad, RFC 5952). */
  readonly ipAddresses: readonly string[];
  readonly uris: readonly string[];
  readonly emails: readonly string[];
}

// ACME CSRs are a few hundred bytes; this bounds parsing of hostile input.
const MAX_CSR_BYTES = 16 * 1024;
const PEM_LABELS = new Set(['CERTIFICATE REQUEST', 'NEW CERTIFICATE REQUEST']);

const OID = {
  extensionRequest: '1.2.840.113549.1.9.14', // PKCS#9 (RFC 2985 §5.4.2)
  subjectAltName: '2.5.29.17',
  ecdsaWithSha256: '1.2.840.10045.4.3.2', // RFC 5758 §3.2
  ecdsaWithSha384: '1.2.840.10045.4.3.3',
  ecdsaWithSha512: '1.2.840.10045.4.3.4',
  ed25519: '1.3.101.112', // RFC 8410 §3
  sha256WithRsa: '1.2.840.113549.1.1.11', // RFC 4055 §5
  sha384WithRsa: '1.2.840.113549.1.1.12',
  sha512WithRsa: '1.2.840.113549.1.1.13',
  rsassaPss: '1.2.840.113549.1.1.10', // RFC 4055 §3.1
  mgf1: '1.2.840.113549.1.1.8',
  sha256: '2.16.840.1.101.3.4.2.1',
  sha384: '2.16.840.1.101.3.4.2.2',
  sha512: '2.16.840.1.101.3.4.2.3',
} as const;

type Digest = 'sha256' | 'sha384' | 'sha512';
const ECDSA_DIGESTS: ReadonlyMap<string, Digest> = new Map([
  [OID.ecdsaWithSha256, 'sha256'],
  [OID.ecdsaWithSha384, 'sha384'],
  [OID.ecdsaWithSha512, 'sha512'],
]);
const RSA_DIGESTS: ReadonlyMap<string, Digest> = new Map([
  [OID.sha256WithRsa, 'sha256'],
  [OID.sha384WithRsa, 'sha384'],
  [OID.sha512WithRsa, 'sha512'],
]);
const HASH_DIGESTS: ReadonlyMap<string, Digest> = new Map([
  [OID.sha256, 'sha256'],
  [OID.sha384, 'sha384'],
  [OID.sha512, 'sha512'],
]);

/** How to check the self-signature, from signatureAlgorithm (SHA-1 forms are refused, as Boulder does). */
type SignatureCheck =
  | { readonly kind: 'ec'; readonly digest: Digest }
  | { readonly kind: 'ed25519' }
  | { readonly kind: 'rsa'; readonly digest: Digest }
  | { readonly kind: 'rsa-pss'; readonly digest: Digest; readonly saltLength: number };

/** The parts of a CertificationRequest (RFC 2986 §4) that keysmith reads. */
interface DecodedRequest {
  /** CertificationRequestInfo as it was signed. */
  readonly info: Uint8Array;
  readonly subject: Uint8Array;
  readonly publicKey: Uint8Array;
  /** The Extensions of the first extensionRequest attribute (its first value), if any. */
  readonly extensions: readonly DecodedExtension[];
  readonly signatureAlgorithm: DerElement;
  readonly signature: Uint8Array;
}

interface DecodedExtension {
  readonly oid: string;
  /** extnValue contents. */
  readonly value: Uint8Array;
}

export interface ParseCsrOptions {
  /** Verify on the calling thread (a crypto worker) rather than hopping to the libuv pool; default false. */
  readonly onThisThread?: boolean;
}

/**
 * Parses a CSR given as PEM, base64/base64url DER (RFC 8555 §7.4 finalize) or
 * raw DER; verifies its self-signature (RFC 2986 §3: proof of possession) and
 * its key. Undecodable input is `malformed`; a bad signature, key or name is `badCSR`.
 */
export async function parseCsr(input: string | Uint8Array, options: ParseCsrOptions = {}): Promise<ParsedCsr> {
  const der = csrBytes(input);
  let request: DecodedRequest;
  let subject: { readonly text: string; readonly commonNames: readonly string[] };
  try {
    request = decodeRequest(der);
    subject = describeNameDer(request.subject);
  } catch (cause) {
    if (!(cause instanceof DerError)) throw cause;
    throw new DomainError('malformed', 'CSR is not a DER PKCS#10 CertificationRequest', { cause });
  }
  const key = checkSubjectPublicKey(request.publicKey);
  const check = signatureCheckFor(request.signatureAlgorithm, key);
  const verified = verifySignature(check, request, await importSubjectKey(key), options.onThisThread === true);
  if (!(await verified)) throw new DomainError('badCSR', 'CSR signature does not verify with its public key');

  const names = requestedNames(request.extensions);
  return {
    publicKey: key.spki,
    keyAlgorithm: key.algorithm,
    subject: subject.text,
    commonName: subject.commonNames[0] ?? null,
    ...names,
  };
}

function csrBytes(input: string | Uint8Array): Uint8Array {
  let der: Uint8Array;
  if (typeof input !== 'string') {
    der = input;
  } else if (input.includes('-----BEGIN')) {
    const blocks = parsePemBlocks(input);
    const [block] = blocks;
    if (blocks.length !== 1 || block === undefined || !PEM_LABELS.has(block.label)) {
      throw new DomainError('malformed', 'expected one PEM "CERTIFICATE REQUEST" block');
    }
    der = block.der;
  } else {
    const compact = input.replace(/\s+/g, '');
    if (!/^[A-Za-z0-9+/_-]+={0,2}$/.test(compact)) throw new DomainError('malformed', 'CSR is neither PEM nor base64');
    der = new Uint8Array(Buffer.from(compact, compact.includes('-') || compact.includes('_') ? 'base64url' : 'base64'));
  }
  if (der.byteLength === 0 || der.byteLength > MAX_CSR_BYTES) throw new DomainError('malformed', `CSR must be 1 to ${MAX_CSR_BYTES} bytes`);
  return der;
}

/** RFC 2986 §4.1 and §4.2, read as DER; every element is consumed exactly. Throws DerError. */
function decodeRequest(der: Uint8Array): DecodedRequest {
  const outer = DerReader.of(readSingle(der, Tag.sequence, 'CertificationRequest').content);
  const info = outer.expect(Tag.sequence);
  const signatureAlgorithm = outer.expect(Tag.sequence);
  const signatureBits = outer.expect(Tag.bitString);
  outer.expectEnd('CertificationRequest');
  // The signature is a whole number of octets: no unused bits.
  if (signatureBits.content[0] !== 0) throw new DerError('signature BIT STRING has unused bits');

  const fields = DerReader.of(info.content);
  // RFC 2986 §4.1: version is 0 (v1).
  if (decodeSmallInteger(fields.expect(Tag.integer).content, 'version') !== 0)
    throw new DerError('CertificationRequestInfo version is not v1 (0)');
  const subject = fields.expect(Tag.sequence);
  const publicKey = fields.expect(Tag.sequence);
  const attributes = fields.optional(contextTag(0, true));
  fields.expectEnd('CertificationRequestInfo');
  return {
    info: info.bytes,
    subject: subject.bytes,
    publicKey: publicKey.bytes,
    extensions: attributes === undefined ? [] : extensionRequest(attributes),
    signatureAlgorithm,
    signature: signatureBits.content.subarray(1),
  };
}

/** Attribute ::= SEQUENCE { type OID, values SET OF ANY }; the first extensionRequest's first value is the Extensions. */
function extensionRequest(attributes: DerElement): DecodedExtension[] {
  let found: DecodedExtension[] | undefined;
  for (const attribute of readChildren(attributes)) {
    if (attribute.tag !== Tag.sequence) throw new DerError('Attribute is not a SEQUENCE');
    const parts = DerReader.of(attribute.content);
    const type = decodeOid(parts.expect(Tag.oid).content);
    const values = readChildren(parts.expect(Tag.set));
    parts.expectEnd('Attribute');
    const [first] = values;
    if (type !== OID.extensionRequest || found !== undefined || first === undefined) continue;
    if (first.tag !== Tag.sequence) throw new DerError('extensionRequest value is not Extensions');
    found = readChildren(first).map((element) => {
      if (element.tag !== Tag.sequence) throw new DerError('Extension is not a SEQUENCE');
      const extension = DerReader.of(element.content);
      const oid = decodeOid(extension.expect(Tag.oid).content);
      extension.optional(Tag.boolean);
      const value = extension.expect(Tag.octetString).content;
      extension.expectEnd('Extension');
      return { oid, value };
    });
  }
  return found ?? [];
}

/** Pairs signatureAlgorithm with the key type; an unknown, SHA-1 or mismatched algorithm is `badCSR`. */
function signatureCheckFor(algorithm: DerElement, key: CheckedSubjectKey): SignatureCheck {
  const unsupported = (cause?: unknown): never => {
    throw new DomainError('badCSR', 'CSR signature algorithm is not supported', cause === undefined ? {} : { cause });
  };
  let check: SignatureCheck | undefined;
  try {
    const parts = DerReader.of(algorithm.content);
    const oid = decodeOid(parts.expect(Tag.oid).content);
    const parameters = parts.isEmpty() ? undefined : parts.read();
    parts.expectEnd('AlgorithmIdentifier');
    const ecdsa = ECDSA_DIGESTS.get(oid);
    const rsa = RSA_DIGESTS.get(oid);
    // RFC 5758 §3.2 and RFC 8410 §3: parameters absent; RFC 4055 §5: NULL (or absent, as many encoders write).
    if (ecdsa !== undefined && parameters === undefined) check = { kind: 'ec', digest: ecdsa };
    else if (oid === OID.ed25519 && parameters === undefined) check = { kind: 'ed25519' };
    else if (rsa !== undefined && (parameters === undefined || isNull(parameters))) check = { kind: 'rsa', digest: rsa };
    else if (oid === OID.rsassaPss && parameters !== undefined) check = pssCheck(parameters);
  } catch (cause) {
    unsupported(cause);
  }
  if (check === undefined) return unsupported();
  const keyKind = key.algorithm.kind;
  const isMatch = check.kind === 'rsa-pss' ? keyKind === 'rsa' : check.kind === keyKind;
  return isMatch ? check : unsupported();
}

/**
 * RFC 4055 §3.1 RSASSA-PSS-params. node:crypto uses the message digest for
 * MGF1 too, so the two must agree; the SHA-1 defaults are refused.
 */
function pssCheck(parameters: DerElement): SignatureCheck | undefined {
  if (parameters.tag !== Tag.sequence) return undefined;
  const fields = DerReader.of(parameters.content);
  const hash = fields.optional(contextTag(0, true));
  const mgf = fields.optional(contextTag(1, true));
  const salt = fields.optional(contextTag(2, true));
  const trailer = fields.optional(contextTag(3, true));
  fields.expectEnd('RSASSA-PSS-params');
  if (hash === undefined || mgf === undefined) return undefined;
  const digest = hashOf(readSingle(hash.content, Tag.sequence, 'hashAlgorithm'));
  const mgfAlgorithm = DerReader.of(readSingle(mgf.content, Tag.sequence, 'maskGenAlgorithm').content);
  const mgfOid = decodeOid(mgfAlgorithm.expect(Tag.oid).content);
  const mgfDigest = hashOf(mgfAlgorithm.expect(Tag.sequence));
  mgfAlgorithm.expectEnd('maskGenAlgorithm');
  if (digest === undefined || mgfOid !== OID.mgf1 || mgfDigest !== digest) return undefined;
  const saltLength =
    salt === undefined ? 20 : decodeSmallInteger(readSingle(salt.content, Tag.integer, 'saltLength').content, 'saltLength');
  // trailerField 1 (0xBC) is the only one defined.
  if (trailer !== undefined && decodeSmallInteger(readSingle(trailer.content, Tag.integer, 'trailerField').content, 'trailerField') !== 1)
    return undefined;
  return { kind: 'rsa-pss', digest, saltLength };
}

function hashOf(algorithm: DerElement): Digest | undefined {
  const parts = DerReader.of(algorithm.content);
  const oid = decodeOid(parts.expect(Tag.oid).content);
  const parameters = parts.isEmpty() ? undefined : parts.read();
  parts.expectEnd('HashAlgorithm');
  if (parameters !== undefined && !isNull(parameters)) return undefined;
  return HASH_DIGESTS.get(oid);
}

function isNull(element: DerElement): boolean {
  return element.tag === Tag.null && element.content.byteLength === 0;
}

/** RFC 2986 §3: the signature over CertificationRequestInfo, checked on the libuv pool or on this thread. */
function verifySignature(
  check: SignatureCheck,
  request: DecodedRequest,
  key: KeyObject,
  onThisThread: boolean,
): Promise<boolean> | boolean {
  const digest = check.kind === 'ed25519' ? null : check.digest;
  const keyInput =
    check.kind === 'rsa-pss'
      ? { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: check.saltLength }
      : check.kind === 'ec'
        ? { key, dsaEncoding: 'der' as const }
        : key;
  const refused = (cause: unknown): never => {
    throw new DomainError('badCSR', 'CSR signature does not verify with its public key', { cause });
  };
  if (!onThisThread) return verifyOneShot(digest, request.info, keyInput, request.signature).catch(refused);
  try {
    return verify(digest, request.info, keyInput, request.signature);
  } catch (cause) {
    return refused(cause);
  }
}

function requestedNames(extensions: readonly DecodedExtension[]): Pick<ParsedCsr, 'dnsNames' | 'ipAddresses' | 'uris' | 'emails'> {
  const sanExtensions = extensions.filter((e) => e.oid === OID.subjectAltName);
  // RFC 5280 §4.2: a certificate MUST NOT include more than one instance of an extension; a request asking for two is refused.
  if (sanExtensions.length > 1) throw new DomainError('badCSR', 'CSR requests more than one subjectAltName extension');
  const out: { dnsNames: string[]; ipAddresses: string[]; uris: string[]; emails: string[] } = {
    dnsNames: [],
    ipAddresses: [],
    uris: [],
    emails: [],
  };
  const [extension] = sanExtensions;
  if (extension === undefined) return out;
  let generalNames: DerElement[];
  try {
    generalNames = readChildren(readSingle(extension.value, Tag.sequence, 'GeneralNames'));
  } catch (cause) {
    throw new DomainError('badCSR', 'CSR subjectAltName extension does not decode', { cause });
  }
  // RFC 5280 §4.2.1.6 GeneralName tags: [1] rfc822Name, [2] dNSName, [6] URI (IA5String), [7] iPAddress.
  for (const name of generalNames) {
    const text = (): string => Buffer.from(name.content).toString('latin1');
    switch (name.tag) {
      case contextTag(2, false):
        out.dnsNames.push(text());
        break;
      case contextTag(7, false):
        out.ipAddresses.push(csrIpAddress(name.content));
        break;
      case contextTag(6, false):
        out.uris.push(text());
        break;
      case contextTag(1, false):
        out.emails.push(text());
        break;
      default:
        throw new DomainError('badCSR', 'CSR requests a subjectAltName type other than dNSName, iPAddress, URI or rfc822Name');
    }
  }
  return out;
}

function csrIpAddress(octets: Uint8Array): string {
  try {
    return octetsToIp(octets);
  } catch (cause) {
    throw new DomainError(
      'badCSR',
      `CSR requests iPAddress "${Buffer.from(octets.subarray(0, 32)).toString('hex')}", which is not an address`,
      { cause },
    );
  }
}
