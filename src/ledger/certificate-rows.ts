import { createHash } from 'node:crypto';
import { DomainError } from '../shared/errors.js';
import {
  PROFILE_NAMES,
  REVOCATION_REASONS,
  type CertificateRecord,
  type CertificateStatus,
  type NewCertificateRecord,
  type ProfileName,
  type RevocationReason,
  type SubjectAltName,
} from '../domain/certificates.js';

/**
 * Translation between CertificateRecord and rows of `certificates`, and the
 * checks a record passes before it is written. Bad input is 'malformed' here,
 * before SQLite's CHECKs could turn it into a misleading 'conflict'.
 */

/**
 * Column list for every read, on both backends; aliases give the row camelCase
 * names (quoted: PostgreSQL folds unquoted names to lower case).
 */
export const CERTIFICATE_COLUMNS = `
  serial, issuer, subject, spiffe_id AS "spiffeId", profile, requester,
  not_before AS "notBefore", not_after AS "notAfter", issued_at AS "issuedAt", status,
  revoked_at AS "revokedAt", revocation_reason AS "revocationReason", der, fingerprint, sans`;

/** The columns statusOf reads (what mTLS and OCSP ask on every request). */
export const STATUS_COLUMNS = `status, not_after AS "notAfter", revoked_at AS "revokedAt", revocation_reason AS reason`;

export interface CertificateRow {
  readonly serial: string;
  readonly issuer: string;
  readonly subject: string;
  readonly spiffeId: string | null;
  readonly profile: string;
  readonly requester: string;
  readonly notBefore: number;
  readonly notAfter: number;
  readonly issuedAt: number;
  readonly status: string;
  readonly revokedAt: number | null;
  readonly revocationReason: string | null;
  readonly der: Buffer;
  readonly fingerprint: string;
  readonly sans: string;
}

const SERIAL = /^[0-9a-f]+$/;
/** RFC 5280 §4.1.2.2: at most 20 octets. */
const MAX_SERIAL_HEX = 40;
const FINGERPRINT = /^[0-9a-f]{64}$/;
const SAN_TYPES: readonly SubjectAltName['type'][] = ['dns', 'ip', 'uri', 'email'];

export function isProfileName(value: string): value is ProfileName {
  return PROFILE_NAMES.some((name) => name === value);
}

export function isRevocationReason(value: string): value is RevocationReason {
  return Object.hasOwn(REVOCATION_REASONS, value);
}

function isSanType(value: unknown): value is SubjectAltName['type'] {
  return SAN_TYPES.some((type) => type === value);
}

function isStatus(value: string): value is CertificateStatus {
  return value === 'valid' || value === 'revoked';
}

/** A serial used for lookups: lowercase hex, nothing else. */
export function checkSerial(serial: string): void {
  if (typeof serial !== 'string' || !SERIAL.test(serial)) {
    throw new DomainError('malformed', 'a serial is lowercase hex');
  }
}

export function checkTime(value: number, field: string): void {
  if (!Number.isSafeInteger(value)) throw new DomainError('malformed', `${field} is integer milliseconds since the epoch`);
}

/**
 * What recordIssued accepts. Serials are canonical (whole octets, no leading zero
 * octet: the form src/tls reports for a peer), so one integer has one spelling.
 */
export function checkNewRecord(record: NewCertificateRecord): void {
  checkSerial(record.serial);
  if (record.serial.length % 2 !== 0) throw new DomainError('malformed', 'a serial is hex of whole octets');
  if (record.serial.length > MAX_SERIAL_HEX) throw new DomainError('malformed', 'a serial is at most 20 octets');
  if (record.serial.startsWith('00')) throw new DomainError('malformed', 'a serial has no leading zero octet');
  if (!isProfileName(record.profile)) throw new DomainError('malformed', `unknown profile '${String(record.profile)}'`);
  checkTime(record.notBefore, 'notBefore');
  checkTime(record.notAfter, 'notAfter');
  checkTime(record.issuedAt, 'issuedAt');
  if (record.notBefore > record.notAfter) throw new DomainError('malformed', 'notBefore is after notAfter');
  if (!(record.der instanceof Uint8Array) || record.der.byteLength === 0) {
    throw new DomainError('malformed', 'der is empty');
  }
  if (!FINGERPRINT.test(record.fingerprint)) throw new DomainError('malformed', 'fingerprint is SHA-256 in lowercase hex');
  // The row is the evidence of what was signed: its fingerprint must describe its bytes.
  if (createHash('sha256').update(record.der).digest('hex') !== record.fingerprint) {
    throw new DomainError('malformed', 'fingerprint is not the SHA-256 of der');
  }
  for (const san of record.sans) {
    if (!isSanType(san.type) || typeof san.value !== 'string' || san.value === '') {
      throw new DomainError('malformed', 'a subjectAltName is {type: dns|ip|uri|email, value: non-empty string}');
    }
  }
}

/** What mTLS and OCSP need to know about a serial. */
export interface SerialStatus {
  readonly status: 'valid' | 'revoked';
  readonly notAfter: number;
  readonly revokedAt: number | null;
  readonly reason: RevocationReason | null;
}

export interface StatusRow {
  readonly status: string;
  readonly notAfter: number;
  readonly revokedAt: number | null;
  readonly reason: string | null;
}

