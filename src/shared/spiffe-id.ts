import { DomainError } from './errors.js';

/** A parsed SPIFFE ID (SPIFFE-ID spec §2). `path` is '' for the trust domain's own ID, else starts with '/'. */
export interface SpiffeId {
  readonly trustDomain: string;
  readonly path: string;
}

const SCHEME = 'spiffe://';
// SPIFFE-ID §2.3: the whole ID, in bytes; §2.1: the trust domain name.
const MAX_ID_LENGTH = 2048;
const MAX_TRUST_DOMAIN_LENGTH = 255;
const TRUST_DOMAIN_CHARS = /^[a-z0-9._-]+$/;
const SEGMENT_CHARS = /^[A-Za-z0-9._-]+$/;

function malformed(input: string, why: string): DomainError {
  return new DomainError('malformed', `invalid SPIFFE ID "${input.slice(0, 128)}": ${why}`);
}

/** Checks a trust domain name alone (SPIFFE-ID §2.1) and returns it unchanged. */
export function parseTrustDomain(name: string): string {
  if (name.length === 0) throw new DomainError('malformed', 'trust domain is empty');
  if (name.length > MAX_TRUST_DOMAIN_LENGTH)
    throw new DomainError('malformed', `trust domain is longer than ${MAX_TRUST_DOMAIN_LENGTH} characters`);
  if (name.includes(':')) throw new DomainError('malformed', `trust domain "${name}" must not include a port`);
  if (!TRUST_DOMAIN_CHARS.test(name)) {
    throw new DomainError('malformed', `trust domain "${name}" may contain only lowercase letters, digits, ".", "-" and "_"`);
  }
  return name;
}

/**
 * Parses a SPIFFE ID by the SPIFFE-ID spec's rules: the scheme is exactly
 * "spiffe", the trust domain is lowercase [a-z0-9._-] with no port or user
 * info, there is no query or fragment, and every path segment is non-empty,
 * not "." or "..", and made of [A-Za-z0-9._-] (so percent-encoding is refused).
 */
export function parseSpiffeId(input: string): SpiffeId {
  if (input.length === 0) throw malformed(input, 'empty');
  if (Buffer.byteLength(input, 'utf8') > MAX_ID_LENGTH) throw malformed(input, `longer than ${MAX_ID_LENGTH} bytes`);
  if (!input.startsWith(SCHEME)) {
    const why = input.toLowerCase().startsWith(SCHEME) ? 'the scheme must be lowercase "spiffe"' : 'the scheme must be "spiffe://"';
    throw malformed(input, why);
  }
  // §2.2/§2.3: a SPIFFE ID carries no query and no fragment.
  if (input.includes('?')) throw malformed(input, 'a query is not allowed');
  if (input.includes('#')) throw malformed(input, 'a fragment is not allowed');

  const rest = input.slice(SCHEME.length);
  const slash = rest.indexOf('/');
  const authority = slash === -1 ? rest : rest.slice(0, slash);
  const path = slash === -1 ? '' : rest.slice(slash);

  // §2.1: the authority is the trust domain name alone.
  if (authority.length === 0) throw malformed(input, 'the trust domain is missing');
  if (authority.includes('@')) throw malformed(input, 'user info is not allowed');
  if (authority.includes(':')) throw malformed(input, 'a port is not allowed');
  if (authority.length > MAX_TRUST_DOMAIN_LENGTH)
    throw malformed(input, `the trust domain is longer than ${MAX_TRUST_DOMAIN_LENGTH} characters`);
  if (!TRUST_DOMAIN_CHARS.test(authority)) {
    throw malformed(input, 'the trust domain may contain only lowercase letters, digits, ".", "-" and "_"');
  }

  if (path.length > 0) checkPath(input, path);
  return { trustDomain: authority, path };
}

/** SPIFFE-ID §2.2: segments separated by "/", none empty, none "." or "..". */
function checkPath(input: string, path: string): void {
  const segments = path.slice(1).split('/');
  segments.forEach((segment, index) => {
    if (segment.length === 0) {
      throw malformed(input, index === segments.length - 1 ? 'a trailing "/" is not allowed' : 'the path has an empty segment');
    }
    if (segment === '.' || segment === '..') throw malformed(input, `the path segment "${segment}" is not allowed`);
    if (!SEGMENT_CHARS.test(segment)) {
      throw malformed(input, `the path segment "${segment.slice(0, 64)}" may contain only letters, digits, ".", "-" and "_"`);
    }
  });
}

export function formatSpiffeId(id: SpiffeId): string {
  return `${SCHEME}${id.trustDomain}${id.path}`;
}

/** True when `path` equals `prefix` or lies below it segment-wise ("/node" covers "/node/a", not "/nodes"). */
export function isPathUnder(path: string, prefix: string): boolean {
  return path === prefix || path.startsWith(`${prefix}/`);
}

/** Whether a URI SAN claims to be a SPIFFE ID at all (scheme compared case-insensitively). */
export function isSpiffeUri(uri: string): boolean {
  return uri.slice(0, SCHEME.length).toLowerCase() === SCHEME;
}

/** parseSpiffeId for callers that only need yes or no, with the path split into segments. */
export function tryParseSpiffeId(input: string): (SpiffeId & { readonly segments: readonly string[] }) | undefined {
  try {
    const id = parseSpiffeId(input);
    return { ...id, segments: id.path === '' ? [] : id.path.slice(1).split('/') };
  } catch {
    return undefined;
  }
}
