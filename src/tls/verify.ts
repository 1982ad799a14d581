import { createHash, X509Certificate, type KeyObject } from 'node:crypto';
import { isIP } from 'node:net';
import { asBuffer } from '../shared/bytes.js';
import { checkEcPoint, curveByOid } from '../shared/ec-point.js';
import { TlsAlertError, type AlertName } from './alert.js';
import {
  decodeCertificate,
  DerError,
  KeyOid,
  KeyUsageBit,
  Oid,
  type CertificateFields,
  type DistinguishedName,
  type GeneralName,
  type NameConstraints,
  type PublicKeyInfo,
} from './der.js';
import type { PeerCertificate, PeerCertificates } from './options.js';

/**
 * The default peer-chain verifier: an RFC 5280 subset on node:crypto's
 * X509Certificate, built from the `ca` option (as rustls ships webpki).
 * Revocation and SPIFFE authorization are the caller's `verifyPeer` hook.
 *
 * Parsed certificates and verified signatures are cached, so a returning
 * peer costs validity checks and map lookups (PERF-NOTES: parsing ~146 µs,
 * a signature check ~85 µs more).
 */

/** The role of the PEER being verified. */
export type PeerRole = 'client' | 'server';

export interface VerifiedChain {
  /** Chain leaf first, ending at the trust anchor. */
  readonly peer: PeerCertificates;
  /** For CertificateVerify. */
  readonly leafPublicKey: KeyObject;
  readonly leafNotAfterMs: number;
}

export interface ChainVerifierOptions {
  /** DER trust anchors. */
  readonly ca: readonly Uint8Array[];
  /** Default 60 000. */
  readonly clockSkewMs?: number;
  readonly now?: () => number;
  /** Parsed certificates kept, anchors not counted (default 1024). */
  readonly cacheSize?: number;
}

export interface VerifyExpectation {
  readonly role: PeerRole;
  /** Checked against the server's SAN; ignored for clients. */
  readonly servername?: string;
}

/** Leaf keys the engine can check a CertificateVerify with (see crypto/signatures.ts). */
export type LeafKeyType = 'ecdsa-p256' | 'ecdsa-p384' | 'ed25519' | 'rsa';

/** A certificate parsed once, without any trust decision. Shared through the cache: never mutate `der`. */
export interface ParsedCertificate {
  readonly der: Uint8Array;
  readonly fields: CertificateFields;
  readonly x509: X509Certificate;
  /** Undefined when node:crypto cannot load the key. */
  readonly publicKey: KeyObject | undefined;
  /** Undefined when the key is not usable as a TLS 1.3 leaf key; `keyDescription` says what it is. */
  readonly leafKeyType: LeafKeyType | undefined;
  readonly keyDescription: string;
  readonly isCA: boolean;
  /** Subject and issuer Names are equal (RFC 5280 §6.1: such certificates skip some counts). */
  readonly isSelfIssued: boolean;
  /** The subject on one line, for log and alert reasons. */
  readonly label: string;
  readonly view: PeerCertificate;
}

export interface VerifierStats {
  /** Certificates parsed (cache misses), anchors included. */
  readonly parsed: number;
  /** Signatures actually checked (not answered from the cache). */
  readonly signatureChecks: number;
}

const DEFAULT_CLOCK_SKEW_MS = 60_000;
const DEFAULT_CACHE_SIZE = 1024;
/** Certificates in a path, leaf and anchor included. */
const MAX_PATH_LENGTH = 8;
/** Certificates accepted in one Certificate message; more only costs us parsing. */
const MAX_PRESENTED = 16;
/**
 * Issuer candidates one verify() may try. Counts cached signatures too: a
 * peer with its own CAs that share a name could otherwise make the search
 * walk every ordering of its chain once those signatures are cached.
 */
const MAX_CANDIDATES = 32;
const MIN_RSA_BITS = 2048;
/** Bounds the cost of one RSA verify a peer can make us pay (Go's crypto/tls uses the same cap). */
const MAX_RSA_BITS = 8192;

/** Signature algorithms accepted on certificates; SHA-1 and MD5 are refused. */
const CERT_SIGNATURE_ALGORITHMS: ReadonlySet<string> = new Set([
  '1.2.840.10045.4.3.2', // ecdsa-with-SHA256
  '1.2.840.10045.4.3.3', // ecdsa-with-SHA384
  '1.2.840.10045.4.3.4', // ecdsa-with-SHA512
  '1.2.840.113549.1.1.11', // sha256WithRSAEncryption
  '1.2.840.113549.1.1.12', // sha384WithRSAEncryption
  '1.2.840.113549.1.1.13', // sha512WithRSAEncryption
  '1.2.840.113549.1.1.10', // RSASSA-PSS
  '1.3.101.112', // Ed25519
  '1.3.101.113', // Ed448
]);

