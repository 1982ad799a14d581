import type { NewCertificateRecord, ProfileName } from '../shared/records.js';
import type { CertificateDescription } from '../x509/index.js';

/** The ledger row for a certificate, taken from the parsed DER (what was signed), never from the request. */
export function toNewRecord(
  der: Uint8Array,
  described: CertificateDescription,
  profile: ProfileName,
  requester: string,
  issuedAt: number,
): NewCertificateRecord {
  return {
    serial: described.serial,
    issuer: described.issuer,
    subject: described.subject,
    sans: described.sans,
    spiffeId: described.spiffeId,
    profile,
    requester,
    notBefore: described.notBefore,
    notAfter: described.notAfter,
    der,
    fingerprint: described.fingerprint,
    issuedAt,
  };
}
