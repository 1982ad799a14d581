import { TlsAlertError } from '../../alert.js';
import { NamedGroup } from '../../codec/enums.js';
import type { ServerConfig } from '../../config.js';
import type { PrivateKey } from '../../crypto/provider.js';
import { schemeFitsKey12, TLS12_SCHEMES } from '../../crypto/signatures.js';
import { tls12AuthOf, tls12SuiteInfo, type Tls12SuiteInfo } from '../../crypto/suites.js';
import { decodeTls12SessionState, type Tls12SessionState } from '../../tickets12.js';
import type { ClientOffer12 } from './offer.js';

/** The ECDHE groups TLS 1.2 runs here (RFC 8422 §5.1.1): FFDHE is DHE, another key exchange we do not speak. */
const TLS12_GROUPS: ReadonlySet<number> = new Set([NamedGroup.x25519, NamedGroup.secp256r1, NamedGroup.secp384r1]);

/**
 * Our first TLS 1.2 suite the client offers that our key can serve (RFC
 * 5246 §7.4.1.3: the server's choice). A client offering only CBC, RSA key
 * transport or the like shares none with us: handshake_failure.
 */
export function chooseSuite12(config: ServerConfig, offer: ClientOffer12): Tls12SuiteInfo {
  const key = config.privateKey;
  const auth = key === undefined || !curveAccepted(key, offer) ? undefined : tls12AuthOf(key.asymmetricKeyType);
  for (const id of config.suites12) {
    const suite = offer.hello.cipherSuites.includes(id) ? tls12SuiteInfo(id) : undefined;
    if (suite !== undefined && suite.auth === auth) return suite;
  }
  throw new TlsAlertError('handshake_failure', 'no TLS 1.2 cipher suite in common');
}

/** The named group of each ECDSA curve we can hold a key on. */
const KEY_CURVES: Readonly<Record<string, number>> = {
  prime256v1: NamedGroup.secp256r1,
  secp384r1: NamedGroup.secp384r1,
  secp521r1: NamedGroup.secp521r1,
};

/**
 * RFC 8422 §5.1 (and §2): in TLS 1.2, supported_groups also lists the curves the client can verify ECDSA
 * signatures on; an ECDSA key on a curve it does not list cannot serve an ECDHE_ECDSA suite (OpenSSL clients
 * refuse it as "wrong curve"). A client that sent no list takes any.
 */
function curveAccepted(key: PrivateKey, offer: ClientOffer12): boolean {
  if (key.asymmetricKeyType !== 'ec' || offer.groups === undefined) return true;
  const group = KEY_CURVES[key.asymmetricKeyDetails?.namedCurve ?? ''];
  return group !== undefined && offer.groups.includes(group);
}

/** Our first ECDHE group the client lists (RFC 8422 §5.1.1); a client that lists none is taken to support P-256 (§4). */
export function chooseGroup12(config: ServerConfig, offer: ClientOffer12): number {
  const ours = config.groups.filter((g) => TLS12_GROUPS.has(g));
  const offered = offer.groups ?? [NamedGroup.secp256r1];
  const group = ours.find((g) => offered.includes(g));
  if (group === undefined) throw new TlsAlertError('handshake_failure', 'no ECDHE group in common');
  return group;
}

/**
 * The scheme our ServerKeyExchange is signed with (RFC 5246 §7.4.1.4.1): our
 * first TLS12_SCHEMES entry our key fits and the client lists (RSA-PSS before
 * PKCS#1 v1.5, never SHA-1). Without signature_algorithms a client means SHA-1: handshake_failure.
 */
export function chooseScheme12(config: ServerConfig, offer: ClientOffer12): { scheme: number; key: PrivateKey } {
  const key = config.privateKey;
  if (key === undefined) throw new TlsAlertError('internal_error', 'server has no private key');
  const offered = offer.signatureSchemes ?? [];
  const scheme = TLS12_SCHEMES.find((s) => offered.includes(s) && schemeFitsKey12(s, key));
  if (scheme === undefined) throw new TlsAlertError('handshake_failure', 'no signature scheme in common (SHA-1 is not accepted)');
  return { scheme, key };
}

/**
 * A ticket we can resume (RFC 5077 §3.4): one we can open, of a TLS 1.2
 * session, still within its lifetime, whose suite the client offers again.
 * Anything else falls back to a full handshake.
 */
export function findResumption12(
  config: ServerConfig,
  offer: ClientOffer12,
): { state: Tls12SessionState; suite: Tls12SuiteInfo } | undefined {
  if (config.tickets === undefined || offer.ticket.length === 0) return undefined;
  const opened = config.tickets.open(offer.ticket);
  if (opened === undefined) return undefined;
  let state: Tls12SessionState;
  try {
    state = decodeTls12SessionState(opened);
  } catch {
    return undefined;
  }
  const suite = tls12SuiteInfo(state.suite);
  if (suite === undefined || !config.suites12.includes(suite.id) || !offer.hello.cipherSuites.includes(suite.id)) return undefined;
  const ageMs = config.now() - state.createdAt;
  if (ageMs < 0 || ageMs > state.lifetimeSeconds * 1000) return undefined;
  return { state, suite };
}
