/**
 * `keysmith tokens create`: a one-time join token for a node, offline on
 * the data directory. Only the token's hash is stored; the token is printed
 * once, alone on stdout, so a script can capture it.
 */
import { durationOption, requireOption, UsageError, type Command } from './args.js';
import { cliActor, withSvid } from './entries.js';

const DEFAULT_TTL_MS = 10 * 60_000;

export const tokensCreateCommand: Command = {
  name: 'tokens create',
  summary: 'create a one-time join token for a node (prints only the token)',
  usage: 'keysmith tokens create --spiffe-id spiffe://<trust domain>/node/<name> [--ttl 10m] [--json]',
  options: { 'spiffe-id': { type: 'string' }, ttl: { type: 'string' }, json: { type: 'boolean' } },
  async run(parsed) {
    const spiffeId = requireOption(parsed, 'spiffe-id');
    const ttlMs = durationOption(parsed, 'ttl') ?? DEFAULT_TTL_MS;
    if (ttlMs <= 0) throw new UsageError('--ttl: expected a positive duration');
    const created = await withSvid(parsed, (svid) => svid.createJoinToken(cliActor(), spiffeId, ttlMs));
    if (parsed.values['json'] === true) {
      console.log(JSON.stringify({ token: created.token, spiffe_id: created.spiffeId, expires_at: new Date(created.expiresAt).toISOString() }));
    } else {
      console.log(created.token);
    }
    return 0;
  },
};
