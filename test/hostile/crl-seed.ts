import { generateKeyPairSync } from 'node:crypto';
import { Authority, loadCertificateAuthority } from '../../src/ca/index.js';
import { GroupCommit, openLedger } from '../../src/ledger/index.js';
import { systemClock } from '../../src/shared/clock.js';

/**
 * Real certificates for the CRL tests, fast: the running service's own CA
 * (loaded from its data directory) issues SVIDs through the Authority's
 * template path into the service's ledger file, with group commits, from
 * this process. `keysmith issue` would start one process per certificate.
 * The service sees them as any other row; revoking them still goes through
 * its API.
 */
export async function seedCertificates(options: {
  dataDir: string;
  database: string;
  count: number;
  trustDomain?: string;
}): Promise<string[]> {
  const trustDomain = options.trustDomain ?? 'keysmith.local';
  const material = await loadCertificateAuthority({ dataDir: options.dataDir, trustDomain });
  const ledger = openLedger({ path: options.database });
  const writer = new GroupCommit(ledger.certificates);
  try {
    const authority = new Authority({ material, store: writer, clock: systemClock });
    const publicKey = new Uint8Array(generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ type: 'spki', format: 'der' }));
    const serials: string[] = [];
    const batch = 250;
    for (let start = 0; start < options.count; start += batch) {
      const issued = await Promise.all(
        Array.from({ length: Math.min(batch, options.count - start) }, (_, i) =>
          authority.issue(
            { publicKey, spiffeId: `spiffe://${trustDomain}/seed/${start + i}`, requester: 'system', ttlMs: 6 * 3_600_000 },
            'svid',
          ),
        ),
      );
      for (const certificate of issued) serials.push(certificate.serial);
    }
    return serials;
  } finally {
    await writer.close();
    ledger.close();
  }
}
