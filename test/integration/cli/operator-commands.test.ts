import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { openSvid, type Core } from '../../../src/cli/compose.js';
import type { ProcessResult } from '../../helpers/processes.js';
import { oneDocument, startCliStack, type CliStack, type HttpsClient } from './cli-fixtures.js';

/**
 * `keysmith tokens create|list|revoke`, `keysmith acme eab create|list|revoke`
 * and `keysmith entries list`: the built CLI as a child process on a real
 * data directory. JSON is checked with strict schemas (no field more: no token
 * hash, no HMAC key in a listing) and exact values; revocations take effect
 * where they matter (a revoked token attests nothing).
 */

const Timestamp = z.iso.datetime();
const TokenJson = z.strictObject({
  id: z.string().regex(/^jt-[0-9a-f]{18}$/),
  spiffe_id: z.string(),
  status: z.enum(['unused', 'used', 'expired', 'revoked']),
  created_at: Timestamp,
  created_by: z.string(),
  expires_at: Timestamp,
  used_at: Timestamp.nullable(),
  used_by_serial: z.string().nullable(),
  revoked_at: Timestamp.nullable(),
});
const CreatedTokenJson = TokenJson.extend({ token: z.string().regex(/^[A-Za-z0-9_-]{43}$/) });
const EabJson = z.strictObject({
  key_id: z.string(),
  status: z.enum(['unbound', 'bound', 'revoked']),
  created_at: Timestamp,
  created_by: z.string(),
  bound_account: z.string().nullable(),
  bound_at: Timestamp.nullable(),
  revoked_at: Timestamp.nullable(),
});
const CreatedEabJson = EabJson.extend({ hmac_key: z.string().regex(/^[A-Za-z0-9_-]{43}$/) });
const EntryJson = z.strictObject({
  id: z.string(),
  spiffe_id: z.string(),
  parent_id: z.string(),
  x509_ttl: z.number().int(),
  jwt_ttl: z.number().int(),
  dns_names: z.array(z.string()),
  admin: z.boolean(),
  expires_at: Timestamp.nullable(),
  created_at: Timestamp,
  updated_at: Timestamp,
  created_by: z.string(),
});

const TD = 'keysmith.local';
const NODE = `spiffe://${TD}/node/web-1`;

