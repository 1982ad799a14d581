import type { NewCertificateRecord, ProfileName } from '../domain/certificates.js';
import type { CertificateDescription } from '../x509/index.js';

/** The ledger row's fields that come from the certificate itself. */
export type CertificateFields = Omit<NewCertificateRecord, 'profile' | 'requester' | 'der' | 'issuedAt'>;

/** Those fields taken from the parsed DER (what was signed), never from the request. */
export function certificateFields(described: CertificateDescription): CertificateFields {
  return {
    serial: described.serial,
    issuer: described.issuer,
    subject: described.subject,
    sans: described.sans,
    spiffeId: described.spiffeId,
    notBefore: described.notBefore,
    notAfter: described.notAfter,
    fingerprint: described.fingerprint,
  };
}

/** The ledger row for a certificate, from its parsed DER. */
export function toNewRecord(
  der: Uint8Array,
  described: CertificateDescription,
  profile: ProfileName,
  requester: string,
  issuedAt: number,
): NewCertificateRecord {
  return { ...certificateFields(described), profile, requester, der, issuedAt };
}
