import { createHash, timingSafeEqual } from 'node:crypto';
import { readTlsAlpnCertificate, reverseDnsName, TlsAlpnCertificateError, type TlsAlpnCertificateFacts } from '../../x509/index.js';
import type { Deadline } from './deadline.js';
import { errorCode, failed, PASSED } from './outcome.js';
import type { AlpnDial, AlpnSocket } from './ports.js';
import type { ChallengeAttempt, ValidationOutcome } from './types.js';

/*
 * tls-alpn-01 (RFC 8737 §3, RFC 8738 §6 for IP identifiers): a TLS
 * handshake to the target on the configured port, SNI = the name (or the
 * reverse-mapping name of an IP), offering only "acme-tls/1". The server
 * must select it and present a certificate with exactly one SAN, the
 * identifier, and a critical id-pe-acmeIdentifier extension holding
 * SHA-256(keyAuthorization). No chain verification: it is self-signed.
 */

export const ACME_TLS_ALPN = 'acme-tls/1';

export interface TlsAlpn01Context {
  readonly addresses: readonly string[];
  readonly port: number;
  readonly dial: AlpnDial;
  readonly deadline: Deadline;
}

type Handshake =
  | { readonly ok: true; readonly alpn: string | false; readonly leaf: Uint8Array | undefined }
  | { readonly ok: false; readonly outcome: ValidationOutcome; readonly isConnectFailure: boolean };

export async function validateTlsAlpn01(attempt: ChallengeAttempt, context: TlsAlpn01Context): Promise<ValidationOutcome> {
  const { identifier } = attempt;
  const servername = identifier.type === 'dns' ? identifier.value : reverseDnsName(identifier.value);
  let handshake: Handshake | undefined;
  for (const address of context.addresses) {
    handshake = await shakeHands(address, servername, context);
    if (handshake.ok || !handshake.isConnectFailure || context.deadline.isExpired) break;
  }
  if (handshake === undefined) return failed('connection', `No address to connect to for ${identifier.value}`);
  if (!handshake.ok) return handshake.outcome;
  // RFC 8737 §3: the server MUST negotiate acme-tls/1.
  if (handshake.alpn !== ACME_TLS_ALPN) {
    return failed(
      'tls',
      `Server at ${identifier.value} did not negotiate ALPN ${ACME_TLS_ALPN} (selected ${handshake.alpn === false ? 'none' : JSON.stringify(handshake.alpn)})`,
    );
  }
  if (handshake.leaf === undefined) return failed('tls', `Server at ${identifier.value} presented no certificate`);
  return checkCertificate(handshake.leaf, attempt);
}

function checkCertificate(leaf: Uint8Array, attempt: ChallengeAttempt): ValidationOutcome {
  const { identifier } = attempt;
  let facts: TlsAlpnCertificateFacts;
  try {
    facts = readTlsAlpnCertificate(leaf);
  } catch (error) {
    const reason = error instanceof TlsAlpnCertificateError ? error.message : 'it does not decode';
    return failed('unauthorized', `Certificate presented for ${identifier.value} is unusable: ${reason}`);
  }
  // RFC 8737 §3: a subjectAltName extension containing only the identifier being validated.
  const [altName] = facts.altNames;
  if (facts.subjectAltNameExtensions !== 1 || facts.altNames.length !== 1 || altName === undefined) {
    return failed(
      'unauthorized',
      `Certificate presented for ${identifier.value} must have exactly one subjectAltName, the identifier; it has ${facts.altNames.length} in ${facts.subjectAltNameExtensions} extension(s)`,
    );
  }
  if (altName.type !== identifier.type || altName.value !== identifier.value) {
    const shown = altName.type === 'other' ? altName.value : `${altName.type} ${JSON.stringify(altName.value.slice(0, 253))}`;
    return failed('unauthorized', `Certificate presented for ${identifier.value} names ${shown} instead`);
  }
  const [extension] = facts.acmeIdentifiers;
  if (extension === undefined)
    return failed('unauthorized', `Certificate presented for ${identifier.value} has no acmeIdentifier extension (1.3.6.1.5.5.7.1.31)`);
  // RFC 5280 §4.2: one instance of an extension per certificate.
  if (facts.acmeIdentifiers.length > 1)
    return failed('unauthorized', `Certificate presented for ${identifier.value} has more than one acmeIdentifier extension`);
  // RFC 8737 §3: the extension MUST be critical.
  if (!extension.isCritical)
    return failed('unauthorized', `Certificate presented for ${identifier.value} has a non-critical acmeIdentifier extension`);
  if (extension.digest === undefined) {
    return failed(
      'unauthorized',
      `Certificate presented for ${identifier.value} has an acmeIdentifier extension that is not a 32-octet OCTET STRING`,
    );
  }
  const expected = createHash('sha256').update(attempt.keyAuthorization, 'utf8').digest();
  if (!timingSafeEqual(Buffer.from(extension.digest), expected)) {
    return failed(
      'incorrectResponse',
      `Incorrect acmeIdentifier extension in the certificate presented for ${identifier.value}: expected ${expected.toString('hex')}, got ${Buffer.from(extension.digest).toString('hex')}`,
    );
  }
  return PASSED;
}

