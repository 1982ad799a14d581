/**
 * The contract between the ACME order state machine (src/acme) and the
 * challenge validators (src/acme/validation): one call per challenge
 * attempt, an outcome that says what the client got wrong.
 */

export type ChallengeType = 'http-01' | 'dns-01' | 'tls-alpn-01';

export interface AcmeIdentifier {
  readonly type: 'dns' | 'ip';
  /** Lowercase DNS name (no wildcard label: the order strips it) or canonical IP text. */
  readonly value: string;
}

export interface ChallengeAttempt {
  readonly type: ChallengeType;
  /** base64url, at least 128 bits of entropy. */
  readonly token: string;
  /** token '.' base64url(JWK thumbprint of the account key) (RFC 8555 §8.1). */
  readonly keyAuthorization: string;
  readonly identifier: AcmeIdentifier;
}

/** RFC 8555 §6.7 error types a validation can end in. */
export type ValidationErrorType = 'connection' | 'dns' | 'incorrectResponse' | 'tls' | 'unauthorized' | 'rejectedIdentifier';

export type ValidationOutcome =
  { readonly ok: true } | { readonly ok: false; readonly error: { readonly type: ValidationErrorType; readonly detail: string } };

export interface ChallengeValidator {
  /** Never throws; bounded in time (the validator's own timeout). */
  validate(attempt: ChallengeAttempt): Promise<ValidationOutcome>;
}
