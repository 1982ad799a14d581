import { DomainError } from '../shared/errors.js';
import type { ProfileName, SubjectAltName } from '../domain/certificates.js';
import {
  isPathUnder,
  normalizeDnsName,
  normalizeIpAddress,
  parseSpiffeId,
  type CertificateTemplate,
  type CheckedPublicKey,
  type DistinguishedName,
  type ExtendedKeyUsageName,
  type KeyUsageName,
} from '../x509/index.js';

/** What a caller asks the Authority to certify. Times are ms since the epoch. */
export interface IssueRequest {
  /** DER SubjectPublicKeyInfo. */
  readonly publicKey: Uint8Array;
  readonly spiffeId?: string;
  readonly dnsNames?: readonly string[];
  readonly ipAddresses?: readonly string[];
  /** Lifetime from now; give this or notAfter, not both. */
  readonly ttlMs?: number;
  /** Never later than now; at most the profile's backdate earlier is honoured. */
  readonly notBefore?: number;
  readonly notAfter?: number;
  /** A SPIFFE ID, 'cli:<user>', 'acme:<account>' or 'system'. */
  readonly requester: string;
  /**
   * Id of a registration entry with `admin: true` (made by an operator) that
   * grants this /admin/ SPIFFE ID to a workload requester. The SVID front end
   * sets it only after checking the entry; without it only the operator may
   * obtain admin identities.
   */
  readonly adminGrant?: string;
}

/** Everything a leaf template needs besides the request. */
export interface ProfileContext {
  readonly now: number;
  readonly trustDomain: string;
  /** The intermediate's notAfter: no leaf outlives it. */
  readonly issuerNotAfter: number;
  readonly ocspUrl?: string;
  readonly crlUrl?: string;
  readonly maxTlsServerTtlMs: number;
}

/** A leaf template without its serial (picked later, against the ledger), plus what the ledger row needs. */
export interface LeafPlan {
  readonly template: Omit<CertificateTemplate, 'serial'>;
  readonly spiffeId: string | null;
}

const SECOND = 1000;
const HOUR = 3_600_000;
const DAY = 24 * HOUR;

/** Clock skew allowance: notBefore is set this far back, never later than now (DESIGN.md, issuance). */
export const BACKDATE_MS = 60 * SECOND;
/** CA/Browser Forum BR §6.3.2 ceiling for TLS server certificates; also the default maximum. */
export const TLS_SERVER_MAX_TTL_MS = 397 * DAY;
const MAX_DNS_NAMES = 100;

/**
 * Admin identities are svid-shaped certificates whose SPIFFE ID lies under
 * /admin. They may be asked for only by the operator side (requester 'system'
 * or 'cli:*'), never through a workload's credentials, and live longer than
 * workload SVIDs because an operator renews them by hand.
 */
export const ADMIN_PATH = '/admin';
/** Agents' bootstrap identities live under /node and come only from the `node` profile. */
export const NODE_PATH = '/node';

interface Lifetime {
  readonly defaultTtlMs: number;
  readonly maxTtlMs: number;
}

export const LIFETIMES = {
  svid: { defaultTtlMs: HOUR, maxTtlMs: DAY },
  admin: { defaultTtlMs: 30 * DAY, maxTtlMs: 90 * DAY },
  node: { defaultTtlMs: DAY, maxTtlMs: 7 * DAY },
  tlsServer: { defaultTtlMs: 90 * DAY, maxTtlMs: TLS_SERVER_MAX_TTL_MS },
  ocspSigner: { defaultTtlMs: 7 * DAY, maxTtlMs: 30 * DAY },
} as const satisfies Record<string, Lifetime>;

const ORGANIZATION = 'keysmith';

export function isOperatorRequester(requester: string): boolean {
  return requester === 'system' || requester.startsWith('cli:');
}

/**
 * Step 1 of issuance: checks the request against the profile and returns the
 * template to sign. Bad input is `malformed`; a name or identity the profile
 * refuses is `rejectedIdentifier`. The key was checked before (`badCSR`).
 */
