/**
 * SPIFFE ID parsing for the peer-identity plugin. http may not import x509
 * (STYLE §2.3), and this is a few lines of string rules, so it lives here.
 * Rules from the SPIFFE-ID specification §2: lowercase scheme and trust
 * domain, path segments of [A-Za-z0-9._-] that are neither '.' nor '..',
 * no trailing slash, query, fragment, port or user info.
 */

export interface SpiffeId {
  readonly trustDomain: string;
  /** Path segments, e.g. ['admin', 'alice'] for spiffe://td/admin/alice. */
  readonly segments: readonly string[];
  readonly uri: string;
}

const SCHEME = 'spiffe://';
/** SPIFFE-ID §2.3: URIs longer than 2048 bytes are not SPIFFE IDs. */
const MAX_LENGTH = 2048;
/** SPIFFE-ID §2.1: the trust domain is at most 255 bytes. */
const MAX_TRUST_DOMAIN = 255;
const TRUST_DOMAIN_CHARS = /^[a-z0-9._-]+$/;
const SEGMENT_CHARS = /^[A-Za-z0-9._-]+$/;

export function parseSpiffeId(uri: string): SpiffeId | undefined {
  if (uri.length > MAX_LENGTH || !uri.startsWith(SCHEME)) return undefined;
  const rest = uri.slice(SCHEME.length);
  const slash = rest.indexOf('/');
  const trustDomain = slash === -1 ? rest : rest.slice(0, slash);
  if (trustDomain.length === 0 || trustDomain.length > MAX_TRUST_DOMAIN || !TRUST_DOMAIN_CHARS.test(trustDomain)) return undefined;
  if (slash === -1) return { trustDomain, segments: [], uri };
  const segments = rest.slice(slash + 1).split('/');
  for (const segment of segments) {
    // SPIFFE-ID §2.2: empty, '.' and '..' segments are not allowed (this also rejects a trailing slash).
    if (segment === '' || segment === '.' || segment === '..' || !SEGMENT_CHARS.test(segment)) return undefined;
  }
  return { trustDomain, segments, uri };
}

/** Whether a URI SAN claims to be a SPIFFE ID at all (scheme compared case-insensitively). */
export function isSpiffeUri(uri: string): boolean {
  return uri.slice(0, SCHEME.length).toLowerCase() === SCHEME;
}
