import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes, X509Certificate } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { Agent } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { makeCsr } from '../../bench/svid/csr.js';
import { freePort, runProcess } from '../helpers/processes.js';
import { skipUnlessTool } from '../interop/harness.js';
import { WEBHOOK_SECRET, WebhookReceiver } from '../integration/alerts/helpers.js';
import { orderRoundRobin } from './acme-round-robin.js';
import {
  call,
  normalizeSerial,
  obtainSvid,
  ocspGet,
  ocspRequestDer,
  ocspStatus,
  SvidRefusedError,
  writeLeaf,
  type Identity,
  type OcspFiles,
} from './clients.js';
import { ALLOWED_SUFFIX, KeysmithCluster, runKeysmith, TRUST_DOMAIN, type ClusterNode } from './harness.js';

/**
 * Issue 12, "How it is shown": three `keysmith serve` nodes on one
 * PostgreSQL behind HAProxy in TCP mode, all real processes on loopback.
 * The scenarios share one cluster and run in order; the SIGKILL scenario
 * leaves two nodes for the database outage that follows.
 */

const AGENT_ID = `spiffe://${TRUST_DOMAIN}/node/cluster-agent`;
const CLIENTS = 16;
const SVIDS_PER_CLIENT = 5;
const PROBLEM_JSON = 'application/problem+json';
const workloadId = (i: number): string => `spiffe://${TRUST_DOMAIN}/svc/w${i}`;
/** Join-token attempts per client address each node lets through (KEYSMITH_JOIN_TOKEN_BURST); the interval is 1 h. */
const JOIN_TOKEN_BURST = 2;
/** Loopback addresses the join-token clients connect to the balancer from (HAProxy's own is BALANCER_SOURCE_ADDRESS). */
const GUESSER_ADDRESS = '127.0.0.5';
const JOINING_ADDRESS = '127.0.0.6';
const JOINING_NODE_ID = `spiffe://${TRUST_DOMAIN}/node/joined-through-the-balancer`;

