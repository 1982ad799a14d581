import type { ClientConfig } from '../../config.js';
import type { SuiteInfo } from '../../crypto/suites.js';
import type { HandshakeSecret } from '../../keyschedule/stages.js';
import type { Transcript } from '../../keyschedule/transcript.js';
import type { ClientSession } from '../../tickets.js';
import type { VerifiedChain } from '../../peer-verifier.js';
import { TlsAlertError } from '../../alert.js';
import { decodeAlpn } from '../../codec/extensions.js';
import { describeChain, verifyPeerChain, type ChainVerified, type SignatureVerified } from '../peer.js';
import type { HandshakeContext } from '../state.js';

/** After ServerHello: what the server chose and the handshake traffic secrets (RFC 8446 §7.1). */
export interface ClientHandshakeKeys {
  /** Our 0-RTT: none sent, sent and not (yet) accepted, or accepted in EncryptedExtensions (RFC 8446 §4.2.10). */
  readonly earlyData: 'none' | 'offered' | 'accepted';
  readonly ctx: HandshakeContext;
  readonly config: ClientConfig;
  /** Our ClientHello.random, which names the connection in the key log. */
  readonly random: Buffer;
  readonly offeredExtensions: ReadonlySet<number>;
  readonly suite: SuiteInfo;
  readonly group: number;
  readonly transcript: Transcript;
  readonly handshakeSecret: HandshakeSecret;
  readonly clientHandshakeSecret: Buffer;
  readonly serverHandshakeSecret: Buffer;
}

/** The server's CertificateRequest (§4.3.2): the schemes it accepts for our CertificateVerify. */
export interface CertificateRequested {
  readonly schemes: readonly number[];
}

/** The server's chain: verified, or only described when the caller turned verification off (rejectUnauthorized: false). */
export type ServerChain =
  { readonly kind: 'verified'; readonly proof: ChainVerified } | { readonly kind: 'unverified'; readonly chain: VerifiedChain };

/**
 * The server's certificate_list (RFC 8446 §4.4.2, RFC 5246 §7.4.2), verified
 * for the name we expect, or only described when the caller turned
 * verification off (rejectUnauthorized: false).
 */
export function checkServerChain(config: ClientConfig, chain: readonly Uint8Array[]): ServerChain {
  if (!config.rejectUnauthorized) return { kind: 'unverified', chain: describeChain(chain) };
  const expect =
    config.expectedName === undefined ? { role: 'server' as const } : { role: 'server' as const, servername: config.expectedName };
  return { kind: 'verified', proof: verifyPeerChain(config.verifier, chain, expect) };
}

/** The chain whose leaf key must sign the server's handshake, verified or not. */
export function chainOf(server: ServerChain): VerifiedChain {
  return server.kind === 'verified' ? server.proof.chain : server.chain;
}

/** Who the server is by the time its Finished arrives, and how we know. */
export type ServerIdentity =
  /** It accepted our PSK (§4.2.11): the identity is the one verified when the ticket was issued. */
  | { readonly kind: 'resumed'; readonly session: ClientSession }
  /** Its CertificateVerify proved it holds its leaf's key. */
  | {
      readonly kind: 'certificate';
      readonly signature: SignatureVerified;
      readonly request: CertificateRequested | undefined;
      /** The OCSP response stapled for its leaf (RFC 8446 §4.4.2.1), when we asked. */
      readonly ocspResponse: Buffer | undefined;
    };

/** The server's ALPN answer (EncryptedExtensions in TLS 1.3, ServerHello in 1.2): RFC 7301 §3.1, exactly one protocol, one we offered (illegal_parameter). */
export function chosenAlpn(config: ClientConfig, data: Buffer | undefined): string | false {
  if (data === undefined) return false;
  const protocols = decodeAlpn(data);
  const [chosen] = protocols;
  if (protocols.length !== 1 || chosen === undefined || !config.alpnProtocols.includes(chosen))
    throw new TlsAlertError('illegal_parameter', 'server chose an ALPN protocol we did not offer');
  return chosen;
}
