/**
 * The verified client chain (from our TLS engine's socket) becomes
 * `request.principal`. The engine verified the chain at the handshake; here
 * the ledger is asked on every request, so a certificate revoked while its
 * keep-alive connection is open is refused from the next request on. Serials
 * this node was told are revoked (RevokedSerials) are refused before the
 * ledger is asked, so that refusal holds while the database is unreachable.
 */
import type { FastifyInstance } from 'fastify';
import type { PeerCertificate } from '../../tls/index.js';
import type { CertificateReader } from '../ports.js';
import { isPromise } from '../../shared/awaitable-flow.js';
import type { Clock } from '../../shared/clock.js';
import { ProblemError } from '../problem.js';
import type { RevokedSerials } from '../revoked-serials.js';
import { isSpiffeUri, tryParseSpiffeId } from '../../shared/spiffe-id.js';

export type PrincipalKind = 'workload' | 'node' | 'admin';

export interface Principal {
  readonly spiffeId: string;
  /** The client certificate's serial, lowercase hex. */
  readonly serial: string;
  readonly kind: PrincipalKind;
}

declare module 'fastify' {
  interface FastifyRequest {
    /** Set when the client presented a certificate whose leaf names exactly one SPIFFE ID of our trust domain. */
    principal: Principal | undefined;
    /** Whether the client presented any verified certificate (tells 401 from 403). */
    hasClientCertificate: boolean;
  }
}

/** The parts of the engine's PeerCertificate this plugin reads. */
export type PeerLeaf = Pick<PeerCertificate, 'serialNumber' | 'uris' | 'isCA' | 'notAfter'>;

function isPeerLeaf(value: unknown): value is PeerLeaf {
  if (typeof value !== 'object' || value === null) return false;
  const leaf: { serialNumber?: unknown; uris?: unknown; isCA?: unknown; notAfter?: unknown } = value;
  return (
    typeof leaf.serialNumber === 'string' && Array.isArray(leaf.uris) && typeof leaf.isCA === 'boolean' && leaf.notAfter instanceof Date
  );
}

/**
 * The verified leaf on a socket from our TLS engine, detected by property
 * (the socket reaches us through node:http as a plain Duplex); undefined
 * for any other socket or when the client sent no certificate.
 */
export function peerLeafOf(socket: unknown): PeerLeaf | undefined {
  if (typeof socket !== 'object' || socket === null || !('peerCertificates' in socket)) return undefined;
  const chain = socket.peerCertificates;
  if (!Array.isArray(chain)) return undefined;
  const leaf: unknown = chain[0];
  return isPeerLeaf(leaf) ? leaf : undefined;
}

/**
 * X509-SVID §2 and §4.1: a leaf (CA=false) with exactly one SPIFFE ID, here
 * also required to be in our trust domain with a non-empty path. The first
 * path segment picks the kind: /admin/<...> and /node/<...>, else workload.
 */
export function principalOf(leaf: PeerLeaf, trustDomain: string): Principal | undefined {
  if (leaf.isCA) return undefined;
  const claimed = leaf.uris.filter(isSpiffeUri);
  if (claimed.length !== 1) return undefined;
  const id = tryParseSpiffeId(claimed[0] ?? '');
  if (id === undefined || id.trustDomain !== trustDomain || id.segments.length === 0) return undefined;
  // Only /admin/<name> and /node/<name> carry privilege; a bare /admin is an ordinary workload (least privilege).
  const [first, second] = id.segments;
  const kind: PrincipalKind = second === undefined ? 'workload' : first === 'admin' ? 'admin' : first === 'node' ? 'node' : 'workload';
  return { spiffeId: claimed[0]!, serial: leaf.serialNumber, kind };
}

/**
 * principalOf, remembered per leaf object: the engine keeps one verified leaf
 * per connection, so a keep-alive connection parses its SPIFFE ID once, not
 * twice per request (log bindings and the hook). The memo holds only what
 * principalOf derives from the leaf's immutable fields; revocation and expiry
 * are still checked on every request.
 */
const principals = new WeakMap<PeerLeaf, { readonly trustDomain: string; readonly principal: Principal | undefined }>();

export function principalOfCached(leaf: PeerLeaf, trustDomain: string): Principal | undefined {
  const remembered = principals.get(leaf);
  if (remembered !== undefined && remembered.trustDomain === trustDomain) return remembered.principal;
  const principal = principalOf(leaf, trustDomain);
  principals.set(leaf, { trustDomain, principal });
  return principal;
}

/** Log bindings for a request's child logger: who is calling, before any hook runs. */
export function peerLogBindings(socket: unknown, trustDomain: string): Record<string, string> {
  const leaf = peerLeafOf(socket);
  if (leaf === undefined) return {};
  const principal = principalOfCached(leaf, trustDomain);
  return principal === undefined ? { peerSerial: leaf.serialNumber } : { spiffeId: principal.spiffeId, peerSerial: leaf.serialNumber };
}

export interface MtlsPeerOptions {
  readonly certificates: Pick<CertificateReader, 'statusOf'>;
  readonly trustDomain: string;
  readonly clock: Clock;
  /** Revocations this node has heard of; checked before the ledger. */
  readonly revokedSerials?: Pick<RevokedSerials, 'has'>;
}

export function installMtlsPeer(app: FastifyInstance, options: MtlsPeerOptions): void {
  app.decorateRequest('principal', undefined);
  app.decorateRequest('hasClientCertificate', false);
  app.addHook('onRequest', async (request) => {
    const leaf = peerLeafOf(request.raw.socket);
    if (leaf === undefined) return;
    request.hasClientCertificate = true;
    const serial = leaf.serialNumber;
    if (options.revokedSerials?.has(serial) === true) {
      throw new ProblemError('certificateRevoked', `The client certificate (serial ${serial}) was revoked.`);
    }
    // Every presented certificate is checked, not only those that grant access: one the ledger refutes is refused outright.
    // On SQLite statusOf answers at once: taken as is, without a microtask's detour on every request.
    // On PostgreSQL it is a query (a DomainError('unavailable') while the database is down: 503).
    const found = options.certificates.statusOf(serial);
    const status = isPromise(found) ? await found : found;
    if (status === undefined)
      throw new ProblemError('certificateUnknown', `The client certificate (serial ${serial}) is not one this CA issued.`);
    if (status.status === 'revoked') {
      const when = status.revokedAt === null ? '' : ` at ${new Date(status.revokedAt).toISOString()}`;
      throw new ProblemError('certificateRevoked', `The client certificate (serial ${serial}) was revoked${when}.`);
    }
    // A keep-alive connection can outlive the certificate it was opened with.
    const notAfter = Math.min(status.notAfter, leaf.notAfter.getTime());
    if (options.clock.now() > notAfter) {
      throw new ProblemError(
        'certificateExpired',
        `The client certificate (serial ${serial}) expired at ${new Date(notAfter).toISOString()}.`,
      );
    }
    request.principal = principalOfCached(leaf, options.trustDomain);
  });
}
