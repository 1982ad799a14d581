/**
 * The TLS side of `serve`'s listener: the engine's options (identity, staple,
 * client-certificate policy, limits, shared ticket keys) and the OCSP stapler.
 */
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { TlsAlertError, type PeerCertificates, type TlsServerOptions } from '../tls/index.js';
import type { HttpsServerOptions } from '../http/index.js';
import { requestForCertificate, type OcspReply, type OcspResponder } from '../ocsp/index.js';
import { isPromise } from '../shared/awaitable-flow.js';
import type { CaWatch } from './ca-watch.js';
import { clientCertificateVerdict, type Core } from './compose.js';
import { issuerDerOf } from './listener-identity.js';
import { proxyProtocolSources } from './proxy-sources.js';

/**
 * Session-ticket keys rotate hourly (period = floor(now / 1 h), the same on
 * every node whose clock is right); a ticket opens in its own period and the
 * next, so it resumes for 1 to 2 hours, within the engine's 2 h ticket lifetime.
 */
const TICKET_KEY_ROTATION_MS = 3_600_000;

/**
 * The TLS-layer half of the client-certificate policy; the HTTP layer checks
 * again on every request. The engine asks synchronously: a ledger that answers
 * later (PostgreSQL) cannot refuse at the handshake, and the per-request check
 * (src/http/plugins/mtls-peer.ts), which awaits, is then the one that refuses.
 */
function refuseUnknownOrRevoked(core: Core, peer: PeerCertificates, revokedCas: ReadonlySet<string>): void {
  // A chain through a revoked intermediate (keysmith ca revoke-intermediate) is refused whatever the leaf's own status, on either backend.
  for (const cert of peer.chain) {
    if (revokedCas.has(cert.serialNumber))
      throw new TlsAlertError(
        'certificate_revoked',
        `the chain of serial ${peer.leaf.serialNumber} passes through revoked intermediate ${cert.serialNumber}`,
      );
  }
  const verdict = clientCertificateVerdict(core, peer.leaf);
  if (isPromise(verdict)) {
    void verdict.catch(() => undefined);
    return;
  }
  if (verdict === 'revoked') throw new TlsAlertError('certificate_revoked', `serial ${peer.leaf.serialNumber} is revoked`);
  if (verdict === 'unknown') throw new TlsAlertError('bad_certificate', `serial ${peer.leaf.serialNumber} was never issued here`);
}

export interface Stapler {
  /** For the engine's `ocspResponse`: the staple for this handshake, or none. */
  readonly staple: () => Uint8Array | undefined;
  /** Asks once and waits for the answer, so the first handshakes have a staple. */
  prime(): Promise<void>;
}

/**
 * The staple for our own leaf, asked of the responder at each handshake (the
 * engine asks synchronously). A reply that comes later (PostgreSQL) is kept
 * for the next handshake; meanwhile the last one known is stapled, or none.
 */
function stapler(responder: Pick<OcspResponder, 'answer'>, request: Uint8Array): Stapler {
  let latest: Uint8Array | undefined;
  let isAsking = false;
  const keep = (reply: OcspReply): Uint8Array | undefined => {
    latest = reply.status === 'successful' ? reply.der : undefined;
    return latest;
  };
  return {
    staple: () => {
      // One question in flight at most, however many handshakes arrive meanwhile.
      if (isAsking) return latest;
      const reply = responder.answer(request);
      if (!isPromise(reply)) return keep(reply);
      isAsking = true;
      void reply.then(keep).finally(() => {
        isAsking = false;
      });
      return latest;
    },
    async prime() {
      try {
        keep(await responder.answer(request));
      } catch {
        // No staple yet; the next handshake asks again.
      }
    },
  };
}

/**
 * Stapling (RFC 8446 §4.4.2.1): the request for our own leaf is built once; answers come from the responder's cache.
 * The listener's certificate may come from an intermediate that no longer signs (a rotation): ask about it with its own issuer.
 * The first handshakes get a staple too: asked once before the listener opens (on PostgreSQL the answer comes later).
 */
export async function primedStapler(core: Core, serverCertPem: string, responder: Pick<OcspResponder, 'answer'>): Promise<Stapler> {
  const issuerDer = issuerDerOf(serverCertPem) ?? core.authority.material.intermediate.certDer;
  const stapleRequest = requestForCertificate(firstCertificateDer(serverCertPem), issuerDer);
  const staples = stapler(responder, stapleRequest);
  await staples.prime();
  return staples;
}

function firstCertificateDer(pem: string): Uint8Array {
  return new X509Certificate(pem).raw;
}

/** The engine's options for the listener: its identity and staple, client-certificate policy, limits, shared ticket keys. */
export function listenerTlsOptions(
  core: Core,
  serverCertPem: string,
  caWatch: CaWatch,
  staple: NonNullable<TlsServerOptions['ocspResponse']>,
): HttpsServerOptions['tls'] {
  const { authority, config } = core;
  return {
    key: readFileSync(core.paths.serverKey),
    cert: serverCertPem,
    ca: authority.bundlePem(),
    verifyPeer: (peer: PeerCertificates) => refuseUnknownOrRevoked(core, peer, caWatch.revokedCaSerials()),
    ocspResponse: staple,
    handshakeTimeoutMs: config.handshakeTimeout,
    // KEYSMITH_TLS_MIN_VERSION: 1.2 by default, for clients without TLS 1.3; up to TLS 1.3 always.
    minVersion: config.tlsMinVersion === '1.3' ? 'TLSv1.3' : 'TLSv1.2',
    maxConnections: config.maxConnections,
    // 0-RTT: accepted only by the node that issued the ticket (its strike register), docs/architecture.md.
    maxEarlyData: config.tlsEarlyData,
    ...optionalProxySources(config.proxyProtocolFrom),
    // Every node derives the same ticket key per period from the cluster secret: a ticket resumes on any node.
    ticketKeyRotationMs: TICKET_KEY_ROTATION_MS,
    ticketKeyForPeriod: (period) => core.clusterSecret.ticketKeyForPeriod(period),
  };
}

function optionalProxySources(cidrs: readonly string[]): { proxyProtocolFrom?: (remoteAddress: string) => boolean } {
  const sources = proxyProtocolSources(cidrs);
  return sources === undefined ? {} : { proxyProtocolFrom: sources };
}