export function planLeaf(profile: ProfileName, request: IssueRequest, key: CheckedPublicKey, ctx: ProfileContext): LeafPlan {
  if (request.requester.length === 0) throw new DomainError('malformed', 'requester is empty');
  switch (profile) {
    case 'svid':
      return planSvid(request, key, ctx);
    case 'node':
      return planNode(request, key, ctx);
    case 'tls-server':
      return planTlsServer(request, key, ctx);
    case 'ocsp-signer':
      return planOcspSigner(request, key, ctx);
    case 'root':
    case 'intermediate':
      throw new DomainError('malformed', `profile '${profile}' is made only when the CA is created, not through issue()`);
    default: {
      const never: never = profile;
      throw new DomainError('malformed', `unknown profile '${String(never)}'`);
    }
  }
}

/** SPIFFE X509-SVID §2, §4: one URI SAN, CA=false, digitalSignature, serverAuth+clientAuth. */
function planSvid(request: IssueRequest, key: CheckedPublicKey, ctx: ProfileContext): LeafPlan {
  const spiffeId = requireSpiffeId(request, ctx, 'svid');
  const path = parseSpiffeId(spiffeId).path;
  if (isPathUnder(path, NODE_PATH)) throw new DomainError('rejectedIdentifier', `${spiffeId}: node identities come from the node profile`);
  const isAdmin = isPathUnder(path, ADMIN_PATH);
  const hasAdminGrant = request.adminGrant !== undefined && request.adminGrant.length > 0;
  if (isAdmin && !isOperatorRequester(request.requester) && !hasAdminGrant) {
    throw new DomainError(
      'rejectedIdentifier',
      `${spiffeId}: admin identities are issued only to the operator (system or cli) or through an admin registration entry`,
    );
  }
  refuseIpAddresses(request, 'svid');
  return leaf({
    spiffeId,
    sans: [{ type: 'uri', value: spiffeId }, ...dnsSans(request.dnsNames, false)],
    subject: subjectFor(spiffeId),
    extendedKeyUsage: ['serverAuth', 'clientAuth'],
    // X509-SVID §4.3 requires digitalSignature; keyEncipherment has no meaning for EC or Ed25519 keys, so none gets it.
    keyUsage: ['digitalSignature'],
    lifetime: isAdmin ? LIFETIMES.admin : LIFETIMES.svid,
    profile: isAdmin ? 'svid (admin)' : 'svid',
    request,
    key,
    ctx,
  });
}

/** A node (agent) identity: a SPIFFE ID under /node/, used as client and server. */
function planNode(request: IssueRequest, key: CheckedPublicKey, ctx: ProfileContext): LeafPlan {
  const spiffeId = requireSpiffeId(request, ctx, 'node');
  const path = parseSpiffeId(spiffeId).path;
  if (!path.startsWith(`${NODE_PATH}/`))
    throw new DomainError('rejectedIdentifier', `${spiffeId}: node identities lie under ${NODE_PATH}/`);
  refuseIpAddresses(request, 'node');
  return leaf({
    spiffeId,
    sans: [{ type: 'uri', value: spiffeId }, ...dnsSans(request.dnsNames, false)],
    subject: subjectFor(spiffeId),
    extendedKeyUsage: ['clientAuth', 'serverAuth'],
    keyUsage: ['digitalSignature'],
    lifetime: LIFETIMES.node,
    profile: 'node',
    request,
    key,
    ctx,
  });
}

/** ACME server certificates: DNS/IP SANs only, serverAuth. */
function planTlsServer(request: IssueRequest, key: CheckedPublicKey, ctx: ProfileContext): LeafPlan {
  if (request.spiffeId !== undefined) throw new DomainError('rejectedIdentifier', 'tls-server certificates carry no SPIFFE ID');
  const dns = dnsSans(request.dnsNames, true);
  const ips = ipSans(request.ipAddresses);
  if (dns.length + ips.length === 0)
    throw new DomainError('malformed', 'a tls-server certificate needs at least one DNS name or IP address');
  const [first] = [...dns, ...ips];
  return leaf({
    spiffeId: null,
    sans: [...dns, ...ips],
    subject: [
      { type: 'O', value: ORGANIZATION },
      ...(first !== undefined && first.value.length <= 64 ? [{ type: 'CN' as const, value: first.value }] : []),
    ],
    extendedKeyUsage: ['serverAuth'],
    // RSA keys may still meet TLS 1.2 RSA key exchange; EC and Ed25519 keys only sign.
    keyUsage: key.algorithm.kind === 'rsa' ? ['digitalSignature', 'keyEncipherment'] : ['digitalSignature'],
    lifetime: { defaultTtlMs: Math.min(LIFETIMES.tlsServer.defaultTtlMs, ctx.maxTlsServerTtlMs), maxTtlMs: ctx.maxTlsServerTtlMs },
    profile: 'tls-server',
    request,
    key,
    ctx,
  });
}

