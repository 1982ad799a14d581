import { type PrivateKey, FAST_GROUPS } from '../../crypto/provider.js';
import { TlsAlertError } from '../../alert.js';
import type { ServerConfig } from '../../config.js';
import { CertificateStatusType, ExtensionType, PskKeyExchangeMode } from '../../codec/enums.js';
import { decodeCertificateStatusRequest, findExtension, type KeyShareEntry } from '../../codec/extensions.js';
import { suiteInfo, type SuiteInfo } from '../../crypto/suites.js';
import { decodeServerSessionState, type ServerSessionState } from '../../tickets.js';
import type { ClientOffer } from './client-offer.js';

/** Our first suite the client offers (RFC 8446 §4.1.1: the server's preference). */
export function chooseSuite(config: ServerConfig, offer: ClientOffer): SuiteInfo {
  for (const id of config.suites) {
    const suite = offer.hello.cipherSuites.includes(id) ? suiteInfo(id) : undefined;
    if (suite !== undefined) return suite;
  }
  throw new TlsAlertError('handshake_failure', 'no cipher suite in common');
}

/** ALPN (RFC 7301 §3.2): our preference among the client's; no overlap is no_application_protocol. */
export function chooseAlpn(config: ServerConfig, offer: Pick<ClientOffer, 'alpn'>): string | false {
  const offered = offer.alpn;
  if (offered === undefined || config.alpnProtocols.length === 0) return false;
  const chosen = config.alpnProtocols.find((p) => offered.includes(p));
  if (chosen === undefined) throw new TlsAlertError('no_application_protocol', 'no ALPN protocol in common');
  return chosen;
}

/** How we sign our CertificateVerify: the scheme and the key it is for. */
export interface Signer {
  readonly scheme: number;
  readonly key: PrivateKey;
}

export function chooseSigner(config: ServerConfig, offer: ClientOffer): Signer {
  const offered = offer.signatureSchemes;
  // §9.2: a full handshake needs signature_algorithms.
  if (offered === undefined) throw new TlsAlertError('missing_extension', 'no signature_algorithms');
  const scheme = config.signSchemes.find((s) => offered.includes(s));
  if (scheme === undefined) throw new TlsAlertError('handshake_failure', 'no signature scheme in common');
  // resolveServerConfig refuses a server without key and cert, so a missing key is our bug.
  if (config.privateKey === undefined) throw new TlsAlertError('internal_error', 'server has no private key');
  return { scheme, key: config.privateKey };
}

/** The key share to use, or the group a HelloRetryRequest asks for. */
export type GroupChoice = { readonly share: KeyShareEntry } | { readonly retryGroup: number };

/**
 * Picks the key-exchange group (RFC 8446 §4.2.7, §4.2.8, §4.1.4). The fast
 * groups (X25519, P-256) come first: a client share for one is taken, and a
 * client that lists one but sent its share elsewhere is asked for it with a
 * HelloRetryRequest, so an unauthenticated peer cannot make us pay for
 * P-521 or FFDHE when it could have had X25519. Only when the client shares
 * none of the fast groups with us do we take (or ask for) a costlier one,
 * in our order of preference.
 */
export function chooseGroup(config: ServerConfig, offer: ClientOffer): GroupChoice {
  const mutual = config.groups.filter((g) => offer.groups.includes(g));
  const fast = mutual.filter((g) => FAST_GROUPS.has(g));
  const tier = fast.length > 0 ? fast : mutual;
  for (const group of tier) {
    const share = offer.keyShares.find((s) => s.group === group);
    if (share !== undefined) return { share };
  }
  const [retryGroup] = tier;
  // §4.2.7: nothing in common is handshake_failure.
  if (retryGroup === undefined) throw new TlsAlertError('handshake_failure', 'no key-exchange group in common');
  return { retryGroup };
}

/** PSK identities tried per ClientHello (Go's maxClientPSKIdentities); the rest fall back to a full handshake. */
const MAX_PSK_IDENTITIES_TRIED = 5;

/** A ticket we opened and may resume, before its binder is checked. */
export interface Resumption {
  readonly index: number;
  /** The binder the client sent for this identity, and the length of the whole binders list. */
  readonly binder: Buffer;
  readonly bindersLength: number;
  /** What the ticket sealed (PSK, client chain, ALPN, ...), and the client's obfuscated_ticket_age for it (for 0-RTT, RFC 8446 §8.3). */
  readonly ticket: ServerSessionState;
  readonly obfuscatedTicketAge: number;
}

/**
 * Looks for a ticket we can resume (RFC 8446 §4.2.11, §4.6.1). A ticket we
 * cannot open, one too old, or one for another hash is passed over and the
 * handshake falls back to a full one. Binder checks come later, on the transcript.
 */
export function findResumption(config: ServerConfig, offer: ClientOffer, suite: SuiteInfo): Resumption | undefined {
  if (offer.psks === undefined || config.tickets === undefined) return undefined;
  // We only resume with (EC)DHE: psk_dhe_ke keeps forward secrecy.
  if (!offer.pskModes.includes(PskKeyExchangeMode.psk_dhe_ke)) return undefined;
  const now = config.now();
  const { identities, binders, bindersLength } = offer.psks;
  // At most the first few identities are tried, as Go's crypto/tls does (maxClientPSKIdentities = 5): each costs a
  // ticket decryption, and a 64 KiB ClientHello can carry ~900 of them.
  for (const [index, identity] of identities.slice(0, MAX_PSK_IDENTITIES_TRIED).entries()) {
    const opened = config.tickets.open(identity.identity);
    if (opened === undefined) continue;
    let state;
    try {
      state = decodeServerSessionState(opened);
    } catch {
      continue;
    }
    const ticketSuite = suiteInfo(state.suite);
    if (ticketSuite === undefined || ticketSuite.hash !== suite.hash) continue;
    const ageMs = now - state.createdAt;
    if (ageMs < 0 || ageMs > state.lifetimeSeconds * 1000) continue;
    // decodeOfferedPsks holds as many binders as identities (§4.2.11), so this one is there.
    const binder = binders[index];
    if (binder === undefined) continue;
    return { index, binder, bindersLength, ticket: state, obfuscatedTicketAge: identity.obfuscatedTicketAge };
  }
  return undefined;
}

/** RFC 6066 §8: status_request for ocsp; another status_type is not ours to answer. A malformed one is decode_error. */
export function isOcspRequested(offer: Pick<ClientOffer, 'hello'>): boolean {
  const data = findExtension(offer.hello.extensions, ExtensionType.status_request);
  return data !== undefined && decodeCertificateStatusRequest(data).statusType === CertificateStatusType.ocsp;
}
