/**
 * ACME Renewal Information (RFC 9773): the certID of a certificate, and the
 * window in which its holder should renew.
 */
import { createHash } from 'node:crypto';
import type { CertificateRecord } from '../domain/certificates.js';
import { describeCertificate, normalizeSerial } from '../x509/index.js';
import type { AcmeContext, AcmeReply } from './context.js';
import { AcmeProblemError } from './problems.js';

/** RFC 9773 §4.1 suggests clients poll about this often. */
export const ARI_RETRY_AFTER_SECONDS = 6 * 60 * 60;
const HOUR = 3_600_000;
const BASE64URL_PART = /^[A-Za-z0-9_-]+$/;

export interface CertId {
  /** AKI keyIdentifier, lowercase hex. */
  readonly authorityKeyId: string;
  /** Canonical ledger serial. */
  readonly serial: string;
}

/** RFC 9773 §4.1: base64url(AKI keyIdentifier) "." base64url(serial DER content octets), unpadded. */
export function parseCertId(certId: string): CertId {
  const parts = certId.split('.');
  const [aki, serial] = parts;
  if (parts.length !== 2 || aki === undefined || serial === undefined || !BASE64URL_PART.test(aki) || !BASE64URL_PART.test(serial)) {
    throw new AcmeProblemError('malformed', 'a certID is base64url(AKI keyIdentifier).base64url(serial)');
  }
  const serialHex = Buffer.from(serial, 'base64url').toString('hex');
  if (serialHex.length === 0) throw new AcmeProblemError('malformed', 'the certID serial is empty');
  try {
    return { authorityKeyId: Buffer.from(aki, 'base64url').toString('hex'), serial: normalizeSerial(serialHex) };
  } catch (cause) {
    throw new AcmeProblemError('malformed', 'the certID does not hold a certificate serial', { cause });
  }
}

export function formatCertId(authorityKeyId: string, serial: string): string {
  // DER INTEGER content: a leading zero octet keeps a serial with its top bit set positive.
  const serialBytes = Buffer.from(serial, 'hex');
  const der = (serialBytes[0] ?? 0) >= 0x80 ? Buffer.concat([Buffer.of(0), serialBytes]) : serialBytes;
  return `${Buffer.from(authorityKeyId, 'hex').toString('base64url')}.${der.toString('base64url')}`;
}

/**
 * The ACME-issued certificate a certID names, or undefined. The AKI must be
 * the one in the certificate, so a guessed serial alone finds nothing.
 */
export async function findByCertId(ctx: AcmeContext, certId: CertId): Promise<CertificateRecord | undefined> {
  const record = await ctx.deps.certificates.findBySerial(certId.serial);
  if (record === undefined || record.profile !== 'tls-server' || !record.requester.startsWith('acme:')) return undefined;
  return describeCertificate(record.der).authorityKeyId === certId.authorityKeyId ? record : undefined;
}

/** GET /renewal-info/<certID>, unauthenticated (RFC 9773 §4.2). */
export async function renewalInfo(ctx: AcmeContext, certIdText: string): Promise<AcmeReply> {
  const record = await findByCertId(ctx, parseCertId(certIdText));
  if (record === undefined) throw new AcmeProblemError('malformed', 'no certificate with this certID', { status: 404 });
  return {
    status: 200,
    body: { suggestedWindow: suggestedWindow(record, ctx.deps.clock.now()) },
    retryAfterSeconds: ARI_RETRY_AFTER_SECONDS,
  };
}

/**
 * Around two thirds of the lifetime: the window starts between 60 % and 64 %
 * and lasts 10 % (it ends well before notAfter). The jitter comes from the
 * serial, so every answer for one certificate agrees and a fleet issued at
 * once spreads its renewals. A revoked certificate gets a window in the past:
 * renew now (RFC 9773 §4.2).
 */
export function suggestedWindow(
  record: Pick<CertificateRecord, 'serial' | 'notBefore' | 'notAfter' | 'status'>,
  now: number,
): { start: string; end: string } {
  if (record.status === 'revoked') return { start: iso(now - 2 * HOUR), end: iso(now - HOUR) };
  const lifetime = record.notAfter - record.notBefore;
  const jitter = createHash('sha256').update(record.serial).digest().readUInt32BE(0) / 2 ** 32;
  const start = record.notBefore + Math.floor(lifetime * (0.6 + 0.04 * jitter));
  const end = start + Math.floor(lifetime * 0.1);
  return { start: iso(start), end: iso(end) };
}

function iso(ms: number): string {
  return new Date(Math.floor(ms / 1000) * 1000).toISOString().replace('.000Z', 'Z');
}
