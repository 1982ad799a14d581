/**
 * Which ACME resource a request names (RFC 8555 §7.1): the directory and
 * new-nonce by GET, renewal information (RFC 9773) by GET, every other
 * resource by POST (POST-as-GET included) with the key the resource needs.
 */
import { accountOrders, accountPost, keyChange, newAccount } from './accounts.js';
import { renewalInfo } from './ari.js';
import { authenticate, type KeyMode } from './authenticate.js';
import { challengePost } from './challenges.js';
import { type AcmeContext, type AcmeReply, type AuthenticatedPost, enforceLimit } from './context.js';
import { downloadCertificate, finalizeOrder } from './finalize.js';
import { authorizationPost, newOrder, orderPost } from './orders.js';
import { AcmeProblemError } from './problems.js';
import { revokeCertificate } from './revocation.js';
import type { AcmeHttpRequest } from './transport.js';
import { renderDirectory } from './wire.js';

type PostHandler = (ctx: AcmeContext, post: AuthenticatedPost, request: AcmeHttpRequest) => AcmeReply | Promise<AcmeReply>;

interface PostRoute {
  readonly keyMode: KeyMode;
  readonly run: PostHandler;
}

const SEGMENT = '([A-Za-z0-9_-]{1,128})';

// Exact paths first, then one pattern per resource kind (ids are base64url, serials hex).
const EXACT_POSTS: ReadonlyMap<string, PostRoute> = new Map<string, PostRoute>([
  ['/new-account', { keyMode: 'jwk', run: newAccount }],
  ['/new-order', { keyMode: 'kid', run: newOrder }],
  ['/revoke-cert', { keyMode: 'either', run: revokeCertificate }],
  ['/key-change', { keyMode: 'kid', run: keyChange }],
]);
const PATTERN_POSTS: readonly { readonly pattern: RegExp; readonly route: (id: string) => PostRoute }[] = [
  { pattern: new RegExp(`^/account/${SEGMENT}$`), route: (id) => ({ keyMode: 'kid', run: (c, p) => accountPost(c, p, id) }) },
  { pattern: new RegExp(`^/account/${SEGMENT}/orders$`), route: (id) => ({ keyMode: 'kid', run: (c, p) => accountOrders(c, p, id) }) },
  { pattern: new RegExp(`^/order/${SEGMENT}$`), route: (id) => ({ keyMode: 'kid', run: (c, p) => orderPost(c, p, id) }) },
  { pattern: new RegExp(`^/order/${SEGMENT}/finalize$`), route: (id) => ({ keyMode: 'kid', run: (c, p) => finalizeOrder(c, p, id) }) },
  { pattern: new RegExp(`^/authz/${SEGMENT}$`), route: (id) => ({ keyMode: 'kid', run: (c, p) => authorizationPost(c, p, id) }) },
  { pattern: new RegExp(`^/chall/${SEGMENT}$`), route: (id) => ({ keyMode: 'kid', run: (c, p) => challengePost(c, p, id) }) },
  { pattern: /^\/cert\/([0-9a-f]{2,40})$/, route: (serial) => ({ keyMode: 'kid', run: (c, p) => downloadCertificate(c, p, serial) }) },
];

function findPost(path: string): PostRoute | undefined {
  const exact = EXACT_POSTS.get(path);
  if (exact !== undefined) return exact;
  for (const { pattern, route } of PATTERN_POSTS) {
    const match = pattern.exec(path);
    if (match?.[1] !== undefined) return route(match[1]);
  }
  return undefined;
}

export async function routeRequest(ctx: AcmeContext, request: AcmeHttpRequest): Promise<AcmeReply> {
  const { deps } = ctx;
  const path = request.path.split('?')[0] ?? '';
  if (path === '/directory') {
    requireMethod(request, ['GET', 'HEAD']);
    return { status: 200, body: renderDirectory(ctx.urls, deps.meta ?? {}, deps.policy.eabRequired) };
  }
  if (path === '/new-nonce') {
    requireMethod(request, ['GET', 'HEAD']);
    enforceLimit(ctx.limiters.nonce, request.clientAddress, deps.clock.now(), 'nonce requests from this address');
    // RFC 8555 §7.2: HEAD answers 200, GET 204; the nonce itself rides on every response.
    return { status: request.method === 'HEAD' ? 200 : 204 };
  }
  if (path.startsWith('/renewal-info/')) {
    requireMethod(request, ['GET']);
    return renewalInfo(ctx, path.slice('/renewal-info/'.length));
  }
  const post = findPost(path);
  if (post === undefined) throw new AcmeProblemError('malformed', `no ACME resource at ${path.slice(0, 128)}`, { status: 404 });
  // RFC 8555 §6.3: every other resource is read with POST-as-GET, never GET.
  requireMethod(request, ['POST']);
  const authenticated = await authenticate(ctx, request, post.keyMode);
  return post.run(ctx, authenticated, request);
}

function requireMethod(request: AcmeHttpRequest, allowed: readonly AcmeHttpRequest['method'][]): void {
  if (!allowed.includes(request.method)) {
    throw new AcmeProblemError('malformed', `${request.method} is not allowed here; use ${allowed.join(' or ')}`, {
      status: 405,
      headers: { allow: allowed.join(', ') },
    });
  }
}
