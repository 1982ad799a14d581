import { AlertLevel } from './codec/enums.js';

/** Alert descriptions (RFC 8446 §6, IANA "TLS Alerts" registry). */
export const AlertDescription = {
  close_notify: 0,
  unexpected_message: 10,
  bad_record_mac: 20,
  record_overflow: 22,
  handshake_failure: 40,
  bad_certificate: 42,
  unsupported_certificate: 43,
  certificate_revoked: 44,
  certificate_expired: 45,
  certificate_unknown: 46,
  illegal_parameter: 47,
  unknown_ca: 48,
  access_denied: 49,
  decode_error: 50,
  decrypt_error: 51,
  protocol_version: 70,
  insufficient_security: 71,
  internal_error: 80,
  inappropriate_fallback: 86,
  user_canceled: 90,
  /** TLS 1.2 (RFC 5246 §7.2.2): renegotiation refused. */
  no_renegotiation: 100,
  missing_extension: 109,
  unsupported_extension: 110,
  unrecognized_name: 112,
  bad_certificate_status_response: 113,
  unknown_psk_identity: 115,
  certificate_required: 116,
  no_application_protocol: 120,
} as const;

export type AlertName = keyof typeof AlertDescription;

const alertNames = new Map<number, AlertName>(
  (Object.entries(AlertDescription) as [AlertName, number][]).map(([name, code]) => [code, name]),
);

/** The registry name of an alert code, or `unknown(n)` for codes we do not know. */
export function alertName(code: number): string {
  return alertNames.get(code) ?? `unknown(${code})`;
}

/**
 * The one error type of the engine. `alert` is what we send (or, with
 * `isRemote`, what the peer sent us); `reason` is for logs only.
 */
export class TlsAlertError extends Error {
  readonly alert: AlertName;
  readonly isRemote: boolean;

  constructor(alert: AlertName, reason: string, options: { isRemote?: boolean; cause?: unknown } = {}) {
    super(`${alert}: ${reason}`, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'TlsAlertError';
    this.alert = alert;
    this.isRemote = options.isRemote ?? false;
  }

  get code(): number {
    return AlertDescription[this.alert];
  }
}

/** A decoding failure: always `decode_error`. */
export class DecodeError extends TlsAlertError {
  constructor(reason: string) {
    super('decode_error', reason);
    this.name = 'DecodeError';
  }
}

export function fail(alert: AlertName, reason: string): never {
  throw new TlsAlertError(alert, reason);
}

/**
 * RFC 5246 §7.2.2: no_renegotiation "is always a warning". The connection
 * still ends after it, as Go's crypto/tls does: the peer's renegotiation
 * hello waits for an answer that never comes. Every other alert we send is fatal.
 */
export function alertLevelOf(alert: AlertName): number {
  return alert === 'no_renegotiation' ? AlertLevel.warning : AlertLevel.fatal;
}
