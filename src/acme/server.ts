/**
 * The ACME server (RFC 8555): routes each request on method and path, runs
 * the POST checks, calls one handler, and dresses every answer with a fresh
 * Replay-Nonce and the directory Link. `handle` never throws.
 */
import { RateLimiter, type RateLimit } from '../shared/rate-limit.js';
import { AccountKeyCache } from './account-keys.js';
import { resumeInterrupted } from './challenges.js';
import type { AcmeContext } from './context.js';
import { DEFAULT_VALIDATION_LIMITS, ValidationRunner } from './validation-runner.js';
import { IdentifierPolicy } from './identifiers.js';
import { NonceStore } from './nonces.js';
import { pooledRandom } from '../shared/random.js';
import type { AcmeServerDeps, AcmeValidationLimits } from './ports.js';
import type { SchedulerLimits, SchedulerLoad } from './validation/scheduler.js';
import { INTERNAL_PROBLEM, problemDocument } from './problems.js';
import { respond, respondProblem } from './responses.js';
import { routeRequest } from './router.js';
import type { AcmeHandler, AcmeHttpRequest, AcmeHttpResponse } from './transport.js';
import { AcmeUrls } from './wire.js';

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

  return {
    async handle(request: AcmeHttpRequest): Promise<AcmeHttpResponse> {
      try {
        await resumed;
        return respond(ctx, request, await routeRequest(ctx, request));
      } catch (error) {
        try {
          return respondProblem(ctx, request, error);
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
