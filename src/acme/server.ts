/**
 * The ACME server (RFC 8555): routes each request on method and path, runs
 * the POST checks, calls one handler, and dresses every answer with a fresh
 * Replay-Nonce and the directory Link. `handle` never throws.
 */
import { RateLimiter, type RateLimit } from '../shared/rate-limit.js';
import { AccountKeyCache } from './account-keys.js';
import { accountOrders, accountPost, keyChange, newAccount } from './accounts.js';
import { renewalInfo } from './ari.js';
import { authenticate, type KeyMode } from './authenticate.js';
import { challengePost, resumeInterrupted } from './challenges.js';
import { DEFAULT_VALIDATION_LIMITS, ValidationRunner } from './validation-runner.js';
import { enforceLimit, type AcmeContext, type AcmeReply, type AuthenticatedPost } from './context.js';
import { downloadCertificate, finalizeOrder } from './finalize.js';
import { IdentifierPolicy } from './identifiers.js';
import { NonceStore } from './nonces.js';
import { pooledRandom } from '../shared/random.js';
import { authorizationPost, newOrder, orderPost } from './orders.js';
import type { AcmeServerDeps, AcmeValidationLimits } from './ports.js';
import type { SchedulerLimits, SchedulerLoad } from './validation/scheduler.js';
import { AcmeProblemError, INTERNAL_PROBLEM, problemDocument, toAcmeProblem } from './problems.js';
import { revokeCertificate } from './revocation.js';
import type { AcmeHandler, AcmeHttpRequest, AcmeHttpResponse } from './transport.js';
import { AcmeUrls, renderDirectory } from './wire.js';

/** Generous: interop runs and the bench never meet them; a runaway client does. */
const DEFAULT_LIMITS = {
  newAccountPerAddress: { burst: 300, perSecond: 10 },
  noncePerAddress: { burst: 5000, perSecond: 500 },
  newOrderPerAccount: { burst: 3000, perSecond: 300 },
  finalizePerAccount: { burst: 3000, perSecond: 300 },
} as const satisfies Record<string, RateLimit>;

export interface AcmeServer extends AcmeHandler {
  /** Resolves once every background validation started so far has been recorded. */
  settled(): Promise<void>;
  /**
   * Resolves once start-up recovery is done: interrupted finalizations reset
   * and interrupted validations handed to the scheduler (requests wait for it too).
   */
  ready(): Promise<void>;
  /** Challenge validations running and waiting now (metrics, tests). */
  readonly validationLoad: SchedulerLoad;
}

type PostHandler = (ctx: AcmeContext, post: AuthenticatedPost, request: AcmeHttpRequest) => AcmeReply | Promise<AcmeReply>;

interface PostRoute {
  readonly keyMode: KeyMode;
  readonly run: PostHandler;
}

const SEGMENT = '([A-Za-z0-9_-]{1,128})';