function reject(alert: AlertName, reason: string, cause?: unknown): TlsAlertError {
  return new TlsAlertError(alert, reason, cause === undefined ? {} : { cause });
}

// ---------------------------------------------------------------------------
// PEM

const PEM_CERTIFICATE = /-----BEGIN CERTIFICATE-----([\s\S]*?)-----END CERTIFICATE-----/g;
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

/** DER of every CERTIFICATE block, in order. Uint8Array inputs are PEM text, as in node:tls. */
export function parsePemCertificates(pem: string | Uint8Array | readonly (string | Uint8Array)[]): Buffer[] {
  const inputs = typeof pem === 'string' || pem instanceof Uint8Array ? [pem] : pem;
  const out: Buffer[] = [];
  for (const input of inputs) {
    const text = typeof input === 'string' ? input : asBuffer(input).toString('latin1');
    for (const match of text.matchAll(PEM_CERTIFICATE)) {
      const body = (match[1] ?? '').replace(/\s+/g, '');
      // Buffer.from(…, 'base64') skips junk silently; a damaged PEM should fail loudly.
      if (body.length === 0 || body.length % 4 !== 0 || !BASE64.test(body)) {
        throw new TypeError('malformed base64 in a CERTIFICATE block');
      }
      out.push(Buffer.from(body, 'base64'));
    }
  }
  if (out.length === 0) throw new TypeError('no CERTIFICATE block found');
  return out;
}

// ---------------------------------------------------------------------------
// Parsing and the parse cache

/**
 * Cache key: the last 32 octets, i.e. part of the signature, which differs
 * between any two certificates in practice. A hit still compares the whole
 * DER, so a crafted collision only costs its sender a re-parse. Hashing a
 * short key is what keeps warm lookups cheap (the full DER as a latin1
 * string costs ~4x more per lookup; SHA-256 of it ~2 µs).
 */
function cacheKey(der: Buffer): string {
  return der.toString('latin1', Math.max(0, der.length - 32));
}

/** Exact DER → parsed certificate, for a fixed set (the anchors). */
class DerIndex {
  private readonly byKey = new Map<string, ParsedCertificate[]>();

  find(der: Buffer, key: string = cacheKey(der)): ParsedCertificate | undefined {
    return this.byKey.get(key)?.find((c) => asBuffer(c.der).equals(der));
  }

  add(cert: ParsedCertificate): void {
    const key = cacheKey(asBuffer(cert.der));
    const bucket = this.byKey.get(key);
    if (bucket === undefined) this.byKey.set(key, [cert]);
    else bucket.push(cert);
  }
}

const CURVE_NAMES: ReadonlyMap<string, string> = new Map([
  [KeyOid.prime256v1, 'P-256'],
  [KeyOid.secp384r1, 'P-384'],
  ['1.3.132.0.35', 'secp521r1'],
  ['1.3.132.0.10', 'secp256k1'],
]);

/** Key kind from the SPKI DER; KeyObject only tells whether node:crypto could load it. */
function describeKey(info: PublicKeyInfo, key: KeyObject | undefined): { type: LeafKeyType | undefined; description: string } {
  if (key === undefined) return { type: undefined, description: `unreadable ${info.algorithm} key` };
  switch (info.algorithm) {
    case KeyOid.ecPublicKey: {
      const curve = info.namedCurve;
      const type = curve === KeyOid.prime256v1 ? 'ecdsa-p256' : curve === KeyOid.secp384r1 ? 'ecdsa-p384' : undefined;
      return { type, description: `EC ${curve === undefined ? 'explicit curve' : (CURVE_NAMES.get(curve) ?? curve)}` };
    }
    case KeyOid.ed25519:
      return { type: 'ed25519', description: 'Ed25519' };
    case KeyOid.rsaEncryption: {
      const bits = info.rsaModulusBits ?? 0;
      return { type: bits >= MIN_RSA_BITS && bits <= MAX_RSA_BITS ? 'rsa' : undefined, description: `RSA ${bits} bits` };
    }
    default:
      return { type: undefined, description: `key algorithm ${info.algorithm}` };
  }
}

/**
 * Whether node:crypto may load this certificate's key. Some malformed keys
 * abort Node natively once loaded (an EC point at infinity: reading its
 * details fails an assertion in crypto_ec.cc), and no try/catch stops that;
 * so EC points are validated here first (SP 800-56A Rev. 3 §5.6.2.3.3 partial
 * validation, src/shared/ec-point.ts), and a malformed EC or EdDSA key makes
 * the certificate malformed (bad_certificate). Keys we cannot check (other
 * curves, explicit parameters, other algorithms, RSA past the cost bound)
 * are never loaded: the chain and leaf checks then refuse them.
 */
