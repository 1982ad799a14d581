import type { Awaitable } from '../shared/awaitable.js';
import { mapAwaitable } from '../shared/awaitable-flow.js';
import { normalizeSerial } from '../x509/index.js';
import type { CertificateStore, SerialStatus } from './ports.js';

export type ClientCertificateVerdict = 'valid' | 'revoked' | 'unknown';

/**
 * The ledger's verdict on a client certificate that already chained to our
 * root (the TLS engine checked signature and validity): 'revoked' when the
 * ledger says so, 'unknown' when keysmith never issued that serial or the
 * ledger's notAfter differs from the certificate's (not the certificate we
 * recorded). The caller maps the verdict to an alert or a problem document.
 * A plain verdict when the ledger answers at once (SQLite: no microtask on the
 * handshake path), a promise when it answers later (PostgreSQL).
 */
export function checkClientCertificate(
  store: Pick<CertificateStore, 'statusOf'>,
  leaf: { readonly serialNumber: string; readonly notAfter: Date },
): Awaitable<ClientCertificateVerdict> {
  let serial: string;
  try {
    // node:crypto prints serials in upper case, sometimes with a leading 00 sign octet.
    serial = normalizeSerial(leaf.serialNumber);
  } catch {
    return 'unknown';
  }
  return mapAwaitable(store.statusOf(serial), (status) => verdictOf(status, leaf));
}

function verdictOf(status: SerialStatus | undefined, leaf: { readonly notAfter: Date }): ClientCertificateVerdict {
  if (status === undefined) return 'unknown';
  if (status.status === 'revoked') return 'revoked';
  // X.509 times have second precision; so do the ledger's (taken from the DER).
  if (Math.floor(leaf.notAfter.getTime() / 1000) * 1000 !== status.notAfter) return 'unknown';
  return 'valid';
}
