import { randomBytes } from 'node:crypto';
import { connect } from '../../../src/tls/index.js';
import {
  createChallengeValidator,
  type AcmeIdentifier,
  type AlpnDial,
  type ChallengeAttempt,
  type ChallengeType,
  type ChallengeValidator,
  type ChallengeValidatorOptions,
} from '../../../src/acme/validation/index.js';

/** keysmith's own TLS client, checked against the port the validator declares (as cli/compose.ts does). */
export const tlsConnect = connect satisfies AlpnDial;

/** A fresh challenge: a 128-bit-plus token and a key authorization with a random thumbprint (RFC 8555 §8.1). */
export function makeAttempt(type: ChallengeType, identifier: AcmeIdentifier): ChallengeAttempt {
  const token = randomBytes(32).toString('base64url');
  const thumbprint = randomBytes(32).toString('base64url');
  return { type, token, keyAuthorization: `${token}.${thumbprint}`, identifier };
}

export function makeValidator(options: Omit<ChallengeValidatorOptions, 'tlsConnect'>): ChallengeValidator {
  return createChallengeValidator({ ...options, tlsConnect });
}

export function dnsIdentifier(value: string): AcmeIdentifier {
  return { type: 'dns', value };
}

export function ipIdentifier(value: string): AcmeIdentifier {
  return { type: 'ip', value };
}
