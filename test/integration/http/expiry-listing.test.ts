import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openCore, type Core } from '../../../src/cli/compose.js';
import { startServer, type RunningServer } from '../../../src/cli/serve.js';
import type { NewCertificateRecord } from '../../../src/domain/certificates.js';
import { fileURLToPath } from 'node:url';
import { exchange } from '../../helpers/exchange.js';
import { runProcess } from '../../helpers/processes.js';
import { inProcessConfig } from '../../helpers/service-config.js';

const MAIN = fileURLToPath(new URL('../../../src/cli/main.js', import.meta.url));

/**
 * Expiry views for humans, through the route: GET /v1/certificates?expiring_within=7d
 * lists what needs a person (no SVIDs but those whose SPIFFE ID stopped
 * renewing); include=all lists every valid certificate. The real service
 * in-process (openCore + startServer) on a fresh data directory, over our TLS,
 * as the admin it creates.
 */

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

interface Reply {
  readonly status: number;
  readonly body: string;
}

describe('GET /v1/certificates?expiring_within: the default scope and include=all', () => {
  let dataDir: string;
  let core: Core;
  let server: RunningServer & { readonly port: number };
  let tls: { cert: string; key: string; ca: string };

  const get = (path: string): Promise<Reply> =>
    exchange(request, { host: '127.0.0.1', port: server.port, path, ...tls, servername: 'localhost' });

  const serialsOf = (reply: Reply): string[] => {
    assert.equal(reply.status, 200, reply.body);
    const parsed: unknown = JSON.parse(reply.body);
    assert.ok(typeof parsed === 'object' && parsed !== null && 'items' in parsed && Array.isArray(parsed.items));
    return parsed.items.map((item: unknown) => (typeof item === 'object' && item !== null && 'serial' in item ? String(item.serial) : ''));
  };

  function record(
    profile: NewCertificateRecord['profile'],
    spiffeId: string | null,
    issuedAt: number,
    lifetimeMs: number,
  ): NewCertificateRecord {
    const der = randomBytes(400);
    const serial = `7${randomBytes(8).toString('hex')}1`;
    return {
      serial,
      issuer: 'CN=test',
      subject: `CN=${serial}`,
      sans: spiffeId === null ? [{ type: 'dns', value: `${serial}.example.org` }] : [{ type: 'uri', value: spiffeId }],
      spiffeId,
      profile,
      requester: 'system',
      notBefore: issuedAt - MINUTE,
      notAfter: issuedAt + lifetimeMs,
      issuedAt,
      der,
      fingerprint: createHash('sha256').update(der).digest('hex'),
    };
  }

  let now: number;
  let expiringServer: NewCertificateRecord;
  let stopped: NewCertificateRecord;
  let renewedOld: NewCertificateRecord;
  let renewedNew: NewCertificateRecord;

  before(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'keysmith-expiry-listing-'));
    const config = await inProcessConfig(dataDir);
    core = await openCore(config);
    server = await startServer(core);
    tls = {
      cert: await readFile(core.paths.adminCert, 'utf8'),
      key: await readFile(core.paths.adminKey, 'utf8'),
      ca: await readFile(core.paths.bundle, 'utf8'),
    };
    now = Date.now();
    expiringServer = record('tls-server', null, now - 87 * DAY, 90 * DAY);
    stopped = record('svid', 'spiffe://keysmith.local/ns/prod/sa/stopped', now - 45 * MINUTE, HOUR);
    renewedOld = record('svid', 'spiffe://keysmith.local/ns/prod/sa/healthy', now - 40 * MINUTE, HOUR);
    renewedNew = record('svid', 'spiffe://keysmith.local/ns/prod/sa/healthy', now - 10 * MINUTE, HOUR);
    for (const r of [expiringServer, stopped, renewedOld, renewedNew]) void core.repositories.certificates.recordIssued(r);
  });
  after(async () => {
    await server.close(0);
    await core.close();
    await rm(dataDir, { recursive: true, force: true });
  });

  it('lists what needs a person by default: the tls-server certificate and the SVID that stopped renewing, not the healthy ones', async () => {
    const listed = serialsOf(await get('/v1/certificates?expiring_within=7d&limit=500'));
    assert.ok(listed.includes(expiringServer.serial));
    assert.ok(listed.includes(stopped.serial));
    assert.ok(!listed.includes(renewedOld.serial) && !listed.includes(renewedNew.serial));
    const svids = (await core.repositories.certificates.list({ expiringWithinMs: 7 * DAY, include: 'all', profile: 'svid', limit: 500 }))
      .items;
    for (const svid of svids)
      if (svid.serial !== stopped.serial)
        assert.ok(!listed.includes(svid.serial), `${svid.serial} (${svid.spiffeId ?? ''}) is not for a person`);
    assert.deepEqual(listed, serialsOf(await get('/v1/certificates?expiring_within=7d&include=attention&limit=500')));
  });

  it('lists every valid certificate expiring in the window with include=all', async () => {
    const listed = serialsOf(await get('/v1/certificates?expiring_within=7d&include=all&limit=500'));
    for (const r of [expiringServer, stopped, renewedOld, renewedNew]) assert.ok(listed.includes(r.serial), r.serial);
  });

  it('keysmith certs list --expiring 7d shows the same default, --include all every one, and --include alone is a usage error', async () => {
    const env = { PATH: process.env['PATH'], HOME: process.env['HOME'], KEYSMITH_DATA_DIR: dataDir, KEYSMITH_LOG_LEVEL: 'silent' };
    const byDefault = await runProcess(process.execPath, [MAIN, 'certs', 'list', '--expiring', '7d'], { env, timeoutMs: 30_000 });
    assert.equal(byDefault.code, 0, byDefault.stderr);
    assert.ok(byDefault.stdout.includes(expiringServer.serial) && byDefault.stdout.includes(stopped.serial), byDefault.stdout);
    assert.ok(!byDefault.stdout.includes(renewedOld.serial) && !byDefault.stdout.includes(renewedNew.serial), byDefault.stdout);
    const all = await runProcess(process.execPath, [MAIN, 'certs', 'list', '--expiring', '7d', '--include', 'all'], {
      env,
      timeoutMs: 30_000,
    });
    assert.equal(all.code, 0, all.stderr);
    for (const r of [expiringServer, stopped, renewedOld, renewedNew]) assert.ok(all.stdout.includes(r.serial), r.serial);
    const alone = await runProcess(process.execPath, [MAIN, 'certs', 'list', '--include', 'all'], { env, timeoutMs: 30_000 });
    assert.equal(alone.code, 2);
    assert.match(alone.stderr, /--include goes with --expiring/);
  });

  it('answers an unknown include with 400 naming the parameter', async () => {
    const reply = await get('/v1/certificates?expiring_within=7d&include=some');
    assert.equal(reply.status, 400);
    const problem: unknown = JSON.parse(reply.body);
    assert.ok(typeof problem === 'object' && problem !== null && 'detail' in problem);
    assert.equal(problem.detail, 'query parameter "include": must be one of attention, all');
  });
});