function screenPublicKey(info: PublicKeyInfo): boolean {
  switch (info.algorithm) {
    case KeyOid.ecPublicKey: {
      const curve = info.namedCurve === undefined ? undefined : curveByOid(info.namedCurve);
      if (curve === undefined) return false;
      const verdict = checkEcPoint(curve, info.keyOctets);
      if (!verdict.ok) throw new DerError(verdict.problem);
      return true;
    }
    case KeyOid.ed25519:
    case KeyOid.ed448: {
      // RFC 8410 §4: 32 octets for Ed25519, 57 for Ed448.
      const length = info.algorithm === KeyOid.ed25519 ? 32 : 57;
      if (info.keyOctets.length !== length) throw new DerError(`EdDSA public key is ${info.keyOctets.length} octets, not ${length} (RFC 8410 §4)`);
      return true;
    }
    case KeyOid.rsaEncryption:
      return info.isRsaPositive === true && (info.rsaModulusBits ?? 0) <= MAX_RSA_BITS;
    default:
      return false;
  }
}

function serialHex(serial: Buffer): string {
  let start = 0;
  // The public form drops DER's 00 sign octet (and any other leading zero octets).
  while (start < serial.length - 1 && serial[start] === 0) start++;
  return serial.subarray(start).toString('hex');
}

/** Parses `der` (copied first: the caller may reuse its buffer). Throws TlsAlertError(bad_certificate). */
function parseCertificate(input: Uint8Array): ParsedCertificate {
  const der = Buffer.from(input);
  try {
    return buildParsed(der);
  } catch (error) {
    const reason = error instanceof DerError ? error.message : 'node:crypto could not parse it';
    throw reject('bad_certificate', `malformed certificate: ${reason}`, error);
  }
}

function buildParsed(der: Buffer): ParsedCertificate {
  // Our decoder runs first: it is bounded and strict, and rejects PEM or trailing bytes X509Certificate would take.
  const fields = decodeCertificate(der);
  const x509 = new X509Certificate(der);
  let publicKey: KeyObject | undefined;
  try {
    // Only keys our own checks passed reach node:crypto (screenPublicKey throws DerError for malformed ones).
    publicKey = screenPublicKey(fields.publicKey) ? x509.publicKey : undefined;
  } catch (error) {
    if (error instanceof DerError) throw error;
    // An unloadable key is still describable; the checks that need it refuse it.
    publicKey = undefined;
  }
  const key = describeKey(fields.publicKey, publicKey);
  const ext = fields.extensions;
  const san = ext.subjectAltName;
  const view: PeerCertificate = Object.freeze({
    // Its own copy: `fields` points into `der`, and callers get `raw` to keep.
    raw: new Uint8Array(der),
    subject: x509.subject,
    issuer: x509.issuer,
    serialNumber: serialHex(fields.serialNumber),
    notBefore: new Date(fields.notBeforeMs),
    notAfter: new Date(fields.notAfterMs),
    fingerprint256: createHash('sha256').update(der).digest('hex'),
    dnsNames: Object.freeze([...(san?.dnsNames ?? [])]),
    ipAddresses: Object.freeze((san?.ipAddresses ?? []).map(formatIp)),
    uris: Object.freeze([...(san?.uris ?? [])]),
    isCA: ext.basicConstraints?.isCA ?? false,
  });
  return Object.freeze({
    der,
    fields,
    x509,
    publicKey,
    leafKeyType: key.type,
    keyDescription: key.description,
    isCA: view.isCA,
    isSelfIssued: fields.subject.der.equals(fields.issuer.der),
    label: view.subject.replace(/\n/g, ', '),
    view,
  });
}

/** A bounded LRU of parsed certificates keyed by their DER. */
class CertificateCache {
  private readonly entries = new Map<string, ParsedCertificate>();
  parsed = 0;

  constructor(private readonly capacity: number) {}

  get(der: Buffer, key: string = cacheKey(der)): ParsedCertificate {
    const hit = this.entries.get(key);
    if (hit !== undefined && asBuffer(hit.der).equals(der)) {
      // Re-insert so Map order is recency order; the first key is the eviction candidate.
      this.entries.delete(key);
      this.entries.set(key, hit);
      return hit;
    }
    const parsed = parseCertificate(der);
    this.parsed++;
    // delete first: a colliding entry is replaced and moves to the recent end.
    this.entries.delete(key);
    this.entries.set(key, parsed);
    if (this.entries.size > this.capacity) {
      const oldest = this.entries.keys().next();
      if (oldest.done !== true) this.entries.delete(oldest.value);
    }
    return parsed;
  }
}