/** The delegated OCSP responder (RFC 6960 §4.2.2.2): EKU OCSPSigning and id-pkix-ocsp-nocheck, no names. */
function planOcspSigner(request: IssueRequest, key: CheckedPublicKey, ctx: ProfileContext): LeafPlan {
  // Its signature vouches for every serial's status, so only the operator side may ask for one.
  if (!isOperatorRequester(request.requester))
    throw new DomainError('rejectedIdentifier', 'OCSP signer certificates are issued only to the operator (system or cli)');
  if (request.spiffeId !== undefined || (request.dnsNames ?? []).length > 0 || (request.ipAddresses ?? []).length > 0) {
    throw new DomainError('rejectedIdentifier', 'an OCSP signer certificate carries no names');
  }
  return leaf({
    spiffeId: null,
    sans: [],
    subject: [
      { type: 'O', value: ORGANIZATION },
      { type: 'CN', value: 'keysmith OCSP signer' },
    ],
    extendedKeyUsage: ['ocspSigning'],
    keyUsage: ['digitalSignature'],
    lifetime: LIFETIMES.ocspSigner,
    profile: 'ocsp-signer',
    request,
    key,
    ctx,
    isOcspSigner: true,
  });
}

function requireSpiffeId(request: IssueRequest, ctx: ProfileContext, profile: string): string {
  if (request.spiffeId === undefined) throw new DomainError('malformed', `a ${profile} certificate needs a SPIFFE ID`);
  const id = parseSpiffeId(request.spiffeId);
  if (id.trustDomain !== ctx.trustDomain) {
    throw new DomainError('rejectedIdentifier', `${request.spiffeId} is not in trust domain ${ctx.trustDomain}`);
  }
  // SPIFFE-ID §2.2: the trust domain's own ID names no workload.
  if (id.path === '')
    throw new DomainError('rejectedIdentifier', `${request.spiffeId} has no path: it names the trust domain, not a workload`);
  return request.spiffeId;
}

function refuseIpAddresses(request: IssueRequest, profile: string): void {
  if ((request.ipAddresses ?? []).length > 0) throw new DomainError('rejectedIdentifier', `${profile} certificates carry no IP addresses`);
}

function dnsSans(names: readonly string[] | undefined, allowWildcard: boolean): SubjectAltName[] {
  const list = names ?? [];
  if (list.length > MAX_DNS_NAMES) throw new DomainError('malformed', `at most ${MAX_DNS_NAMES} DNS names`);
  const unique = new Set(list.map((name) => normalizeDnsName(name, { allowWildcard })));
  return [...unique].map((value) => ({ type: 'dns', value }));
}

function ipSans(addresses: readonly string[] | undefined): SubjectAltName[] {
  const list = addresses ?? [];
  if (list.length > MAX_DNS_NAMES) throw new DomainError('malformed', `at most ${MAX_DNS_NAMES} IP addresses`);
  return [...new Set(list.map(normalizeIpAddress))].map((value) => ({ type: 'ip', value }));
}

/** O=keysmith, and the SPIFFE ID as CN when it fits (RFC 5280 ub-common-name is 64). */
function subjectFor(spiffeId: string): DistinguishedName {
  return spiffeId.length <= 64
    ? [
        { type: 'O', value: ORGANIZATION },
        { type: 'CN', value: spiffeId },
      ]
    : [{ type: 'O', value: ORGANIZATION }];
}

