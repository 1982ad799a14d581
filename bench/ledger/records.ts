import { createHash, randomBytes } from 'node:crypto';
import type { NewCertificateRecord } from '../../src/domain/certificates.js';

/** The ledger benches' pinned "now": 2025-01-01T00:00:00Z. */
export const NOW = Date.UTC(2025, 0, 1);

/**
 * SVID-shaped rows with random ~700-byte DER, made before a clock starts;
 * each bench picks its serials (unique within a run) and notAfter spread.
 */
export function benchRecords(
  count: number,
  serialOf: (index: number) => string,
  notAfterOf: (index: number) => number,
): NewCertificateRecord[] {
  return Array.from({ length: count }, (_, i) => {
    const der = randomBytes(700);
    const spiffeId = `spiffe://keysmith.local/workload/${i % 1000}`;
    return {
      serial: serialOf(i),
      issuer: 'CN=keysmith intermediate',
      subject: `CN=${i}`,
      sans: [{ type: 'uri', value: spiffeId }],
      spiffeId,
      profile: 'svid',
      requester: 'system',
      notBefore: NOW - 300_000,
      notAfter: notAfterOf(i),
      issuedAt: NOW + i,
      der,
      fingerprint: createHash('sha256').update(der).digest('hex'),
    };
  });
}
