/**
 * Why a certificate or a chain was refused. `alert` names the refusal in
 * the vocabulary of RFC 8446 §6.2 (bad_certificate, unknown_ca, ...), which
 * is also what RFC 5280 §6.1's outcomes map to in every TLS stack, so the
 * TLS engine can send it as is; pkix itself knows nothing of TLS.
 */
export type RefusalAlert = 'bad_certificate' | 'unsupported_certificate' | 'certificate_expired' | 'unknown_ca' | 'internal_error';

export class CertificateError extends Error {
  readonly alert: RefusalAlert;
  /** The message without the alert prefix, for whoever re-wraps it. */
  readonly reason: string;

  constructor(alert: RefusalAlert, reason: string, options: { readonly cause?: unknown } = {}) {
    super(`${alert}: ${reason}`, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'CertificateError';
    this.alert = alert;
    this.reason = reason;
  }
}

export function refuse(alert: RefusalAlert, reason: string, cause?: unknown): CertificateError {
  return new CertificateError(alert, reason, cause === undefined ? {} : { cause });
}
