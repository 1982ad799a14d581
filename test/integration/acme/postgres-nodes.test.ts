import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { createAcmeServer, type AcmeServer } from '../../../src/acme/index.js';
import { Authority, initCertificateAuthority } from '../../../src/ca/index.js';
import { openLedgerBackend, type PostgresLedger } from '../../../src/ledger/index.js';
import { createTestDatabase, type TestDatabase } from '../../helpers/postgres.js';
import { FixedClock, tempDir } from '../../unit/ca/helpers.js';
import { BASE_URL, body, header, makeCsr, newKey, pathOf, ScriptedValidator, TestClient, type SigningKey } from './protocol-client.js';

/**
 * The ACME front end on PostgreSQL, as two nodes: two servers, each with its
 * own PostgreSQL pool on one database and its own Authority over that ledger
 * (the CA directory is shared, as a cluster shares ca/), and a client whose
 * requests alternate between them (what round robin behind HAProxy does).
 * Everything an order is made of, its certificate and the spent nonces live
 * in the database; the nonce key is shared as ca/cluster.key shares it.
 */

const POLICY = { allowedSuffixes: ['example.test'], allowedIpRanges: [], eabRequired: false };

describe('ACME on PostgreSQL, two nodes behind round robin', () => {
  let database: TestDatabase;
  let dir: ReturnType<typeof tempDir>;
  let nodes: PostgresLedger[];
  let servers: AcmeServer[];
  const internalErrors: unknown[] = [];
  const clock = new FixedClock(Date.now());

  before(async () => {
    dir = tempDir('acme-pg');
    database = await createTestDatabase('acme_nodes');
    nodes = [];
    for (let i = 0; i < 2; i++) {
      const opened = await openLedgerBackend({ kind: 'postgres', url: database.url, poolSize: 4 }, { clock });
      if (opened.kind !== 'postgres') throw new Error('expected PostgreSQL');
      nodes.push(opened.ledger);
    }
    const first = nodes[0];
    if (first === undefined) throw new Error('no node');
    // `keysmith init` on the first node: the CA's own certificates go to the one ledger.
    const { material } = await initCertificateAuthority({
      dataDir: dir.path,
      trustDomain: 'example.org',
      store: first.certificates,
      clock,
    });
    const NONCE_KEY = randomBytes(32);
    servers = nodes.map((node) =>
      createAcmeServer({
        baseUrl: BASE_URL,
        store: node.acme,
        // The nodes share a nonce key as a cluster shares ca/cluster.key, and spend nonces in the one database.
        nonces: { key: NONCE_KEY, ledger: node.nonces },
        certificates: node.certificates,
        authority: new Authority({ material, store: node.certificates, clock, ocspUrl: 'http://127.0.0.1/ocsp' }),
        validator: new ScriptedValidator(),
        clock,
        policy: POLICY,
        onInternalError: (error) => internalErrors.push(error),
      }),
    );
    await Promise.all(servers.map((server) => server.ready()));
  });

  after(async () => {
    assert.deepEqual(internalErrors, []);
    for (const node of nodes) await node.close();
    await database.drop();
    dir.remove();
  });

  /** One client per node, same account key and kid: request i goes to node i mod 2. */
  class RoundRobin {
    readonly clients: TestClient[];
    private turn = 0;
    constructor(key: SigningKey) {
      this.clients = servers.map((server) => new TestClient(server, key));
    }
    next(): TestClient {
      const client = this.clients[this.turn++ % this.clients.length];
      if (client === undefined) throw new Error('no client');
      return client;
    }
    async register(): Promise<void> {
      const response = await this.next().register();
      assert.equal(response.status, 201, JSON.stringify(response.body));
      for (const client of this.clients) client.kid = header(response, 'location');
    }
    post(path: string, payload: object | string) {
      return this.next().post(path, payload);
    }
  }

  async function readyOrder(client: RoundRobin, name: string): Promise<{ orderPath: string; finalizePath: string }> {
    const created = await client.post('/new-order', { identifiers: [{ type: 'dns', value: name }] });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const orderPath = pathOf(header(created, 'location'));
    for (const authzUrl of body(created)['authorizations'] as string[]) {
      const authz = body(await client.post(pathOf(authzUrl), ''));
      const challenge = (authz['challenges'] as Record<string, unknown>[]).find((c) => c['type'] === 'http-01');
      assert.equal(body(await client.post(pathOf(challenge?.['url']), {}))['status'], 'processing');
    }
    await Promise.all(servers.map((server) => server.settled()));
    const order = body(await client.post(orderPath, ''));
    assert.equal(order['status'], 'ready');
    return { orderPath, finalizePath: pathOf(order['finalize']) };
  }

  it('completes an order whose every request lands on the other node from the one before', async () => {
    const client = new RoundRobin(await newKey('p256'));
    await client.register();
    const { orderPath, finalizePath } = await readyOrder(client, 'rr.example.test');
    const finalized = await client.post(finalizePath, { csr: makeCsr(dir.path, { dns: ['rr.example.test'] }).csr });
    assert.equal(finalized.status, 200, JSON.stringify(finalized.body));
    assert.equal(body(finalized)['status'], 'valid');
    assert.equal(body(await client.post(orderPath, ''))['status'], 'valid');
    const download = await client.post(pathOf(body(finalized)['certificate']), '');
    assert.equal(download.status, 200);
    const leaf = new X509Certificate(String(download.body));
    assert.equal(leaf.subjectAltName, 'DNS:rr.example.test');
  });

  it('two finalize requests for one order on two nodes at once: one certificate, the other request gets orderNotReady', async () => {
    const client = new RoundRobin(await newKey('p256'));
    await client.register();
    const { orderPath, finalizePath } = await readyOrder(client, 'race.example.test');
    const accountId = (client.clients[0]?.kid ?? '').split('/').pop() ?? '';
    const before = await issuedTo(accountId);
    const csr = makeCsr(dir.path, { dns: ['race.example.test'] }).csr;
    const replies = await Promise.all(client.clients.map((each) => each.post(finalizePath, { csr })));
    const statuses = replies.map((reply) => reply.status).sort();
    assert.deepEqual(statuses, [200, 403], JSON.stringify(replies.map((reply) => reply.body)));
    const refused = replies.find((reply) => reply.status === 403);
    assert.equal(refused === undefined ? undefined : body(refused)['type'], 'urn:ietf:params:acme:error:orderNotReady');
    assert.equal((await issuedTo(accountId)) - before, 1, 'exactly one certificate for the order');
    assert.equal(body(await client.post(orderPath, ''))['status'], 'valid');
  });

  /** Certificates the ledger holds for the account, whichever node issued them. */
  async function issuedTo(accountId: string): Promise<number> {
    const [node] = nodes;
    if (node === undefined) throw new Error('no node');
    const page = await node.certificates.list({ profile: 'tls-server', limit: 500 });
    return page.items.filter((item) => item.requester === `acme:${accountId}`).length;
  }
});