/** A stored status row as SerialStatus; a value outside the schema's CHECKs is corruption (a plain Error). */
export function toSerialStatus(serial: string, row: StatusRow): SerialStatus {
  const { status, reason } = row;
  if (!isStatus(status)) throw new Error(`certificate ${serial}: unknown stored status '${status}'`);
  if (reason !== null && !isRevocationReason(reason)) {
    throw new Error(`certificate ${serial}: unknown stored revocation reason '${reason}'`);
  }
  return { status, notAfter: row.notAfter, revokedAt: row.revokedAt, reason };
}

/** A row as inserted: status and revocation columns take their defaults. */
export type InsertRow = Omit<CertificateRow, 'status' | 'revokedAt' | 'revocationReason'>;

/** The row a checked record becomes (the DER as a Buffer view, no copy). */
export function toInsertRow(record: NewCertificateRecord): InsertRow {
  return {
    serial: record.serial,
    issuer: record.issuer,
    subject: record.subject,
    spiffeId: record.spiffeId,
    profile: record.profile,
    requester: record.requester,
    notBefore: record.notBefore,
    notAfter: record.notAfter,
    issuedAt: record.issuedAt,
    der: Buffer.from(record.der.buffer, record.der.byteOffset, record.der.byteLength),
    fingerprint: record.fingerprint,
    sans: encodeSans(record.sans),
  };
}

/** The arguments of revoke, checked before any database sees them ('malformed'). */
export function checkRevocation(serial: string, reason: RevocationReason, revokedAt: number): void {
  checkSerial(serial);
  if (typeof reason !== 'string' || !isRevocationReason(reason)) {
    throw new DomainError('malformed', `unknown revocation reason '${String(reason)}'`);
  }
  checkTime(revokedAt, 'revokedAt');
}

/** revoke's refusals, worded alike on both backends. */
export function unknownSerialError(serial: string): DomainError {
  return new DomainError('notFound', `no certificate with serial ${serial}`);
}

export function alreadyRevokedError(serial: string): DomainError {
  return new DomainError('conflict', `certificate ${serial} is already revoked`);
}

/** Which uniqueness rule a new record broke, as each backend's error tells it. */
export type RecordConflict = 'serial' | 'fingerprint' | { readonly code: string };

export function recordConflictDetail(record: NewCertificateRecord, conflict: RecordConflict): string {
  if (conflict === 'serial') return `serial ${record.serial} is already recorded`;
  if (conflict === 'fingerprint') return `a certificate with fingerprint ${record.fingerprint} is already recorded`;
  return `certificate ${record.serial} breaks a ledger constraint (${conflict.code})`;
}

export function encodeSans(sans: readonly SubjectAltName[]): string {
  return JSON.stringify(sans.map(({ type, value }) => ({ type, value })));
}

/**
 * The searchable form (certificate_names): only DNS names and IP addresses, the
 * names anything looks up (migrations/0006). DNS names compare case-insensitively,
 * so they are stored lowercased; duplicates dropped. URIs and e-mail addresses
 * stay in the row's sans and its DER.
 */
export function namesOf(sans: readonly SubjectAltName[]): readonly SubjectAltName[] {
  const seen = new Map<string, SubjectAltName>();
  for (const san of sans) {
    if (san.type !== 'dns' && san.type !== 'ip') continue;
    const value = san.type === 'dns' ? normalizeDnsName(san.value) : san.value;
    seen.set(`${san.type}\u0000${value}`, { type: san.type, value });
  }
  return [...seen.values()];
}

export function normalizeDnsName(name: string): string {
  return name.toLowerCase();
}

function decodeSans(json: string, serial: string): readonly SubjectAltName[] {
  const parsed: unknown = JSON.parse(json);
  if (!Array.isArray(parsed)) throw new Error(`certificate ${serial}: sans is not a JSON array`);
  return parsed.map((entry: unknown): SubjectAltName => {
    if (typeof entry === 'object' && entry !== null && 'type' in entry && 'value' in entry) {
      const { type, value } = entry;
      if (isSanType(type) && typeof value === 'string') return { type, value };
    }
    throw new Error(`certificate ${serial}: a stored subjectAltName has the wrong shape`);
  });
}

/** Rows come from our own CHECKed schema; a value outside it means corruption, reported as a plain Error. */
export function toCertificateRecord(row: CertificateRow): CertificateRecord {
  const { profile, status, revocationReason } = row;
  if (!isProfileName(profile)) throw new Error(`certificate ${row.serial}: unknown stored profile '${profile}'`);
  if (!isStatus(status)) throw new Error(`certificate ${row.serial}: unknown stored status '${status}'`);
  if (revocationReason !== null && !isRevocationReason(revocationReason)) {
    throw new Error(`certificate ${row.serial}: unknown stored revocation reason '${revocationReason}'`);
  }
  return {
    serial: row.serial,
    issuer: row.issuer,
    subject: row.subject,
    sans: decodeSans(row.sans, row.serial),
    spiffeId: row.spiffeId,
    profile,
    requester: row.requester,
    notBefore: row.notBefore,
    notAfter: row.notAfter,
    status,
    revokedAt: row.revokedAt,
    revocationReason,
    // A plain Uint8Array that owns its bytes (STYLE §6: no Buffer in public types).
    der: new Uint8Array(row.der),
    fingerprint: row.fingerprint,
    issuedAt: row.issuedAt,
  };
}