const sharedCache = new CertificateCache(DEFAULT_CACHE_SIZE);

/** Parse without verifying: for our own chain, and for building PeerCertificate views. Cached; throws TlsAlertError. */
export function describeCertificate(der: Uint8Array): ParsedCertificate {
  return sharedCache.get(asBuffer(der));
}

// ---------------------------------------------------------------------------
// IP addresses and names

function formatIp(bytes: Buffer): string {
  if (bytes.length === 4) return `${bytes[0]}.${bytes[1]}.${bytes[2]}.${bytes[3]}`;
  // RFC 5952 §4: lowercase, no leading zeros, the longest run of two or more zero groups as "::".
  const groups: number[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(bytes.readUInt16BE(i));
  let bestStart = -1;
  let bestLength = 1;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLength) {
      bestStart = i;
      bestLength = j - i;
    }
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (bestStart < 0) return hex.join(':');
  return `${hex.slice(0, bestStart).join(':')}::${hex.slice(bestStart + bestLength).join(':')}`;
}

function parseIpv4(text: string): number[] | undefined {
  const parts = text.split('.');
  if (parts.length !== 4) return undefined;
  const out: number[] = [];
  for (const part of parts) {
    if (!/^(0|[1-9]\d{0,2})$/.test(part)) return undefined;
    const n = Number(part);
    if (n > 255) return undefined;
    out.push(n);
  }
  return out;
}

/** Octets of a textual IPv4 or IPv6 address (no zone id), or undefined. */
export function parseIpAddress(text: string): Buffer | undefined {
  const version = isIP(text);
  if (version === 4) {
    const v4 = parseIpv4(text);
    return v4 === undefined ? undefined : Buffer.from(v4);
  }
  if (version !== 6 || text.includes('%')) return undefined;
  let tail: number[] | undefined;
  let body = text;
  const lastColon = body.lastIndexOf(':');
  if (body.slice(lastColon + 1).includes('.')) {
    // An embedded IPv4 tail fills the last two groups: parse it with placeholders.
    const v4 = parseIpv4(body.slice(lastColon + 1));
    if (v4 === undefined) return undefined;
    tail = [(v4[0]! << 8) | v4[1]!, (v4[2]! << 8) | v4[3]!];
    body = `${body.slice(0, lastColon + 1)}0:0`;
  }
  const halves = body.split('::');
  if (halves.length > 2) return undefined;
  const toGroups = (s: string): number[] => (s === '' ? [] : s.split(':').map((g) => parseInt(g, 16)));
  const head = toGroups(halves[0] ?? '');
  const rest = halves.length === 2 ? toGroups(halves[1] ?? '') : [];
  let groups: number[];
  if (halves.length === 2) {
    groups = [...head, ...new Array<number>(8 - head.length - rest.length).fill(0), ...rest];
  } else {
    groups = head;
  }
  if (groups.length !== 8) return undefined;
  if (tail !== undefined) groups = [...groups.slice(0, 6), ...tail];
  if (groups.some((g) => !Number.isInteger(g) || g < 0 || g > 0xffff)) return undefined;
  const out = Buffer.alloc(16);
  groups.forEach((g, i) => out.writeUInt16BE(g, i * 2));
  return out;
}

/** RFC 6125 §6.4: DNS-ID match; a wildcard only as the whole left-most label, covering exactly one label. */
function matchesDnsName(presented: string, reference: string): boolean {
  const p = presented.toLowerCase();
  if (p === reference) return !p.includes('*');
  if (!p.startsWith('*.')) return false;
  const suffix = p.slice(2);
  // "*.test" would cover a whole TLD: require two labels after the wildcard, and no other '*'.
  if (!suffix.includes('.') || suffix.includes('*')) return false;
  const dot = reference.indexOf('.');
  return dot > 0 && reference.slice(dot + 1) === suffix;
}

function checkServerName(leaf: ParsedCertificate, servername: string): TlsAlertError | undefined {
  const san = leaf.fields.extensions.subjectAltName;
  const ip = parseIpAddress(servername);
  if (ip !== undefined) {
    // RFC 6125 §6.2.1 / RFC 5280 §4.2.1.6: an IP reference matches only iPAddress SANs.
    if (san?.ipAddresses.some((a) => a.equals(ip)) === true) return undefined;
    return reject('bad_certificate', `certificate has no IP SAN ${servername}`);
  }
  let reference = servername.toLowerCase();
  if (reference.endsWith('.')) reference = reference.slice(0, -1);
  // RFC 6125 §6.4.4: no Common Name fallback; names come from the SAN only.
  if (reference !== '' && !reference.includes('*') && san?.dnsNames.some((n) => matchesDnsName(n, reference)) === true) {
    return undefined;
  }
  return reject('bad_certificate', `certificate is not valid for ${servername}`);
}

