import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { z } from 'zod';
import type { Core } from '../../../src/cli/compose.js';
import type { NewCertificateRecord } from '../../../src/domain/certificates.js';
import type { ProcessResult } from '../../helpers/processes.js';
import {
  CertificateJson,
  CertificateListJson,
  DAY,
  HOUR,
  MINUTE,
  oneDocument,
  startCliStack,
  tlsRecord,
  type CliStack,
  type HttpsClient,
} from './cli-fixtures.js';

/**
 * `keysmith certs list|issue|revoke` against a ledger of more than 1,000
 * certificates, the built CLI as a child process next to the real service
 * (in-process, over our TLS) on the same data directory: one JSON document
 * per call that matches the HTTP API's records exactly, keyset pages of at
 * most 500 (--limit, --cursor), --all streaming every page, and expiry shown
 * honestly (status expired, time left in hours and minutes below a day).
 */

const SEEDED = 1_100;
const ApiPage = z.strictObject({ items: z.array(CertificateJson), next_cursor: z.string().nullable() });

describe('keysmith certs list over 1,100+ certificates', () => {
  let stack: CliStack;
  let dataDir: string;
  let core: Core;
  let api: HttpsClient;
  let keysmith: (args: readonly string[]) => Promise<ProcessResult>;
  let total: number;
  let expired: NewCertificateRecord[];
  let revoked: NewCertificateRecord[];
  let soon: NewCertificateRecord;

  before(async () => {
    stack = await startCliStack('keysmith-cli-certs-');
    ({ dataDir, core, api, keysmith } = stack);

    const now = Date.now();
    const bulk = Array.from({ length: SEEDED }, (_, i) => tlsRecord(`host${i}.example.org`, now - DAY + i, now + 30 * DAY + i * MINUTE));
    // Stored valid, past notAfter: listed as expired.
    expired = [3, 1, 2].map((d) => tlsRecord(`old${d}.example.org`, now - 10 * DAY, now - d * DAY));
    revoked = [tlsRecord('gone1.example.org', now - 2 * DAY, now + 5 * DAY), tlsRecord('gone2.example.org', now - 2 * DAY, now - DAY)];
    soon = tlsRecord('soon.example.org', now - 89 * DAY, now + 5 * HOUR + 7 * MINUTE + 30_000);
    await core.repositories.certificates.recordIssuedMany([...bulk, ...expired, ...revoked, soon]);
    for (const r of revoked) await core.repositories.certificates.revoke(r.serial, 'superseded', now - HOUR);
    total = await core.repositories.certificates.count();
    assert.ok(total > SEEDED + 6, `the CA's own certificates are listed too (${total})`);
  });

  after(async () => {
    await stack.close();
  });

  /** Every certificate through the HTTP API, page by page. */
  async function apiListing(query: string): Promise<CertificateJson[]> {
    const items: CertificateJson[] = [];
    let cursor: string | null = null;
    do {
      const reply = await api.get(`/v1/certificates?limit=500${query}${cursor === null ? '' : `&cursor=${cursor}`}`);
      assert.equal(reply.status, 200, reply.body);
      const page = ApiPage.parse(JSON.parse(reply.body));
      items.push(...page.items);
      cursor = page.next_cursor;
    } while (cursor !== null);
    return items;
  }

  it('--all --json is one document holding every certificate once, exactly as the HTTP API shows each', async () => {
    const document = oneDocument(CertificateListJson, await keysmith(['certs', 'list', '--all', '--json']));
    assert.equal(document.next_cursor, null);
    assert.equal(document.certificates.length, total);
    assert.equal(new Set(document.certificates.map((c) => c.serial)).size, total);
    assert.deepEqual(document.certificates, await apiListing(''));
    const first = document.certificates.find((c) => c.serial === soon.serial);
    assert.deepEqual(first, {
      serial: soon.serial,
      subject: 'CN=soon.example.org',
      issuer: 'O=keysmith, CN=test intermediate',
      spiffe_id: null,
      dns_names: ['soon.example.org'],
      profile: 'tls-server',
      requester: 'cli:seed',
      not_before: new Date(soon.notBefore).toISOString(),
      not_after: new Date(soon.notAfter).toISOString(),
      status: 'valid',
      revoked_at: null,
      revocation_reason: null,
      fingerprint: soon.fingerprint,
    });
  });

  it('--limit 500 and --cursor walk the same listing in pages of 500, the last with next_cursor null', async () => {
    const whole = oneDocument(CertificateListJson, await keysmith(['certs', 'list', '--all', '--json'])).certificates.map((c) => c.serial);
    const serials: string[] = [];
    const sizes: number[] = [];
    let cursor: string | null = null;
    for (let page = 0; page < 10; page++) {
      const args: string[] = ['certs', 'list', '--limit', '500', '--json', ...(cursor === null ? [] : ['--cursor', cursor])];
      const document: z.infer<typeof CertificateListJson> = oneDocument(CertificateListJson, await keysmith(args));
      sizes.push(document.certificates.length);
      serials.push(...document.certificates.map((c) => c.serial));
      cursor = document.next_cursor;
      if (cursor === null) break;
    }
    assert.deepEqual(sizes, [500, 500, total - 1_000]);
    assert.deepEqual(serials, whole);
  });

  it('prints a table row by row: one header, one line per certificate, and tells how to get the next page', async () => {
    const all = await keysmith(['certs', 'list', '--all']);
    assert.equal(all.code, 0, all.stderr);
    const lines = all.stdout.trimEnd().split('\n');
    assert.equal(lines.length, total + 1);
    assert.match(lines[0] ?? '', /^SERIAL\s+PROFILE\s+STATUS\s+NOT AFTER\s+LEFT\s+IDENTITY$/);
    assert.equal(lines.filter((line) => line.startsWith('SERIAL')).length, 1);
    assert.equal(all.stderr, '');

    const one = await keysmith(['certs', 'list', '--limit', '500']);
    assert.equal(one.code, 0, one.stderr);
    assert.equal(one.stdout.trimEnd().split('\n').length, 501);
    assert.match(one.stderr, /^\(more: add --cursor [A-Za-z0-9_-]+, or --all for every page\)\n$/);
  });

  it('lists status expired (longest expired first) and valid without them, as the API does', async () => {
    const expiredDoc = oneDocument(CertificateListJson, await keysmith(['certs', 'list', '--status', 'expired', '--json']));
    const byNotAfter = [...expired].sort((a, b) => a.notAfter - b.notAfter).map((c) => c.serial);
    assert.deepEqual(
      expiredDoc.certificates.map((c) => c.serial),
      byNotAfter,
    );
    for (const c of expiredDoc.certificates) assert.equal(c.status, 'expired');
    assert.deepEqual(expiredDoc.certificates, await apiListing('&status=expired'));

    const valid = oneDocument(CertificateListJson, await keysmith(['certs', 'list', '--status', 'valid', '--all', '--json']));
    assert.equal(valid.certificates.length, total - expired.length - revoked.length);
    for (const c of valid.certificates) assert.equal(c.status, 'valid');
    const revokedDoc = oneDocument(CertificateListJson, await keysmith(['certs', 'list', '--status', 'revoked', '--json']));
    assert.deepEqual(new Set(revokedDoc.certificates.map((c) => c.serial)), new Set(revoked.map((c) => c.serial)));
    // Revoked wins over expired: gone2 is past notAfter, and still listed as revoked.
    for (const c of revokedDoc.certificates) assert.equal(c.status, 'revoked');
  });

  it('shows time left in hours and minutes below a day, and expired certificates as expired', async () => {
    const soonRow = await keysmith(['certs', 'list', '--dns', 'soon.example.org']);
    assert.equal(soonRow.code, 0, soonRow.stderr);
    assert.match(soonRow.stdout, new RegExp(`^${soon.serial}\\s+tls-server\\s+valid\\s+\\S+\\s+5h07m\\s+soon\\.example\\.org$`, 'm'));
    const oldRow = await keysmith(['certs', 'list', '--dns', 'old1.example.org']);
    assert.match(oldRow.stdout, /^\w+\s+tls-server\s+expired\s+\S+\s+-\s+old1\.example\.org$/m);
    const farRow = await keysmith(['certs', 'list', '--dns', 'host0.example.org']);
    assert.match(farRow.stdout, /\s+(29|30)d\s+host0\.example\.org$/m);
  });

  it('refuses a limit above 500, an unknown status and a foreign cursor with exit code 2 or 1 and a clear message', async () => {
    const big = await keysmith(['certs', 'list', '--limit', '501']);
    assert.equal(big.code, 2);
    assert.match(big.stderr, /^keysmith certs list: --limit: expected 1\.\.500, got '501'$/m);
    const status = await keysmith(['certs', 'list', '--status', 'gone']);
    assert.equal(status.code, 2);
    assert.match(status.stderr, /--status: expected one of valid, expired, revoked, got 'gone'/);
    const cursor = await keysmith(['certs', 'list', '--cursor', 'bm90LWEtY3Vyc29y']);
    assert.equal(cursor.code, 1);
    assert.match(cursor.stderr, /^keysmith certs list: cursor is not one this listing handed out$/m);
  });

  it('issue --json and revoke --json print one document with the certificate as the API shows it', async () => {
    const out = join(dataDir, 'issued');
    const issued = oneDocument(
      z.strictObject({ certificates: z.array(CertificateJson).length(1), cert_file: z.string(), key_file: z.string() }),
      await keysmith(['issue', '--dns', 'fresh.example.org', '--ttl', '12h', '--out', out, '--json']),
    );
    assert.equal(issued.cert_file, join(out, 'cert.pem'));
    assert.equal(issued.key_file, join(out, 'key.pem'));
    const [certificate] = issued.certificates;
    assert.ok(certificate !== undefined);
    assert.equal(certificate.status, 'valid');
    assert.deepEqual(certificate.dns_names, ['fresh.example.org']);
    assert.equal(certificate.requester, 'cli:tester');
    assert.equal(Date.parse(certificate.not_after) - Date.parse(certificate.not_before) >= 12 * HOUR, true);
    const fromApi = await api.get(`/v1/certificates/${certificate.serial}`);
    assert.deepEqual(CertificateJson.parse(JSON.parse(fromApi.body)), certificate);

    const revokedDoc = oneDocument(
      z.strictObject({ certificates: z.array(CertificateJson).length(1) }),
      await keysmith(['revoke', certificate.serial, '--reason', 'keyCompromise', '--json']),
    );
    const [after] = revokedDoc.certificates;
    assert.equal(after?.status, 'revoked');
    assert.equal(after?.revocation_reason, 'keyCompromise');
    assert.deepEqual(CertificateJson.parse(JSON.parse((await api.get(`/v1/certificates/${certificate.serial}`)).body)), after);
  });
});
