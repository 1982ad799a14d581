/**
 * The CA certificates the console's expiry timeline marks: every authority
 * of the trust bundle and every certificate of the issuing chain, described
 * as the ledger names them. Parsed once per distinct certificate.
 */
import { createHash } from 'node:crypto';
import type { AuthorityView, TrustBundleSource } from '../http/index.js';
import { describeCertificate } from '../x509/index.js';

export function authorityViewsOf(bundle: Pick<TrustBundleSource, 'authorities' | 'issuers'>): () => readonly AuthorityView[] {
  const parsed = new Map<string, AuthorityView>();
  return () => {
    const views = new Map<string, AuthorityView>();
    for (const der of [...bundle.authorities(), ...bundle.issuers()]) {
      const key = createHash('sha256').update(der).digest('hex');
      let view = parsed.get(key);
      if (view === undefined) {
        const description = describeCertificate(der);
        view = {
          kind: description.subject === description.issuer ? 'root' : 'intermediate',
          subject: description.subject,
          serial: description.serial,
          notAfter: description.notAfter,
        };
        parsed.set(key, view);
      }
      views.set(key, view);
    }
    // Roots first, then by notAfter: the order a reader scans a timeline in.
    return [...views.values()].sort((a, b) => (a.kind === b.kind ? a.notAfter - b.notAfter : a.kind === 'root' ? -1 : 1));
  };
}