// ---------------------------------------------------------------------------
// Name constraints (RFC 5280 §4.2.1.10)

function dnsWithin(name: string, constraint: string): boolean {
  const n = name.toLowerCase();
  const c = constraint.toLowerCase();
  if (c === '') return true;
  // A leading period (a common extension, as in Go) means subdomains only.
  if (c.startsWith('.')) return n.endsWith(c);
  return n === c || n.endsWith(`.${c}`);
}

/** The host of an absolute URI, lowercased; undefined when there is none or it is an IP literal. */
function uriHost(uri: string): string | undefined {
  const match = /^[A-Za-z][A-Za-z0-9+.-]*:\/\/([^/?#]*)/.exec(uri);
  if (match === null) return undefined;
  let authority = match[1] ?? '';
  const at = authority.lastIndexOf('@');
  if (at >= 0) authority = authority.slice(at + 1);
  if (authority.startsWith('[')) return undefined;
  const host = authority.replace(/:\d*$/, '').toLowerCase();
  if (host === '' || isIP(host) !== 0) return undefined;
  return host;
}

function uriWithin(host: string, constraint: string): boolean {
  const c = constraint.toLowerCase();
  // §4.2.1.10: ".example.com" is any subdomain; "host.example.com" exactly that host.
  return c.startsWith('.') ? host.endsWith(c) : host === c;
}

function ipWithin(address: Buffer, constraint: Buffer): boolean {
  const size = constraint.length / 2;
  if (address.length !== size) return false;
  for (let i = 0; i < size; i++) {
    if ((address[i]! & constraint[size + i]!) !== (constraint[i]! & constraint[size + i]!)) return false;
  }
  return true;
}

function directoryWithin(name: DistinguishedName, constraint: DistinguishedName): boolean {
  if (constraint.rdns.length > name.rdns.length) return false;
  return constraint.rdns.every((rdn, i) => rdn.equals(name.rdns[i]!));
}

type NameOfForm =
  | { readonly kind: 'dNSName'; readonly value: string }
  | { readonly kind: 'uniformResourceIdentifier'; readonly value: string }
  | { readonly kind: 'iPAddress'; readonly value: Buffer }
  | { readonly kind: 'directoryName'; readonly value: DistinguishedName };

function nameWithin(name: NameOfForm, base: GeneralName): boolean {
  switch (name.kind) {
    case 'dNSName':
      return base.kind === 'dNSName' && dnsWithin(name.value, base.value);
    case 'uniformResourceIdentifier': {
      if (base.kind !== 'uniformResourceIdentifier') return false;
      const host = uriHost(name.value);
      return host !== undefined && uriWithin(host, base.value);
    }
    case 'iPAddress':
      return base.kind === 'iPAddress' && ipWithin(name.value, base.value);
    case 'directoryName':
      return base.kind === 'directoryName' && directoryWithin(name.value, base.value);
    default: {
      const never: never = name;
      return never;
    }
  }
}

function describeName(name: NameOfForm): string {
  return name.kind === 'iPAddress' ? formatIp(name.value) : name.kind === 'directoryName' ? 'subject' : name.value;
}

function checkNameConstraints(cert: ParsedCertificate, constraints: NameConstraints, by: ParsedCertificate): TlsAlertError | undefined {
  const san = cert.fields.extensions.subjectAltName;
  const names: NameOfForm[] = [];
  for (const value of san?.dnsNames ?? []) names.push({ kind: 'dNSName', value });
  for (const value of san?.uris ?? []) names.push({ kind: 'uniformResourceIdentifier', value });
  for (const value of san?.ipAddresses ?? []) names.push({ kind: 'iPAddress', value });
  for (const value of san?.directoryNames ?? []) names.push({ kind: 'directoryName', value });
  if (cert.fields.subject.rdns.length > 0) names.push({ kind: 'directoryName', value: cert.fields.subject });
  const label = `${cert.label} under the name constraints of ${by.label}`;
  for (const name of names) {
    if (constraints.excluded.some((base) => nameWithin(name, base))) {
      return reject('bad_certificate', `${label}: ${describeName(name)} is excluded`);
    }
    const permitted = constraints.permitted.filter((base) => base.kind === name.kind);
    if (permitted.length > 0 && !permitted.some((base) => nameWithin(name, base))) {
      return reject('bad_certificate', `${label}: ${describeName(name)} is not permitted`);
    }
  }
  // §4.2.1.10: a constrained name form we cannot process means we MUST reject certificates carrying it.
  for (const tag of san?.otherTags ?? []) {
    const isConstrained = [...constraints.permitted, ...constraints.excluded].some((b) => b.kind === 'other' && b.tag === tag);
    if (isConstrained) return reject('bad_certificate', `${label}: cannot check names of tag 0x${tag.toString(16)}`);
  }
  return undefined;
}

// ---------------------------------------------------------------------------
// The verifier

interface SearchState {
  candidates: number;
  /** A complete path to an anchor that failed a check: the most useful verdict. */
  pathProblem: TlsAlertError | undefined;
  signatureProblem: TlsAlertError | undefined;
  isTooDeep: boolean;
}

export class ChainVerifier {
  /** DER of the anchors' subject Names, for the certificate_authorities extension. */
  readonly anchorSubjects: readonly Uint8Array[];

  private readonly clockSkewMs: number;
  private readonly now: () => number;
  private readonly cache: CertificateCache;
  private readonly anchors = new Set<ParsedCertificate>();
  private readonly anchorsByDer = new DerIndex();
  private readonly anchorsBySubject = new Map<string, ParsedCertificate[]>();
  /** child → fingerprints of issuers whose signature on it verified; pure in the bytes, so safe to remember. */
  private readonly verifiedIssuers = new WeakMap<ParsedCertificate, Set<string>>();
  private signatureChecks = 0;

  constructor(options: ChainVerifierOptions) {
    const skew = options.clockSkewMs ?? DEFAULT_CLOCK_SKEW_MS;
    const size = options.cacheSize ?? DEFAULT_CACHE_SIZE;
    if (!Number.isFinite(skew) || skew < 0) throw new RangeError('clockSkewMs must be a non-negative number');
    if (!Number.isInteger(size) || size < 1) throw new RangeError('cacheSize must be a positive integer');
    this.clockSkewMs = skew;
    // The engine passes its injected clock; Date.now is only the stand-alone default.
    this.now = options.now ?? Date.now;
    this.cache = new CertificateCache(size);
    const subjects: Uint8Array[] = [];
    options.ca.forEach((der, i) => {
      if (this.anchorsByDer.find(asBuffer(der)) !== undefined) return;
      let anchor: ParsedCertificate;
      try {
        anchor = parseCertificate(der);
      } catch (error) {
        throw new TypeError(`ca[${i}] is not a usable certificate: ${error instanceof Error ? error.message : String(error)}`);
      }
      this.cache.parsed++;
      this.anchorsByDer.add(anchor);
      this.anchors.add(anchor);
      const subjectKey = anchor.fields.subject.der.toString('latin1');
      const bucket = this.anchorsBySubject.get(subjectKey);
      if (bucket === undefined) {
        this.anchorsBySubject.set(subjectKey, [anchor]);
        subjects.push(new Uint8Array(anchor.fields.subject.der));
      } else {
        bucket.push(anchor);
      }
    });
    this.anchorSubjects = Object.freeze(subjects);
  }

  get stats(): VerifierStats {
    return { parsed: this.cache.parsed, signatureChecks: this.signatureChecks };
  }

  /** chainDer: as received, leaf first. Throws TlsAlertError. */
  verify(chainDer: readonly Uint8Array[], expect: VerifyExpectation): VerifiedChain {
    if (chainDer.length === 0) throw reject('bad_certificate', 'empty certificate chain');
    if (chainDer.length > MAX_PRESENTED) throw reject('bad_certificate', `${chainDer.length} certificates presented, at most ${MAX_PRESENTED} accepted`);
    // Duplicates map to one parsed object; a Set keeps the search from trying them twice.
    const presented = [...new Set(chainDer.map((der) => this.lookup(der)))];
    const nowMs = this.now();
    const state: SearchState = { candidates: 0, pathProblem: undefined, signatureProblem: undefined, isTooDeep: false };
    const path = this.search([presented[0]!], presented, expect, nowMs, state);
    if (path === undefined) {
      if (state.pathProblem !== undefined) throw state.pathProblem;
      if (state.signatureProblem !== undefined) throw state.signatureProblem;
      if (state.isTooDeep) throw reject('bad_certificate', `no path to a trust anchor within ${MAX_PATH_LENGTH} certificates`);
      throw reject('unknown_ca', `no path from ${presented[0]!.label} to a trust anchor`);
    }
    const leaf = path[0]!;
    // checkLeaf refused leaves without a usable key, so the key is present here.
    const leafPublicKey = leaf.publicKey;
    if (leafPublicKey === undefined) throw reject('internal_error', 'verified leaf without a public key');
    const views = path.map((c) => c.view);
    return { peer: { chain: views, leaf: leaf.view }, leafPublicKey, leafNotAfterMs: leaf.fields.notAfterMs };
  }

  private lookup(input: Uint8Array): ParsedCertificate {
    const der = asBuffer(input);
    const key = cacheKey(der);
    return this.anchorsByDer.find(der, key) ?? this.cache.get(der, key);
  }

  /**
   * Depth-first path building from `path`'s last certificate towards an
   * anchor: anchors first, then presented certificates in any order. Each
   * complete path is checked; the first that passes wins.
   */
  private search(
    path: readonly ParsedCertificate[],
    presented: readonly ParsedCertificate[],
    expect: VerifyExpectation,
    nowMs: number,
    state: SearchState,
  ): ParsedCertificate[] | undefined {
    const child = path[path.length - 1]!;
    for (const anchor of this.anchorsBySubject.get(child.fields.issuer.der.toString('latin1')) ?? []) {
      if (!issuedBy(child, anchor) || !this.isSignedBy(child, anchor, state)) continue;
      const full = [...path, anchor];
      const problem = this.checkPath(full, expect, nowMs);
      if (problem === undefined) return full;
      state.pathProblem ??= problem;
    }
    for (const candidate of presented) {
      // Anchors were tried above; a presented self-signed non-anchor can only lead to anchors by name.
      if (path.includes(candidate) || this.anchors.has(candidate) || !issuedBy(child, candidate)) continue;
      // Room for this intermediate and an anchor above it.
      if (path.length + 2 > MAX_PATH_LENGTH) {
        state.isTooDeep = true;
        continue;
      }
      if (!this.isSignedBy(child, candidate, state)) continue;
      const found = this.search([...path, candidate], presented, expect, nowMs, state);
      if (found !== undefined) return found;
    }
    return undefined;
  }

  /** RFC 5280 §6.1.3(a)(1): the signature on `child` verifies with `issuer`'s key. Cached per pair. */
  private isSignedBy(child: ParsedCertificate, issuer: ParsedCertificate, state: SearchState): boolean {
    if (++state.candidates > MAX_CANDIDATES) {
      state.signatureProblem ??= reject('bad_certificate', `more than ${MAX_CANDIDATES} issuer candidates`);
      return false;
    }
    const known = this.verifiedIssuers.get(child);
    if (known?.has(issuer.view.fingerprint256) === true) return true;
    if (!CERT_SIGNATURE_ALGORITHMS.has(child.fields.signatureAlgorithm)) {
      state.signatureProblem ??= reject('bad_certificate', `${child.label} is signed with refused algorithm ${child.fields.signatureAlgorithm}`);
      return false;
    }
    if (issuer.publicKey === undefined) {
      state.signatureProblem ??= reject('bad_certificate', `issuer ${issuer.label} has an unreadable key`);
      return false;
    }
    this.signatureChecks++;
    let isValid: boolean;
    try {
      isValid = child.x509.verify(issuer.publicKey);
    } catch {
      isValid = false;
    }
    if (!isValid) {
      state.signatureProblem ??= reject('bad_certificate', `signature on ${child.label} does not verify with the key of ${issuer.label}`);
      return false;
    }
    if (known === undefined) {
      this.verifiedIssuers.set(child, new Set([issuer.view.fingerprint256]));
    } else if (known.size < 8) {
      known.add(issuer.view.fingerprint256);
    }
    return true;
  }

  /** The RFC 5280 §6.1 checks on a complete path, leaf first, anchor last. */
  private checkPath(path: readonly ParsedCertificate[], expect: VerifyExpectation, nowMs: number): TlsAlertError | undefined {
    for (const cert of path) {
      const problem = this.checkValidity(cert, nowMs) ?? checkCriticalExtensions(cert);
      if (problem !== undefined) return problem;
    }
    for (let i = 1; i < path.length; i++) {
      const problem = checkIssuer(path, i);
      if (problem !== undefined) return problem;
    }
    return checkLeaf(path[0]!, expect);
  }

  /** §6.1.3(a)(2): now within [notBefore, notAfter], widened by the allowed clock skew. */
  private checkValidity(cert: ParsedCertificate, nowMs: number): TlsAlertError | undefined {
    const { notBeforeMs, notAfterMs } = cert.fields;
    if (nowMs + this.clockSkewMs < notBeforeMs) {
      return reject('certificate_expired', `${cert.label} is not yet valid (notBefore ${new Date(notBeforeMs).toISOString()})`);
    }
    if (nowMs - this.clockSkewMs > notAfterMs) {
      return reject('certificate_expired', `${cert.label} has expired (notAfter ${new Date(notAfterMs).toISOString()})`);
    }
    return undefined;
  }
}

/**
 * Name chaining (§6.1.3(a)(4)) by exact DER, as Go and webpki do: the
 * anchor index is keyed by those bytes. Key identifiers, when both sides
 * have them, must agree too (they tell re-keyed CAs apart).
 */
function issuedBy(child: ParsedCertificate, issuer: ParsedCertificate): boolean {
  const aki = child.fields.extensions.authorityKeyId;
  const ski = issuer.fields.extensions.subjectKeyId;
  if (aki !== undefined && ski !== undefined && !aki.equals(ski)) return false;
  return child.fields.issuer.der.equals(issuer.fields.subject.der);
}

/** RFC 5280 §4.2: an unrecognised critical extension MUST make the certificate unacceptable. */
function checkCriticalExtensions(cert: ParsedCertificate): TlsAlertError | undefined {
  const unknown = cert.fields.extensions.unknownCritical;
  if (unknown.length === 0) return undefined;
  return reject('unsupported_certificate', `${cert.label} has unknown critical extension ${unknown.join(', ')}`);
}

/** §6.1.4: the certificate at `i` (an intermediate or the anchor) may issue what lies below it. */
function checkIssuer(path: readonly ParsedCertificate[], i: number): TlsAlertError | undefined {
  const cert = path[i]!;
  const ext = cert.fields.extensions;
  const role = i === path.length - 1 ? 'trust anchor' : 'intermediate';
  // §6.1.4(k): basicConstraints present with cA TRUE.
  if (ext.basicConstraints?.isCA !== true) return reject('bad_certificate', `${role} ${cert.label} is not a CA`);
  // §6.1.4(n): if keyUsage is present, keyCertSign must be set.
  if (ext.keyUsage !== undefined && (ext.keyUsage & (1 << KeyUsageBit.keyCertSign)) === 0) {
    return reject('bad_certificate', `${role} ${cert.label} lacks keyCertSign`);
  }
  // §6.1.4(l),(m): non-self-issued intermediates below may not exceed pathLenConstraint.
  const pathLen = ext.basicConstraints.pathLen;
  if (pathLen !== undefined) {
    let below = 0;
    for (let j = 1; j < i; j++) if (!path[j]!.isSelfIssued) below++;
    if (below > pathLen) {
      return reject('bad_certificate', `${role} ${cert.label} allows ${pathLen} intermediates below it, path has ${below}`);
    }
  }
  // §6.1.4(g): constraints apply to every certificate below, except self-issued intermediates (§6.1.3(b)).
  const constraints = ext.nameConstraints;
  if (constraints !== undefined) {
    for (let j = 0; j < i; j++) {
      const below = path[j]!;
      if (j > 0 && below.isSelfIssued) continue;
      const problem = checkNameConstraints(below, constraints, cert);
      if (problem !== undefined) return problem;
    }
  }
  return undefined;
}

function checkLeaf(leaf: ParsedCertificate, expect: VerifyExpectation): TlsAlertError | undefined {
  const ext = leaf.fields.extensions;
  if (ext.basicConstraints?.isCA === true) return reject('bad_certificate', `leaf ${leaf.label} is a CA certificate`);
  // RFC 8446 §4.4.2.2: the key signs CertificateVerify, so keyUsage (if present) needs digitalSignature.
  if (ext.keyUsage !== undefined && (ext.keyUsage & (1 << KeyUsageBit.digitalSignature)) === 0) {
    return reject('bad_certificate', `leaf ${leaf.label} keyUsage lacks digitalSignature`);
  }
  // RFC 5280 §4.2.1.12: if extKeyUsage is present, the purpose (or anyExtendedKeyUsage) must be listed.
  const purpose = expect.role === 'client' ? Oid.clientAuth : Oid.serverAuth;
  const eku = ext.extKeyUsage;
  if (eku !== undefined && !eku.includes(purpose) && !eku.includes(Oid.anyExtendedKeyUsage)) {
    return reject('unsupported_certificate', `leaf ${leaf.label} is not for ${expect.role === 'client' ? 'clientAuth' : 'serverAuth'}`);
  }
  if (leaf.leafKeyType === undefined) {
    return reject('unsupported_certificate', `leaf key ${leaf.keyDescription} cannot sign TLS 1.3 CertificateVerify here`);
  }
  if (expect.role === 'server' && expect.servername !== undefined) return checkServerName(leaf, expect.servername);
  return undefined;
}