interface LeafParts {
  readonly spiffeId: string | null;
  readonly sans: readonly SubjectAltName[];
  readonly subject: DistinguishedName;
  readonly extendedKeyUsage: readonly ExtendedKeyUsageName[];
  readonly keyUsage: readonly KeyUsageName[];
  readonly lifetime: Lifetime;
  readonly profile: string;
  readonly request: IssueRequest;
  readonly key: CheckedPublicKey;
  readonly ctx: ProfileContext;
  readonly isOcspSigner?: boolean;
}

function leaf(parts: LeafParts): LeafPlan {
  const { ctx } = parts;
  const { notBefore, notAfter } = planValidity(parts.request, parts.lifetime, parts.profile, ctx);
  return {
    spiffeId: parts.spiffeId,
    template: {
      subject: parts.subject,
      notBefore,
      notAfter,
      publicKey: parts.key.spki,
      basicConstraints: { ca: false },
      keyUsage: parts.keyUsage,
      extendedKeyUsage: parts.extendedKeyUsage,
      subjectAltNames: parts.sans,
      // An OCSP signer's own status is not checked (nocheck), so it gets no AIA pointer.
      ...(ctx.ocspUrl === undefined || parts.isOcspSigner === true ? {} : { ocspUrl: ctx.ocspUrl }),
      ...(ctx.crlUrl === undefined ? {} : { crlUrl: ctx.crlUrl }),
      ...(parts.isOcspSigner === true ? { ocspNoCheck: true } : {}),
    },
  };
}

/**
 * notBefore: now minus BACKDATE_MS, or the requested notBefore when that is
 * later (never later than now). notAfter: now + ttl (or the requested
 * notAfter), at most the profile's maximum past now, cut to the intermediate's
 * notAfter. Both in whole seconds, as X.509 stores them.
 */
export function planValidity(
  request: Pick<IssueRequest, 'ttlMs' | 'notBefore' | 'notAfter'>,
  lifetime: Lifetime,
  profile: string,
  ctx: Pick<ProfileContext, 'now' | 'issuerNotAfter'>,
): { notBefore: number; notAfter: number } {
  const { now } = ctx;
  const floor = (ms: number): number => Math.floor(ms / SECOND) * SECOND;
  if (request.ttlMs !== undefined && request.notAfter !== undefined) throw new DomainError('malformed', 'give ttlMs or notAfter, not both');

  let notBefore = floor(now - BACKDATE_MS);
  if (request.notBefore !== undefined) {
    if (!Number.isSafeInteger(request.notBefore)) throw new DomainError('malformed', 'notBefore must be integer milliseconds');
    if (request.notBefore > now) throw new DomainError('malformed', 'notBefore may not be in the future');
    notBefore = Math.max(notBefore, floor(request.notBefore));
  }

  let end: number;
  if (request.notAfter !== undefined) {
    if (!Number.isSafeInteger(request.notAfter)) throw new DomainError('malformed', 'notAfter must be integer milliseconds');
    if (request.notAfter <= now) throw new DomainError('malformed', 'notAfter must be in the future');
    end = request.notAfter;
  } else {
    const ttl = request.ttlMs ?? lifetime.defaultTtlMs;
    if (!Number.isFinite(ttl) || ttl < SECOND) throw new DomainError('malformed', 'ttlMs must be at least one second');
    end = now + ttl;
  }
  if (end - now > lifetime.maxTtlMs) {
    throw new DomainError('malformed', `requested lifetime exceeds the ${profile} maximum of ${formatDuration(lifetime.maxTtlMs)}`);
  }
  const notAfter = floor(Math.min(end, ctx.issuerNotAfter));
  // Only an intermediate at (or past) its end gets here; that is the operator's problem, not the caller's.
  if (notAfter <= now) throw new Error(`the intermediate CA expires at ${new Date(ctx.issuerNotAfter).toISOString()}: rotate it`);
  return { notBefore, notAfter };
}

function formatDuration(ms: number): string {
  return ms % DAY === 0 ? `${ms / DAY} d` : ms % HOUR === 0 ? `${ms / HOUR} h` : `${ms / SECOND} s`;
}
