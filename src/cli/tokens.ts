/**
 * `keysmith tokens create|list|revoke`: one-time join tokens for nodes,
 * offline on the data directory. Only a token's hash is stored; the token is
 * printed once, by create. Listings name a token by its id ('jt-...'), never
 * by its hash: the hash identifies a live credential. The JSON form is the
 * HTTP API's (`tokenWire`, GET/POST /v1/join-tokens).
 */
import { JOIN_TOKEN_STATUSES, joinTokenStatus, type JoinTokenStatus, type JoinTokenSummary } from '../domain/entries.js';
import { tokenWire } from '../http/index.js';
import { durationOption, requireOption, stringOption, UsageError, type Command } from './args.js';
import { withSvid } from './entries.js';
import { cliActor, onePositional, withCore } from './offline.js';
import { formatTimeLeft, LISTING_OPTIONS, pagingOf, printListing, printRecords, shortTime } from './listing.js';

const DEFAULT_TTL_MS = 10 * 60_000;

export const tokensCreateCommand: Command = {
  name: 'tokens create',
  summary: 'create a one-time join token for a node (prints only the token)',
  usage: 'keysmith tokens create --spiffe-id spiffe://<trust domain>/node/<name> [--ttl 10m] [--json]',
  options: {
    'spiffe-id': {
      type: 'string',
      value: 'ID',
      help: 'the node identity the token attests: spiffe://<trust domain>/node/<name> (required)',
    },
    ttl: { type: 'string', value: 'DURATION', default: '10m', help: 'how long the token can be used, 1m to 7d' },
    json: { type: 'boolean', help: 'print {"tokens":[...]}: the token (shown this once) with its id, status and times' },
  },
  example: 'keysmith tokens create --spiffe-id spiffe://keysmith.local/node/web-1 --ttl 30m',
  async run(parsed) {
    const spiffeId = requireOption(parsed, 'spiffe-id');
    const ttlMs = durationOption(parsed, 'ttl') ?? DEFAULT_TTL_MS;
    if (ttlMs <= 0) throw new UsageError('--ttl: expected a positive duration');
    const created = await withSvid(parsed, (svid) => svid.createJoinToken(cliActor(), spiffeId, ttlMs));
    if (parsed.values['json'] === true) {
      const summary: JoinTokenSummary = { ...created, usedAt: null, usedBySerial: null, revokedAt: null };
      printRecords('tokens', [{ ...tokenWire(summary, created.createdAt), token: created.token }]);
    } else {
      console.log(created.token);
    }
    return 0;
  },
};

export const tokensListCommand: Command = {
  name: 'tokens list',
  summary: 'list join tokens: id, node, status and times (never the token or its hash)',
  usage: 'keysmith tokens list [--status unused|used|expired|revoked] [--spiffe-id ID] [--limit N] [--cursor C | --all] [--json]',
  options: {
    status: { type: 'string', value: JOIN_TOKEN_STATUSES.join('|'), help: 'only tokens in this state now' },
    'spiffe-id': { type: 'string', value: 'ID', help: 'only tokens for this node identity' },
    ...LISTING_OPTIONS,
  },
  example: 'keysmith tokens list --status unused --json',
  async run(parsed) {
    const statusText = stringOption(parsed, 'status');
    const status: JoinTokenStatus | undefined = JOIN_TOKEN_STATUSES.find((s) => s === statusText);
    if (statusText !== undefined && status === undefined)
      throw new UsageError(`--status: expected one of ${JOIN_TOKEN_STATUSES.join(', ')}, got '${statusText}'`);
    const spiffeId = stringOption(parsed, 'spiffe-id');
    const paging = pagingOf(parsed);
    await withCore(parsed, async (core) => {
      const now = core.clock.now();
      await printListing(
        {
          key: 'tokens',
          fetch: async (cursor, limit) =>
            core.repositories.joinTokens.list({
              now,
              limit,
              ...(status === undefined ? {} : { status }),
              ...(spiffeId === undefined ? {} : { spiffeId }),
              ...(cursor === undefined ? {} : { cursor }),
            }),
          toJson: (token) => tokenWire(token, now),
          header: ['ID', 'STATUS', 'CREATED', 'EXPIRES', 'LEFT', 'CREATED BY', 'NODE'],
          toRow: (token) => {
            const tokenStatus = joinTokenStatus(token, now);
            return [
              token.id,
              tokenStatus,
              shortTime(token.createdAt),
              shortTime(token.expiresAt),
              tokenStatus === 'unused' ? formatTimeLeft(token.expiresAt, now) : '-',
              token.createdBy,
              token.spiffeId,
            ];
          },
          empty: '(no tokens match)',
        },
        paging,
        parsed.values['json'] === true,
      );
    });
    return 0;
  },
};

export const tokensRevokeCommand: Command = {
  name: 'tokens revoke',
  summary: 'revoke an unused join token by id: it can no longer attest a node',
  usage: 'keysmith tokens revoke ID [--json]',
  options: { json: { type: 'boolean', help: 'print {"tokens":[...]} with the revoked token' } },
  example: 'keysmith tokens revoke jt-5c0f3e9a1b2d4c6e8f',
  allowPositionals: true,
  async run(parsed) {
    const id = onePositional(parsed, 'token ID (as tokens list shows it)');
    await withCore(parsed, async (core) => {
      const now = core.clock.now();
      const revoked = await core.repositories.joinTokens.revoke(id, now);
      if (parsed.values['json'] === true) printRecords('tokens', [tokenWire(revoked, now)]);
      else console.log(`revoked ${revoked.id} (${revoked.spiffeId})`);
    });
    return 0;
  },
};
