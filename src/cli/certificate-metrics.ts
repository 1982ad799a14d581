/**
 * What keysmith_certificate_not_after_timestamp_seconds shows: the CA
 * certificates and the listener's, read again at each scrape, so a rotated
 * intermediate, a re-issued listener certificate or a new OCSP responder
 * certificate shows at the next scrape without a restart.
 */
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { WatchedCertificate, WatchedCertificateRole } from '../http/index.js';
import { normalizeSerial } from '../x509/index.js';
import type { Core } from './compose.js';

/** What the gauge needs of one DER or PEM certificate. */
export function watchedCertificate(role: WatchedCertificateRole, certificate: Uint8Array | string): WatchedCertificate {
  const parsed = new X509Certificate(typeof certificate === 'string' ? certificate : Buffer.from(certificate));
  return { role, serial: normalizeSerial(parsed.serialNumber), notAfter: Date.parse(parsed.validTo) };
}

/** The first certificate of a PEM file (the leaf of a chain). */
function firstPem(pem: string): string {
  const match = /-----BEGIN CERTIFICATE-----[^-]+-----END CERTIFICATE-----/.exec(pem);
  if (match === null) throw new Error('no PEM certificate');
  return match[0];
}

export interface CertificateWatchSources {
  readonly core: Pick<Core, 'authority' | 'paths'>;
  /** The delegated OCSP responder's current certificate, if one is issued yet. */
  readonly ocspResponder: () => Uint8Array | undefined;
}

/**
 * The list for KeysmithMetrics.watchCertificates. With several intermediates
 * (rotation: the prepared, active and retiring ones), add one entry per
 * intermediate with role `intermediate`; the serial label keeps them apart.
 */
export function caCertificates(sources: CertificateWatchSources): () => WatchedCertificate[] {
  const { core, ocspResponder } = sources;
  return () => {
    const { root, intermediate } = core.authority.material;
    const watched = [
      watchedCertificate('root', root.certDer),
      watchedCertificate('intermediate', intermediate.certDer),
      watchedCertificate('listener', firstPem(readFileSync(core.paths.serverCert, 'utf8'))),
    ];
    const responder = ocspResponder();
    if (responder !== undefined) watched.push(watchedCertificate('ocsp_responder', responder));
    return watched;
  };
}
