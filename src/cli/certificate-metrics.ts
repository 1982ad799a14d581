/**
 * What keysmith_certificate_not_after_timestamp_seconds shows: the CA
 * certificates and the listener's, read again at each scrape, so a rotated
 * intermediate, a re-issued listener certificate or a new OCSP responder
 * certificate shows at the next scrape without a restart.
 */
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { WatchedCertificate, WatchedCertificateRole } from '../http/index.js';
import { normalizeSerial, splitPemChain } from '../x509/index.js';
import type { Core } from './compose.js';

/** What the gauge needs of one DER or PEM certificate. */
export function watchedCertificate(role: WatchedCertificateRole, certificate: Uint8Array | string): WatchedCertificate {
  const parsed = new X509Certificate(typeof certificate === 'string' ? certificate : Buffer.from(certificate));
  return { role, serial: normalizeSerial(parsed.serialNumber), notAfter: Date.parse(parsed.validTo) };
}

/** The first certificate of a PEM file (the leaf of a chain). */
function leafOf(pem: string): Uint8Array {
  const [leaf] = splitPemChain(pem);
  if (leaf === undefined) throw new Error('no PEM certificate');
  return leaf;
}

export interface CertificateWatchSources {
  readonly core: Pick<Core, 'authority' | 'paths'>;
  /** The delegated OCSP responder's current certificate, if one is issued yet. */
  readonly ocspResponder: () => Uint8Array | undefined;
  /** Every published intermediate (prepared, active, retiring: ca-watch.ts); default: the one the Authority signs with. */
  readonly intermediates?: () => readonly Uint8Array[];
}

/**
 * The list for KeysmithMetrics.watchCertificates: the root, one entry per
 * published intermediate (role `intermediate`; the serial label keeps them
 * apart), the listener and the OCSP responder.
 */
export function caCertificates(sources: CertificateWatchSources): () => WatchedCertificate[] {
  const { core, ocspResponder } = sources;
  const intermediates = sources.intermediates ?? ((): readonly Uint8Array[] => [core.authority.material.intermediate.certDer]);
  return () => {
    const watched = [
      watchedCertificate('root', core.authority.material.root.certDer),
      ...intermediates().map((der) => watchedCertificate('intermediate', der)),
      watchedCertificate('listener', leafOf(readFileSync(core.paths.serverCert, 'utf8'))),
    ];
    const responder = ocspResponder();
    if (responder !== undefined) watched.push(watchedCertificate('ocsp_responder', responder));
    return watched;
  };
}