describe('keysmith tokens, acme eab and entries listings', () => {
  let stack: CliStack;
  let dataDir: string;
  let core: Core;
  let api: HttpsClient;
  let keysmith: (args: readonly string[]) => Promise<ProcessResult>;

  before(async () => {
    stack = await startCliStack('keysmith-cli-ops-');
    ({ dataDir, core, api, keysmith } = stack);
  });

  after(async () => {
    await stack.close();
  });

  it('tokens: create shows the token once; list shows id and status, never the token or its hash; revoke makes it unusable', async () => {
    const created = oneDocument(
      z.strictObject({ tokens: z.array(CreatedTokenJson).length(1) }),
      await keysmith(['tokens', 'create', '--spiffe-id', NODE, '--ttl', '30m', '--json']),
    );
    const [token] = created.tokens;
    assert.ok(token !== undefined);
    assert.equal(token.spiffe_id, NODE);
    assert.equal(token.status, 'unused');
    assert.equal(token.created_by, 'cli:tester');
    assert.equal(Date.parse(token.expires_at) - Date.parse(token.created_at), 30 * 60_000);
    const hash = createHash('sha256').update(token.token).digest('hex');

    const second = oneDocument(
      z.strictObject({ tokens: z.array(CreatedTokenJson).length(1) }),
      await keysmith(['tokens', 'create', '--spiffe-id', `spiffe://${TD}/node/web-2`, '--json']),
    );
    const listed = await keysmith(['tokens', 'list', '--json']);
    assert.ok(!listed.stdout.includes(hash) && !listed.stdout.includes(token.token), 'no token, no hash');
    const document = oneDocument(z.strictObject({ tokens: z.array(TokenJson), next_cursor: z.string().nullable() }), listed);
    const withoutSecret = ({ token: _secret, ...rest }: z.infer<typeof CreatedTokenJson>): z.infer<typeof TokenJson> => rest;
    assert.ok(second.tokens[0] !== undefined);
    assert.deepEqual(document, { tokens: [withoutSecret(token), withoutSecret(second.tokens[0])], next_cursor: null });

    const revoked = oneDocument(
      z.strictObject({ tokens: z.array(TokenJson).length(1) }),
      await keysmith(['tokens', 'revoke', token.id, '--json']),
    );
    assert.equal(revoked.tokens[0]?.status, 'revoked');
    assert.equal(revoked.tokens[0]?.id, token.id);
    assert.ok(revoked.tokens[0]?.revoked_at !== null);

    const human = await keysmith(['tokens', 'list', '--status', 'revoked']);
    assert.equal(human.code, 0, human.stderr);
    assert.match(
      human.stdout,
      new RegExp(
        `^ID\\s+STATUS\\s+CREATED\\s+EXPIRES\\s+LEFT\\s+CREATED BY\\s+NODE\\n${token.id}\\s+revoked\\s+\\S+\\s+\\S+\\s+-\\s+cli:tester\\s+${NODE}\\n$`,
      ),
    );
    const unused = await keysmith(['tokens', 'list', '--status', 'unused']);
    assert.match(unused.stdout, new RegExp(`^${second.tokens[0]?.id ?? 'x'}\\s+unused\\s+\\S+\\s+\\S+\\s+(9|10)m\\s+`, 'm'));

    // Revoked: the SVID service the attestation route calls refuses it, with a good CSR, and issues nothing.
    const csrDir = join(dataDir, 'csr');
    await mkdir(csrDir);
    execFileSync(
      'openssl',
      [
        'req',
        '-new',
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:P-256',
        '-nodes',
        '-keyout',
        join(csrDir, 'k.pem'),
        '-subj',
        '/CN=web-1',
        '-out',
        join(csrDir, 'r.csr'),
      ],
      {
        stdio: 'ignore',
        timeout: 10_000,
      },
    );
    const svid = await openSvid(core);
    await assert.rejects(svid.attestJoinToken({ token: token.token, csr: await readFile(join(csrDir, 'r.csr'), 'utf8') }, '192.0.2.9'), {
      kind: 'unauthorized',
      detail: 'join token has been revoked',
    });
    assert.equal((await core.repositories.joinTokens.find(hash))?.usedAt, null);
    const again = await keysmith(['tokens', 'revoke', token.id]);
    assert.equal(again.code, 1);
    assert.equal(again.stderr, `keysmith tokens revoke: join token ${token.id} is already revoked\n`);
    const unknown = await keysmith(['tokens', 'revoke', 'jt-000000000000000000']);
    assert.equal(unknown.code, 1);
    assert.equal(unknown.stderr, 'keysmith tokens revoke: no join token jt-000000000000000000\n');
  });

  it('acme eab: create shows the HMAC key once; list never; revoke marks it and says so', async () => {
    const created = oneDocument(
      z.strictObject({ eab_keys: z.array(CreatedEabJson).length(1) }),
      await keysmith(['acme', 'eab', 'create', '--json']),
    );
    const [key] = created.eab_keys;
    assert.ok(key !== undefined);
    assert.equal(key.status, 'unbound');
    assert.equal(key.created_by, 'cli:tester');
    const listed = await keysmith(['acme', 'eab', 'list', '--json']);
    assert.ok(!listed.stdout.includes(key.hmac_key));
    const document = oneDocument(z.strictObject({ eab_keys: z.array(EabJson), next_cursor: z.string().nullable() }), listed);
    const { hmac_key: _secret, ...summary } = key;
    assert.deepEqual(document, { eab_keys: [summary], next_cursor: null });

    const revoked = await keysmith(['acme', 'eab', 'revoke', key.key_id]);
    assert.equal(revoked.code, 0, revoked.stderr);
    assert.equal(revoked.stdout, `revoked ${key.key_id}\n`);
    const after = oneDocument(
      z.strictObject({ eab_keys: z.array(EabJson), next_cursor: z.null() }),
      await keysmith(['acme', 'eab', 'list', '--status', 'revoked', '--json']),
    );
    assert.equal(after.eab_keys.length, 1);
    assert.equal(after.eab_keys[0]?.status, 'revoked');
    assert.equal((await core.repositories.acme.eabKeys.findEabKey(key.key_id))?.revokedAt, Date.parse(after.eab_keys[0]?.revoked_at ?? ''));
    const none = oneDocument(
      z.strictObject({ eab_keys: z.array(EabJson), next_cursor: z.null() }),
      await keysmith(['acme', 'eab', 'list', '--status', 'unbound', '--json']),
    );
    assert.deepEqual(none.eab_keys, []);
  });

  it("entries list pages past 500 entries: --all --json is one document equal to the API's listing", async () => {
    const svid = await openSvid(core);
    for (let i = 0; i < 520; i++) await svid.createEntry('cli:seed', { spiffeId: `spiffe://${TD}/app/a${i}`, parentId: NODE });
    const document = oneDocument(
      z.strictObject({ entries: z.array(EntryJson), next_cursor: z.null() }),
      await keysmith(['entries', 'list', '--all', '--json']),
    );
    assert.equal(document.entries.length, 520);
    const fromApi: unknown[] = [];
    let cursor: string | null = null;
    do {
      const reply = await api.get(`/v1/entries?limit=500${cursor === null ? '' : `&cursor=${cursor}`}`);
      const page = z.strictObject({ items: z.array(EntryJson), next_cursor: z.string().nullable() }).parse(JSON.parse(reply.body));
      fromApi.push(...page.items);
      cursor = page.next_cursor;
    } while (cursor !== null);
    assert.deepEqual(document.entries, fromApi);

    const first = oneDocument(
      z.strictObject({ entries: z.array(EntryJson), next_cursor: z.string() }),
      await keysmith(['entries', 'list', '--limit', '500', '--json']),
    );
    assert.equal(first.entries.length, 500);
    const rest = oneDocument(
      z.strictObject({ entries: z.array(EntryJson), next_cursor: z.null() }),
      await keysmith(['entries', 'list', '--cursor', first.next_cursor, '--json']),
    );
    assert.deepEqual([...first.entries, ...rest.entries], document.entries);
    const human = await keysmith(['entries', 'list', '--all']);
    assert.equal(human.stdout.trimEnd().split('\n').length, 520);
  });
});