describe('a keysmith cluster: PostgreSQL, three nodes, HAProxy in TCP mode', { timeout: 900_000 }, () => {
  let cluster: KeysmithCluster;
  let receiver: WebhookReceiver;
  let work: string;
  let ca: string;
  let admin: Identity;
  let agent: Identity;
  let http01Port: number;

  const node = (name: string): ClusterNode => cluster.node(name);
  const ocspFiles = (leaf: string): OcspFiles => ({ leaf, intermediate: cluster.paths.intermediate, bundle: cluster.paths.bundle });

  before(async () => {
    work = await mkdtemp(join(tmpdir(), 'keysmith-cluster-work-'));
    receiver = await WebhookReceiver.start();
    http01Port = await freePort();
    cluster = await KeysmithCluster.start({
      nodeCount: 3,
      nodeEnv: {
        // Every node ticks every 3 s; the lease lets one of them run each tick.
        KEYSMITH_ALERTS_SCHEDULE: '*/3 * * * * *',
        KEYSMITH_ALERTS_THRESHOLDS: '20s:tls-server',
        KEYSMITH_ALERTS_WEBHOOK_URL: receiver.url,
        KEYSMITH_ALERTS_WEBHOOK_SECRET: WEBHOOK_SECRET,
        KEYSMITH_ACME_HTTP01_PORT: String(http01Port),
        KEYSMITH_JOIN_TOKEN_BURST: String(JOIN_TOKEN_BURST),
        KEYSMITH_JOIN_TOKEN_INTERVAL: '1h',
      },
    });
    ca = await cluster.bundlePem();
    admin = { key: await readFile(cluster.paths.adminKey, 'utf8'), chain: await readFile(cluster.paths.adminCert, 'utf8') };
    const issued = await cluster.cli(['issue', '--spiffe-id', AGENT_ID, '--profile', 'node', '--out', join(work, 'agent')]);
    assert.equal(issued.code, 0, issued.stderr);
    agent = { key: await readFile(join(work, 'agent', 'key.pem'), 'utf8'), chain: await readFile(join(work, 'agent', 'cert.pem'), 'utf8') };
    // Registration entries through the balancer: whichever node takes each write, every node reads it.
    for (let i = 0; i <= CLIENTS; i++) {
      const created = await call(cluster.balancer.port, 'POST', '/v1/entries', {
        ca,
        identity: admin,
        body: { spiffe_id: workloadId(i), parent_id: AGENT_ID, x509_ttl: 3600 },
      });
      assert.equal(created.status, 201, created.body.toString('utf8'));
    }
  });

  after(async () => {
    await cluster?.stop();
    await receiver?.close();
    if (work !== undefined) await rm(work, { recursive: true, force: true });
  });

  it('has one CA: one root and one intermediate in the ledger, the same bundle on every node, a second init that creates nothing', async () => {
    const caRows = await cluster.database.query<{ profile: string; n: number }>(
      "SELECT profile, count(*)::int AS n FROM certificates WHERE profile IN ('root', 'intermediate') GROUP BY profile ORDER BY profile",
    );
    assert.deepEqual(caRows, [
      { profile: 'intermediate', n: 1 },
      { profile: 'root', n: 1 },
    ]);
    for (const n of cluster.nodes) assert.equal(await readFile(join(n.dataDir, 'bundle.pem'), 'utf8'), ca, `${n.name}'s bundle`);
    const [{ n: before } = { n: -1 }] = await cluster.database.query<{ n: number }>('SELECT count(*)::int AS n FROM certificates');
    const again = await cluster.cli(['init']);
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stdout, /is already initialised/);
    const [{ n: afterInit } = { n: -2 }] = await cluster.database.query<{ n: number }>('SELECT count(*)::int AS n FROM certificates');
    assert.equal(afterInit, before);
  });

  it('refuses a node without the cluster’s ca/, and one with a CA of its own, naming the intermediates', async () => {
    const [active] = await cluster.database.query<{ serial: string; fingerprint: string }>(
      "SELECT serial, fingerprint FROM certificates WHERE profile = 'intermediate'",
    );
    assert.ok(active !== undefined);
    const bare = await runKeysmith(['init'], { ...cluster.env, KEYSMITH_DATA_DIR: join(work, 'bare') });
    assert.equal(bare.code, 1, bare.stdout);
    assert.match(bare.stderr, new RegExp(`active intermediate CA is serial ${active.serial} \\(SHA-256 ${active.fingerprint}\\)`));
    // A CA made on its own (SQLite, no database URL), then pointed at the cluster's database.
    const { KEYSMITH_DATABASE_URL: _clusterDatabase, ...standalone } = cluster.env;
    const own = join(work, 'own-ca');
    assert.equal((await runKeysmith(['init'], { ...standalone, KEYSMITH_DATA_DIR: own })).code, 0);
    const foreign = await runKeysmith(['init'], { ...cluster.env, KEYSMITH_DATA_DIR: own });
    assert.equal(foreign.code, 1, foreign.stdout);
    const ownSerial = normalizeSerial(new X509Certificate(await readFile(join(own, 'ca', 'intermediate.cert.pem'))).serialNumber);
    assert.match(
      foreign.stderr,
      new RegExp(`holds intermediate CA serial ${ownSerial} .*the ledger's active intermediate is serial ${active.serial}`),
    );
  });

  it('spreads connections round robin over the three nodes', async () => {
    const seen: string[] = [];
    for (let i = 0; i < 6; i++) seen.push((await call(cluster.balancer.port, 'GET', '/healthz', { ca })).peerSerial);
    // Each node answers with its own listener certificate: three distinct ones, each twice, in a cycle.
    assert.equal(new Set(seen).size, 3, seen.join(' '));
    assert.deepEqual(seen.slice(3), seen.slice(0, 3));
  });

  it('through the balancer a node sees the client’s address (PROXY protocol): the join-token limit is per client address, per node', async () => {
    const attest = (from: string, token: string) =>
      call(cluster.balancer.port, 'POST', '/v1/attest/join-token', { ca, localAddress: from, body: { token, csr: makeCsr() } });
    // A guessing client: a well-formed token nobody created. Each node lets JOIN_TOKEN_BURST attempts from one address through
    // (each answered 403 "unknown"), then refuses that address with 429 until the interval (1 h here) refills its bucket.
    const guess = randomBytes(32).toString('base64url');
    for (let i = 0; i < JOIN_TOKEN_BURST * 3; i++) {
      const unknown = await attest(GUESSER_ADDRESS, guess);
      assert.equal(unknown.status, 403, unknown.body.toString('utf8'));
      assert.equal(unknown.json()['detail'], 'join token is unknown');
    }
    const refusedBy = new Set<string>();
    for (let i = 0; i < 3; i++) {
      const refused = await attest(GUESSER_ADDRESS, guess);
      assert.equal(refused.status, 429, refused.body.toString('utf8'));
      // The node names the address it limits: the client's, from the PROXY header, not HAProxy's (BALANCER_SOURCE_ADDRESS).
      assert.equal(refused.json()['detail'], `too many join-token attempts from ${GUESSER_ADDRESS}`);
      refusedBy.add(refused.peerSerial);
    }
    assert.equal(refusedBy.size, 3, 'each of the three nodes refused the guessing address');
    // Another client, through the same balancer while every node refuses the first: its bucket is its own.
    const created = await cluster.cli(['tokens', 'create', '--spiffe-id', JOINING_NODE_ID, '--ttl', '10m']);
    assert.equal(created.code, 0, created.stderr);
    const joined = await attest(JOINING_ADDRESS, created.stdout.trim());
    assert.equal(joined.status, 200, joined.body.toString('utf8'));
    assert.equal(joined.json()['spiffe_id'], JOINING_NODE_ID);
  });

  it('revoke on node 1: node 2’s OCSP answers revoked within 1 s, node 3 refuses the certificate on its next request', async () => {
    const svid = await obtainSvid(node('node1').port, ca, agent, workloadId(0));
    const files = ocspFiles(await writeLeaf(work, 'revoked-leaf', svid.identity.chain));
    assert.equal(
      (await ocspStatus(node('node2').port, files)).status,
      'good',
      'node 2 has answered good (and cached it) before the revocation',
    );
    const keepAlive = new Agent({ keepAlive: true, maxSockets: 1 });
    try {
      const renewOnNode3 = () =>
        call(node('node3').port, 'POST', '/v1/svid/x509', {
          ca,
          identity: svid.identity,
          agent: keepAlive,
          body: { csr: makeCsr(), spiffe_id: workloadId(0) },
        });
      const first = await renewOnNode3();
      assert.equal(first.status, 200, first.body.toString('utf8'));

      const revoked = await call(node('node1').port, 'POST', `/v1/certificates/${svid.serial}/revoke`, {
        ca,
        identity: admin,
        body: { reason: 'keyCompromise' },
      });
      assert.equal(revoked.status, 200, revoked.body.toString('utf8'));
      const revokedAt = performance.now();
      let status = '';
      while (performance.now() - revokedAt < 3_000) {
        status = (await ocspStatus(node('node2').port, files)).status;
        if (status === 'revoked') break;
      }
      const elapsed = performance.now() - revokedAt;
      assert.equal(status, 'revoked');
      assert.ok(elapsed <= 1_000, `node 2 answered revoked after ${elapsed.toFixed(0)} ms`);

      // One second after the revocation, node 3's next request on the connection it already had is refused.
      await sleep(Math.max(0, 1_000 - (performance.now() - revokedAt)));
      const next = await renewOnNode3();
      assert.equal(next.reusedConnection, true, 'the same TLS connection as before the revocation');
      assert.equal(next.status, 403, next.body.toString('utf8'));
      assert.equal(next.json()['type'], 'https://keysmith.dev/problems/certificate-revoked');
    } finally {
      keepAlive.destroy();
    }
  });

  it('alerts: three nodes ticking together deliver exactly one webhook per expiring certificate', async () => {
    assert.equal(receiver.requests.length, 0);
    // 30 s certificates under a 20 s threshold: alert material from 10 s of age on (a certificate must outlive the threshold).
    const serials: string[] = [];
    for (const i of [1, 2, 3]) {
      const issued = await cluster.cli([
        'issue',
        '--dns',
        `alert-${i}.${ALLOWED_SUFFIX}`,
        '--ttl',
        '30s',
        '--out',
        join(work, `alert-${i}`),
      ]);
      assert.equal(issued.code, 0, issued.stderr);
      serials.push(issued.stdout.trim());
    }
    serials.sort();
    await receiver.waitForRequests(serials.length, 40_000);
    // Two more ticks of all three nodes: nothing is sent twice.
    await sleep(6_000);
    const delivered = receiver.requests
      .flatMap((r) => (r.json() as { certificates: { serial: string }[] }).certificates.map((c) => c.serial))
      .sort();
    assert.deepEqual(delivered, serials);
    // The ledger agrees: one alert and one sent webhook message per certificate.
    const alerts = await cluster.database.query<{ serial: string }>('SELECT serial FROM alerts ORDER BY serial');
    assert.deepEqual(
      alerts.map((a) => a.serial),
      serials,
    );
    const sent = await cluster.database.query<{ n: number }>(
      "SELECT count(*)::int AS n FROM alert_messages WHERE channel = 'webhook' AND status = 'sent'",
    );
    assert.deepEqual(sent, [{ n: serials.length }]);
  });

  it('lego through the balancer completes an order', skipUnlessTool('lego'), async (t) => {
    const name = `acme.${ALLOWED_SUFFIX}`;
    const sessionsBefore = await cluster.balancer.sessionsByServer();
    const result = await runProcess(
      'lego',
      [
        '--server',
        `${cluster.balancerUrl}/acme/directory`,
        '--path',
        join(work, 'lego'),
        '--email',
        'ops@example.test',
        '--accept-tos',
        '--domains',
        name,
        '--http',
        '--http.port',
        `127.0.0.1:${http01Port}`,
        'run',
      ],
      {
        env: { PATH: process.env['PATH'], HOME: work, LEGO_CA_CERTIFICATES: cluster.paths.bundle },
        timeoutMs: 120_000,
        lifetimeMs: 150_000,
      },
    );
    assert.equal(result.code, 0, result.stdout + result.stderr);
    // lego keeps one keep-alive connection for the whole order, so in TCP mode it stays on one node (the next test cuts them).
    const sessionsAfter = await cluster.balancer.sessionsByServer();
    t.diagnostic(
      `lego's connections per node: ${cluster.nodes.map((n) => `${n.name} ${(sessionsAfter.get(n.name) ?? 0) - (sessionsBefore.get(n.name) ?? 0)}`).join(', ')}`,
    );
    const chain = await readFile(join(work, 'lego', 'certificates', `${name}.crt`), 'utf8');
    const leaf = new X509Certificate(chain);
    assert.equal(leaf.subjectAltName, `DNS:${name}`);
    assert.ok(leaf.verify(new X509Certificate(await readFile(cluster.paths.intermediate)).publicKey));
    const rows = await cluster.database.query<{ profile: string; status: string }>(
      'SELECT profile, status FROM certificates WHERE serial = $1',
      [normalizeSerial(leaf.serialNumber)],
    );
    assert.deepEqual(rows, [{ profile: 'tls-server', status: 'valid' }]);
  });

  it('an ACME order with every request on a new connection: round robin puts each on the next node, and the order completes', async (t) => {
    const name = `round-robin.${ALLOWED_SUFFIX}`;
    const { steps, chain } = await orderRoundRobin({
      balancerPort: cluster.balancer.port,
      publicUrl: cluster.balancerUrl,
      ca,
      dir: work,
      name,
      http01Port,
      pollTimeoutMs: 20_000,
    });
    t.diagnostic(steps.map((s) => s.what).join(', '));
    // Every node answered part of the order, and every signed request spent a nonce another node had minted.
    const listenerSerials = new Set(steps.map((s) => s.node));
    assert.equal(listenerSerials.size, 3, `the order's requests were answered by ${listenerSerials.size} nodes`);
    const posts = steps.filter((s) => s.nonceFrom !== undefined);
    assert.ok(posts.length >= 7, `${posts.length} signed requests`);
    assert.deepEqual(
      posts.filter((s) => s.nonceFrom === s.node).map((s) => s.what),
      [],
      'requests that spent a nonce of the node answering them',
    );
    const leaf = new X509Certificate(chain);
    assert.equal(leaf.subjectAltName, `DNS:${name}`);
    assert.ok(leaf.verify(new X509Certificate(await readFile(cluster.paths.intermediate)).publicKey));
    const rows = await cluster.database.query<{ profile: string; status: string }>(
      'SELECT profile, status FROM certificates WHERE serial = $1',
      [normalizeSerial(leaf.serialNumber)],
    );
    assert.deepEqual(rows, [{ profile: 'tls-server', status: 'valid' }]);
  });

  it('16 clients get their SVIDs through the balancer while node 3 is SIGKILLed; every serial is in the ledger, none twice', async (t) => {
    const received: string[] = [];
    let retries = 0;
    let killedAt: number | undefined;
    const victim = node('node3');
    const client = async (i: number): Promise<void> => {
      for (let n = 0; n < SVIDS_PER_CLIENT; n++) {
        for (let attempt = 1; ; attempt++) {
          try {
            received.push((await obtainSvid(cluster.balancer.port, ca, agent, workloadId(i))).serial);
            break;
          } catch (err) {
            // A reset or refused connection, or a 5xx: the client retries (HAProxy sends it to a live node); a 4xx is a bug.
            if (err instanceof SvidRefusedError && err.status < 500) throw err;
            if (attempt >= 20) throw err;
            retries++;
            await sleep(100);
          }
        }
        if (killedAt === undefined && received.length >= CLIENTS) {
          killedAt = received.length;
          process.kill(victim.process.pid, 'SIGKILL');
        }
      }
    };
    await Promise.all(Array.from({ length: CLIENTS }, (_, i) => client(i + 1)));
    t.diagnostic(`node 3 killed after ${String(killedAt)} SVIDs; ${retries} retries`);
    assert.equal((await victim.process.waitForExit(10_000)).signal, 'SIGKILL');
    assert.equal(received.length, CLIENTS * SVIDS_PER_CLIENT);
    assert.equal(new Set(received).size, received.length, 'no serial handed out twice');
    const inLedger = await cluster.database.query<{ serial: string }>('SELECT serial FROM certificates WHERE serial = ANY($1)', [received]);
    assert.equal(inLedger.length, received.length, 'every serial a client received is in the ledger');
    // Rows no client got: at most one request in flight per client when node 3 died (signed and committed, the answer lost).
    const ids = Array.from({ length: CLIENTS }, (_, i) => workloadId(i + 1));
    const [{ n: rows } = { n: -1 }] = await cluster.database.query<{ n: number }>(
      "SELECT count(*)::int AS n FROM certificates WHERE profile = 'svid' AND spiffe_id = ANY($1)",
      [ids],
    );
    assert.ok(rows >= received.length && rows <= received.length + CLIENTS, `${rows} SVID rows for ${received.length} received`);
    await cluster.balancer.waitForStates(
      new Map([
        ['node3', 'DOWN'],
        ['node1', 'UP'],
        ['node2', 'UP'],
      ]),
      10_000,
    );
  });

  it('the database stopped for 10 s: OCSP GETs answer from cache, SVID requests get 503, both recover without a restart', async () => {
    const live = [node('node1'), node('node2')];
    const pids = live.map((n) => n.process.pid);
    const svid = await obtainSvid(node('node1').port, ca, agent, workloadId(1));
    const files = ocspFiles(await writeLeaf(work, 'outage-leaf', svid.identity.chain));
    const requestDer = await ocspRequestDer(work, files);
    for (const n of live)
      assert.deepEqual(await ocspGet(n.port, ca, requestDer, work, files), { httpStatus: 200, status: 'good' }, `${n.name} primed`);

    await cluster.database.pause();
    const stoppedAt = performance.now();
    // HAProxy keeps both nodes: /healthz says 200 `degraded`, not 503, while only the database is down.
    try {
      for (const round of [0, 1]) {
        for (const n of [...live.map((l) => l.port), cluster.balancer.port]) {
          assert.deepEqual(
            await ocspGet(n, ca, requestDer, work, files),
            { httpStatus: 200, status: 'good' },
            `OCSP on port ${n}, round ${round}`,
          );
        }
        for (const n of live) {
          const refused = await obtainSvid(n.port, ca, agent, workloadId(2)).then(
            () => undefined,
            (err: unknown) => err,
          );
          assert.ok(refused instanceof SvidRefusedError, `${n.name} issued with the database down: ${String(refused)}`);
          assert.equal(refused.status, 503, refused.body);
          assert.equal(refused.contentType.split(';')[0], PROBLEM_JSON);
          assert.equal((JSON.parse(refused.body) as { type?: string }).type, 'https://keysmith.dev/problems/database-unavailable');
        }
        if (round === 0) await sleep(Math.max(0, 8_000 - (performance.now() - stoppedAt)));
      }
      await sleep(Math.max(0, 10_000 - (performance.now() - stoppedAt)));
      assert.deepEqual(
        await cluster.balancer.serverStates(),
        new Map([
          ['node1', 'UP'],
          ['node2', 'UP'],
          ['node3', 'DOWN'],
        ]),
      );
    } finally {
      await cluster.database.resume();
    }

    // Recovery by themselves: each node issues again within 30 s, same processes.
    for (const n of live) {
      const deadline = performance.now() + 30_000;
      let last: unknown;
      for (;;) {
        try {
          await obtainSvid(n.port, ca, agent, workloadId(2));
          break;
        } catch (err) {
          last = err;
          if (performance.now() > deadline) assert.fail(`${n.name} did not recover in 30 s: ${String(last)}`);
          await sleep(250);
        }
      }
      assert.deepEqual(await ocspGet(n.port, ca, requestDer, work, files), { httpStatus: 200, status: 'good' });
    }
    assert.deepEqual(
      live.map((n) => n.process.pid),
      pids,
    );
    assert.ok(
      live.every((n) => !n.process.hasExited),
      'no node restarted or exited',
    );
  });
});