function shakeHands(address: string, servername: string, context: TlsAlpn01Context): Promise<Handshake> {
  const where = `${address.includes(':') ? `[${address}]` : address}:${context.port}`;
  return new Promise<Handshake>((resolve) => {
    let socket: AlpnSocket;
    let isSettled = false;
    const settle = (result: Handshake): void => {
      if (isSettled) return;
      isSettled = true;
      context.deadline.signal.removeEventListener('abort', onAbort);
      resolve(result);
      socket.destroy();
    };
    const onAbort = (): void =>
      settle({
        ok: false,
        outcome: failed('connection', `Timeout after ${context.deadline.timeoutMs} ms during the TLS handshake with ${where}`),
        isConnectFailure: false,
      });
    try {
      socket = context.dial({
        host: address,
        port: context.port,
        servername,
        ALPNProtocols: [ACME_TLS_ALPN],
        rejectUnauthorized: false,
        handshakeTimeoutMs: context.deadline.remainingMs(),
      });
    } catch {
      resolve({ ok: false, outcome: failed('tls', `Could not start a TLS connection to ${where}`), isConnectFailure: false });
      return;
    }
    let isSecure = false;
    socket.once('secure', () => {
      isSecure = true;
      settle({ ok: true, alpn: socket.alpnProtocol, leaf: socket.peerCertificates[0]?.raw });
    });
    socket.once('error', (error) => settle(describeFailure(error, where)));
    socket.once('close', () => {
      if (!isSecure)
        settle({ ok: false, outcome: failed('tls', `Connection to ${where} closed during the TLS handshake`), isConnectFailure: false });
    });
    if (context.deadline.isExpired) onAbort();
    else context.deadline.signal.addEventListener('abort', onAbort, { once: true });
  });
}

/**
 * What the TLS client's errors carry (src/tls TlsAlertError and its
 * DecodeError subclass): the alert's name and whether the peer sent it.
 * Read structurally: acme does not import tls (STYLE §2.3).
 */
interface TlsFailure {
  readonly alert: string;
  readonly isRemote: boolean;
  readonly message: string;
}

function asTlsFailure(error: Error): TlsFailure | undefined {
  if (!('alert' in error) || typeof error.alert !== 'string') return undefined;
  return { alert: error.alert, isRemote: 'isRemote' in error && error.isRemote === true, message: error.message };
}

/** Detail text quoted from our TLS engine: bounded, control characters escaped. */
function tlsReason(failure: TlsFailure): string {
  const text = failure.message.length > 200 ? `${failure.message.slice(0, 200)}...` : failure.message;
  return JSON.stringify(text).slice(1, -1);
}

/**
 * RFC 8555 §6.7: a failure of the TLS exchange itself (an alert the target
 * sent, or one we sent because its handshake was malformed or illegal) is a
 * `tls` error naming the alert; anything below TLS (refused, reset, timed
 * out) is `connection`.
 */
function describeFailure(error: Error, where: string): Handshake {
  const failure = asTlsFailure(error);
  if (failure !== undefined) {
    const detail = failure.isRemote
      ? `tls-alpn-01: the target at ${where} ended the TLS handshake (${tlsReason(failure)})`
      : failure.alert === 'decode_error'
        ? `tls-alpn-01: the target's TLS handshake from ${where} is malformed (${tlsReason(failure)}); we sent alert decode_error`
        : `tls-alpn-01: the target's TLS handshake from ${where} was refused (${tlsReason(failure)}); we sent alert ${failure.alert}`;
    return { ok: false, outcome: failed('tls', detail), isConnectFailure: false };
  }
  const code = errorCode(error);
  const isConnectFailure = code === 'ECONNREFUSED' || code === 'EHOSTUNREACH' || code === 'ENETUNREACH' || code === 'ETIMEDOUT';
  const reason =
    code === 'ECONNREFUSED' ? 'connection refused' : code === 'ECONNRESET' ? 'connection reset by peer' : (code ?? 'the connection failed');
  return { ok: false, outcome: failed('connection', `Error connecting to ${where} for tls-alpn-01: ${reason}`), isConnectFailure };
}
