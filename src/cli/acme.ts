/**
 * `keysmith acme eab create|list|revoke`: External Account Binding keys
 * (RFC 8555 §7.3.4), offline on the data directory like `keysmith issue`
 * (safe while serve runs: one ledger statement each). The HMAC key is printed
 * once, by create; listings never read it. The ACME server itself is composed
 * in compose.ts (composeAcme).
 */
import { createEabKey } from '../acme/index.js';
import { EAB_KEY_STATUSES, eabKeyStatus, type AcmeEabKeySummary, type EabKeyStatus } from '../domain/acme.js';
import { stringOption, UsageError, type Command } from './args.js';
import { cliActor, onePositional, withCore } from './offline.js';
import { isoTimeOrNull } from '../shared/iso-time.js';
import { LISTING_OPTIONS, pagingOf, printListing, printRecords, shortTime } from './listing.js';

/** An EAB key as `--json` shows it (no HTTP API has it; snake_case and RFC 3339 times as the API writes them). */
export function eabKeyWire(key: AcmeEabKeySummary) {
  return {
    key_id: key.keyId,
    status: eabKeyStatus(key),
    created_at: new Date(key.createdAt).toISOString(),
    created_by: key.createdBy,
    bound_account: key.boundAccount,
    bound_at: isoTimeOrNull(key.boundAt),
    revoked_at: isoTimeOrNull(key.revokedAt),
  };
}

export const acmeEabCreateCommand: Command = {
  name: 'acme eab create',
  summary: 'create an ACME External Account Binding key: prints the key id and the base64url HMAC key',
  usage: 'keysmith acme eab create [--json]',
  options: { json: { type: 'boolean', help: 'print {"eab_keys":[...]} with key_id and hmac_key (shown this once)' } },
  example: 'keysmith acme eab create --json',
  async run(parsed) {
    await withCore(parsed, async (core) => {
      const createdBy = cliActor();
      const createdAt = core.clock.now();
      const { keyId, hmacKey } = await createEabKey(core.repositories.acme.eabKeys, { now: () => createdAt }, createdBy);
      // Shown once, to the operator who asked; never logged.
      if (parsed.values['json'] === true) {
        const summary: AcmeEabKeySummary = { keyId, createdAt, createdBy, boundAccount: null, boundAt: null, revokedAt: null };
        printRecords('eab_keys', [{ ...eabKeyWire(summary), hmac_key: hmacKey }]);
      } else {
        console.log(`key id:   ${keyId}`);
        console.log(`hmac key: ${hmacKey}`);
        console.log(`\ncertbot: --eab-kid ${keyId} --eab-hmac-key=<hmac key>   lego: --eab --kid ${keyId} --hmac <hmac key>`);
      }
    });
    return 0;
  },
};

export const acmeEabListCommand: Command = {
  name: 'acme eab list',
  summary: 'list EAB keys: id, status, who made them, the account each bound (never the HMAC key)',
  usage: 'keysmith acme eab list [--status unbound|bound|revoked] [--limit N] [--cursor C | --all] [--json]',
  options: {
    status: { type: 'string', value: EAB_KEY_STATUSES.join('|'), help: 'only keys in this state' },
    ...LISTING_OPTIONS,
  },
  example: 'keysmith acme eab list --status unbound',
  async run(parsed) {
    const statusText = stringOption(parsed, 'status');
    const status: EabKeyStatus | undefined = EAB_KEY_STATUSES.find((s) => s === statusText);
    if (statusText !== undefined && status === undefined)
      throw new UsageError(`--status: expected one of ${EAB_KEY_STATUSES.join(', ')}, got '${statusText}'`);
    const paging = pagingOf(parsed);
    await withCore(parsed, async (core) => {
      await printListing(
        {
          key: 'eab_keys',
          fetch: async (cursor, limit) =>
            core.repositories.acme.eabKeys.listEabKeys({
              limit,
              ...(status === undefined ? {} : { status }),
              ...(cursor === undefined ? {} : { cursor }),
            }),
          toJson: eabKeyWire,
          header: ['KEY ID', 'STATUS', 'CREATED', 'CREATED BY', 'BOUND AT', 'ACCOUNT'],
          toRow: (key) => [
            key.keyId,
            eabKeyStatus(key),
            shortTime(key.createdAt),
            key.createdBy,
            key.boundAt === null ? '-' : shortTime(key.boundAt),
            key.boundAccount ?? '-',
          ],
          empty: '(no EAB keys match)',
        },
        paging,
        parsed.values['json'] === true,
      );
    });
    return 0;
  },
};

export const acmeEabRevokeCommand: Command = {
  name: 'acme eab revoke',
  summary: 'revoke an EAB key: no new ACME account can bind with it (an account it already bound stays)',
  usage: 'keysmith acme eab revoke KEY_ID [--json]',
  options: { json: { type: 'boolean', help: 'print {"eab_keys":[...]} with the revoked key' } },
  example: 'keysmith acme eab revoke eab-Q2xQ5m0n8b3Vx1Zk',
  allowPositionals: true,
  async run(parsed) {
    const keyId = onePositional(parsed, 'KEY_ID (as acme eab list shows it)');
    await withCore(parsed, async (core) => {
      const revoked = await core.repositories.acme.eabKeys.revokeEabKey(keyId, core.clock.now());
      if (parsed.values['json'] === true) {
        printRecords('eab_keys', [eabKeyWire(revoked)]);
        return;
      }
      console.log(`revoked ${revoked.keyId}`);
      if (revoked.boundAccount !== null) {
        console.log(
          `it had bound ACME account ${revoked.boundAccount}, which stays valid: deactivate that account through ACME if it must go too`,
        );
      }
    });
    return 0;
  },
};
