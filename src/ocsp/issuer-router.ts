import type { Awaitable } from '../shared/awaitable.js';
import { mapAwaitable } from '../shared/awaitable-flow.js';
import type { Clock } from '../shared/clock.js';
import { DomainError } from '../shared/errors.js';
import { ocspIssuerHashes, type CertIdHash, type IssuerHashes, type OcspCertId } from '../x509/index.js';
import type { OcspResponseSigner } from './ports.js';
import type { OcspRequest } from './request.js';
import type { OcspResponse, Source } from './source.js';

/*
 * One responder for several issuers (a CA rotation keeps the old
 * intermediate answering for what it issued while the new one signs): each
 * request goes to the source of the issuer its CertIDs name (RFC 6960
 * §4.1.1: issuerNameHash and issuerKeyHash). RFC 6960 §2.3: a CertID of an
 * issuer no route serves, or a request mixing issuers, is `unauthorized`.
 */

/** A source the router can also tell about revocations and count. */
export interface RoutedSource extends Source {
  readonly drop?: (serial: string) => void;
  readonly size?: number;
}

export interface IssuerRoute {
  /** The issuer's serial: routes are replaced by it. */
  readonly id: string;
  readonly issuerCertificate: Uint8Array;
  readonly source: RoutedSource;
}

interface CompiledRoute extends IssuerRoute {
  readonly hashes: Readonly<Record<CertIdHash, IssuerHashes>>;
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return (
    a.byteLength === b.byteLength &&
    Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength))
  );
}

export class IssuerRouter implements Source {
  private routes: readonly CompiledRoute[] = [];

  /** Replaces the routes (at start and at every change of the CA's intermediates). */
  setRoutes(routes: readonly IssuerRoute[]): void {
    this.routes = routes.map((route) => ({
      ...route,
      hashes: { sha1: ocspIssuerHashes(route.issuerCertificate, 'sha1'), sha256: ocspIssuerHashes(route.issuerCertificate, 'sha256') },
    }));
  }

  get routeIds(): readonly string[] {
    return this.routes.map((r) => r.id);
  }

  /** Pre-signed responses held by every route. */
  get size(): number {
    let total = 0;
    for (const route of this.routes) total += route.source.size ?? 0;
    return total;
  }

  /** For Authority.onRevoked and the revocation feed: every route forgets the serial (serials are unique across our issuers). */
  readonly drop = (serial: string): void => {
    for (const route of this.routes) route.source.drop?.(serial);
  };

  cachedFor(requestKey: string): Awaitable<OcspResponse | undefined> {
    const routes = this.routes;
    const tryFrom = (index: number): Awaitable<OcspResponse | undefined> => {
      const route = routes[index];
      if (route === undefined) return undefined;
      return mapAwaitable(route.source.cachedFor(requestKey), (hit) => hit ?? tryFrom(index + 1));
    };
    return tryFrom(0);
  }

  response(request: OcspRequest, requestKeys: readonly string[]): Awaitable<OcspResponse> {
    const [first] = request.certIds;
    const route = first === undefined ? undefined : this.routeOf(first);
    if (route === undefined || request.certIds.some((certId) => this.routeOf(certId) !== route)) {
      throw new DomainError('notFound', 'keysmith is not the OCSP responder for this issuer');
    }
    return route.source.response(request, requestKeys);
  }

  private routeOf(certId: OcspCertId): CompiledRoute | undefined {
    if (certId.hashAlgorithm !== 'sha1' && certId.hashAlgorithm !== 'sha256') return undefined;
    const algorithm: CertIdHash = certId.hashAlgorithm;
    return this.routes.find((route) => {
      const hashes = route.hashes[algorithm];
      return sameBytes(hashes.keyHash, certId.issuerKeyHash) && sameBytes(hashes.nameHash, certId.issuerNameHash);
    });
  }
}

/**
 * The answer for every certificate of a revoked (compromised) intermediate:
 * RFC 6960 §2.7 lets a responder that knows a CA's key is compromised
 * answer `revoked` for every certificate that CA issued. Signed per request,
 * never cached; revocationTime is the intermediate's, reason cACompromise.
 */
export function compromisedIssuerSource(options: {
  readonly signer: OcspResponseSigner;
  readonly revokedAt: number;
  readonly clock: Clock;
  readonly validityMs: number;
}): RoutedSource {
  return {
    cachedFor: () => undefined,
    response(request: OcspRequest): OcspResponse {
      const now = options.clock.now();
      const thisUpdate = Math.floor(now / 1000) * 1000;
      const nextUpdate = Math.min(thisUpdate + options.validityMs, options.signer.notAfter);
      const der = options.signer.signResponse({
        producedAt: now,
        responses: request.certIds.map((certId) => ({
          certId: certId.der,
          status: { kind: 'revoked', revokedAt: options.revokedAt, reason: 'cACompromise' },
          thisUpdate,
          nextUpdate,
        })),
        ...(request.nonce === undefined ? {} : { nonce: request.nonce }),
      });
      return { der, cache: undefined };
    },
  };
}