export function createAcmeServer(deps: AcmeServerDeps): AcmeServer {
  if (!/^https?:\/\/[^/]+(\/.*)?$/.test(deps.baseUrl) || deps.baseUrl.endsWith('/')) {
    throw new Error(`ACME baseUrl "${deps.baseUrl}" must be an absolute http(s) URL without a trailing slash`);
  }
  const random = deps.random ?? pooledRandom();
  const limits = deps.limits ?? {};
  const ceiling = deps.authority.tlsServerTtlCeilingMs;
  const maxTtl = deps.policy.maxCertificateTtlMs ?? ceiling;
  if (!(maxTtl > 0) || maxTtl > ceiling) throw new Error('policy.maxCertificateTtlMs must be positive and at most 397 days');
  const ctx: AcmeContext = {
    deps,
    urls: new AcmeUrls(deps.baseUrl),
    identifiers: new IdentifierPolicy(deps.policy),
    nonces: new NonceStore({
      key: deps.nonces.key ?? random(32),
      ledger: deps.nonces.ledger,
      random,
      ...(deps.nonces.lifetimeMs === undefined ? {} : { lifetimeMs: deps.nonces.lifetimeMs }),
    }),
    accountKeys: new AccountKeyCache(deps.accountKeyCacheSize),
    limiters: {
      newAccount: new RateLimiter(limits.newAccountPerAddress ?? DEFAULT_LIMITS.newAccountPerAddress),
      nonce: new RateLimiter(limits.noncePerAddress ?? DEFAULT_LIMITS.noncePerAddress),
      newOrder: new RateLimiter(limits.newOrderPerAccount ?? DEFAULT_LIMITS.newOrderPerAccount),
      finalize: new RateLimiter(limits.finalizePerAccount ?? DEFAULT_LIMITS.finalizePerAccount),
    },
    validations: new ValidationRunner(deps, validationLimits(deps.validationLimits ?? {})),
    random,
    maxCertificateTtlMs: maxTtl,
  };

  // Requests wait for it (a resolved promise after start), so none races the reset of interrupted
  // finalizations. A failure (the database down at start) is reported and serving goes on: the work
  // it would have resumed is resumed by the next start.
  const resumed = resumeInterrupted(ctx).catch((error: unknown) => {
    try {
      deps.onInternalError?.(error, { method: 'resume', path: '/' });
    } catch {
      // Reporting must not stop the server.
    }
  });

  // Exact paths first, then one pattern per resource kind (ids are base64url, serials hex).
  const exactPosts = new Map<string, PostRoute>([
    ['/new-account', { keyMode: 'jwk', run: newAccount }],
    ['/new-order', { keyMode: 'kid', run: newOrder }],
    ['/revoke-cert', { keyMode: 'either', run: revokeCertificate }],
    ['/key-change', { keyMode: 'kid', run: keyChange }],
  ]);
  const patternPosts: readonly { readonly pattern: RegExp; readonly route: (id: string) => PostRoute }[] = [
    { pattern: new RegExp(`^/account/${SEGMENT}$`), route: (id) => ({ keyMode: 'kid', run: (c, p) => accountPost(c, p, id) }) },
    { pattern: new RegExp(`^/account/${SEGMENT}/orders$`), route: (id) => ({ keyMode: 'kid', run: (c, p) => accountOrders(c, p, id) }) },
    { pattern: new RegExp(`^/order/${SEGMENT}$`), route: (id) => ({ keyMode: 'kid', run: (c, p) => orderPost(c, p, id) }) },
    { pattern: new RegExp(`^/order/${SEGMENT}/finalize$`), route: (id) => ({ keyMode: 'kid', run: (c, p) => finalizeOrder(c, p, id) }) },
    { pattern: new RegExp(`^/authz/${SEGMENT}$`), route: (id) => ({ keyMode: 'kid', run: (c, p) => authorizationPost(c, p, id) }) },
    { pattern: new RegExp(`^/chall/${SEGMENT}$`), route: (id) => ({ keyMode: 'kid', run: (c, p) => challengePost(c, p, id) }) },
    { pattern: /^\/cert\/([0-9a-f]{2,40})$/, route: (serial) => ({ keyMode: 'kid', run: (c, p) => downloadCertificate(c, p, serial) }) },
  ];

  function findPost(path: string): PostRoute | undefined {
    const exact = exactPosts.get(path);
    if (exact !== undefined) return exact;
    for (const { pattern, route } of patternPosts) {
      const match = pattern.exec(path);
      if (match?.[1] !== undefined) return route(match[1]);
    }
    return undefined;
  }

  async function route(request: AcmeHttpRequest): Promise<AcmeReply> {
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

  function respond(request: AcmeHttpRequest, reply: AcmeReply): AcmeHttpResponse {
    const headers: Record<string, string | readonly string[]> = {
      'replay-nonce': ctx.nonces.issue(deps.clock.now()),
      link: [`<${ctx.urls.directory}>;rel="index"`, ...(reply.links ?? [])],
      'cache-control': 'no-store',
    };
    if (reply.location !== undefined) headers['location'] = reply.location;
    if (reply.retryAfterSeconds !== undefined) headers['retry-after'] = String(reply.retryAfterSeconds);
    if (reply.body !== undefined) headers['content-type'] = reply.contentType ?? 'application/json';
    // HEAD carries the headers of GET and no body.
    return { status: reply.status, headers, ...(reply.body === undefined || request.method === 'HEAD' ? {} : { body: reply.body }) };
  }

  function respondProblem(request: AcmeHttpRequest, error: unknown): AcmeHttpResponse {
    let problem = toAcmeProblem(error);
    if (problem === undefined) {
      try {
        deps.onInternalError?.(error, { method: request.method, path: request.path.slice(0, 256) });
      } catch {
        // Reporting must not turn into an unanswered request.
      }
      problem = INTERNAL_PROBLEM;
    }
    const response = respond(request, {
      status: problem.status,
      body: problemDocument(problem),
      contentType: 'application/problem+json',
      ...(problem.options.retryAfterSeconds === undefined ? {} : { retryAfterSeconds: problem.options.retryAfterSeconds }),
    });
    return { ...response, headers: { ...response.headers, ...(problem.options.headers ?? {}) } };
  }

  return {
    async handle(request: AcmeHttpRequest): Promise<AcmeHttpResponse> {
      try {
        await resumed;
        return respond(request, await route(request));
      } catch (error) {
        try {
          return respondProblem(request, error);
        } catch {
          // Only a broken clock or random source gets here; still answer.
          return { status: 500, headers: { 'content-type': 'application/problem+json' }, body: problemDocument(INTERNAL_PROBLEM) };
        }
      }
    },
    ready: () => resumed,
    settled: async () => {
      await resumed;
      await ctx.validations.settled();
    },
    get validationLoad(): SchedulerLoad {
      return ctx.validations.load;
    },
  };
}

/** The scheduler's caps: each one given, or its default (a per-account default never above the global cap given). */
function validationLimits(given: AcmeValidationLimits): SchedulerLimits {
  const maxInFlight = given.maxInFlight ?? DEFAULT_VALIDATION_LIMITS.maxInFlight;
  const maxQueued = given.maxQueued ?? DEFAULT_VALIDATION_LIMITS.maxQueued;
  return {
    maxInFlight,
    maxInFlightPerAccount: given.maxInFlightPerAccount ?? Math.min(DEFAULT_VALIDATION_LIMITS.maxInFlightPerAccount, maxInFlight),
    maxQueued,
    maxQueuedPerAccount: given.maxQueuedPerAccount ?? Math.min(DEFAULT_VALIDATION_LIMITS.maxQueuedPerAccount, maxQueued),
  };
}

function requireMethod(request: AcmeHttpRequest, allowed: readonly AcmeHttpRequest['method'][]): void {
  if (!allowed.includes(request.method)) {
    throw new AcmeProblemError('malformed', `${request.method} is not allowed here; use ${allowed.join(' or ')}`, {
      status: 405,
      headers: { allow: allowed.join(', ') },
    });
  }
}
