import { normalizeDnsName, normalizeIpAddress } from '../../x509/index.js';
import { Deadline } from './deadline.js';
import { validateDns01 } from './dns01.js';
import { validateHttp01 } from './http01.js';
import { resolveOptions, type ChallengeValidatorOptions, type ResolvedOptions } from './options.js';
import { failed } from './outcome.js';
import { resolveTargets } from './targets.js';
import { validateTlsAlpn01 } from './tls-alpn01.js';
import type { ChallengeAttempt, ChallengeValidator, ValidationOutcome } from './types.js';

export type {
  AcmeIdentifier,
  ChallengeAttempt,
  ChallengeType,
  ChallengeValidator,
  ValidationErrorType,
  ValidationOutcome,
} from './types.js';
export type { ChallengeValidatorOptions } from './options.js';
export type { AlpnDial, AlpnDialOptions, AlpnSocket } from './ports.js';
export { dns01Digest } from './dns01.js';
export { ACME_TLS_ALPN } from './tls-alpn01.js';
export { refusalReason } from './address-policy.js';

/**
 * The challenge validator (Boulder's VA): one call per attempt, never
 * throws, bounded by `timeoutMs`. Options are checked here, once; a bad one
 * throws TypeError at composition time.
 */
export function createChallengeValidator(options: ChallengeValidatorOptions): ChallengeValidator {
  const resolved = resolveOptions(options);
  return {
    async validate(attempt: ChallengeAttempt): Promise<ValidationOutcome> {
      const problem = checkAttempt(attempt);
      if (problem !== undefined) return problem;
      const deadline = new Deadline(resolved.timeoutMs);
      const timedOut = deadline.expired.then(() =>
        failed(
          attempt.type === 'dns-01' ? 'dns' : 'connection',
          `${attempt.type} validation of ${attempt.identifier.value} timed out after ${resolved.timeoutMs} ms`,
        ),
      );
      try {
        return await Promise.race([run(attempt, resolved, deadline), timedOut]);
      } catch {
        // A bug of ours; the detail stays generic (STYLE §4: internal detail never leaves the process).
        return failed('connection', `${attempt.type} validation of ${attempt.identifier.value} failed unexpectedly`);
      } finally {
        deadline.dispose();
      }
    },
  };
}

async function run(attempt: ChallengeAttempt, options: ResolvedOptions, deadline: Deadline): Promise<ValidationOutcome> {
  switch (attempt.type) {
    case 'dns-01':
      return validateDns01(attempt, { dnsServer: options.dnsServer, deadline });
    case 'http-01': {
      const targets = await resolveTargets(attempt.identifier, options, deadline);
      if (!targets.ok) return targets.outcome;
      return validateHttp01(attempt, { addresses: targets.addresses, port: options.http01Port, deadline });
    }
    case 'tls-alpn-01': {
      const targets = await resolveTargets(attempt.identifier, options, deadline);
      if (!targets.ok) return targets.outcome;
      return validateTlsAlpn01(attempt, { addresses: targets.addresses, port: options.tlsAlpn01Port, dial: options.tlsConnect, deadline });
    }
    default: {
      const unknown: never = attempt.type;
      return failed('unauthorized', `unknown challenge type ${JSON.stringify(unknown)}`);
    }
  }
}

/** base64url with at least 128 bits (RFC 8555 §8.1, §11.3); the token goes into a URL path, so its alphabet matters. */
const TOKEN = /^[A-Za-z0-9_-]{22,128}$/;
const THUMBPRINT = /^[A-Za-z0-9_-]{43,128}$/;

/** The attempt comes from our own order state, but it names a network target: check it before acting on it. */
function checkAttempt(attempt: ChallengeAttempt): ValidationOutcome | undefined {
  if (!TOKEN.test(attempt.token)) return failed('unauthorized', 'challenge token is not base64url of at least 128 bits');
  const [token, thumbprint, ...rest] = attempt.keyAuthorization.split('.');
  if (token !== attempt.token || thumbprint === undefined || !THUMBPRINT.test(thumbprint) || rest.length > 0) {
    return failed('unauthorized', 'key authorization is not "<token>.<account key thumbprint>" (RFC 8555 §8.1)');
  }
  const { type, value } = attempt.identifier;
  let canonical: string | undefined;
  try {
    canonical = type === 'dns' ? normalizeDnsName(value) : type === 'ip' ? normalizeIpAddress(value) : undefined;
  } catch {
    canonical = undefined;
  }
  if (canonical !== value)
    return failed('rejectedIdentifier', `identifier ${JSON.stringify(value.slice(0, 253))} is not a canonical ${String(type)} identifier`);
  return undefined;
}
