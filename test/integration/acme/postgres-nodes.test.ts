import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { join } from 'node:path';
import { createAcmeServer, type AcmeAuthority, type AcmeServer } from '../../../src/acme/index.js';
import { Authority, initCertificateAuthority } from '../../../src/ca/index.js';
import { openLedger, openLedgerBackend, type Ledger, type PostgresLedger } from '../../../src/ledger/index.js';
import { createTestDatabase, type TestDatabase } from '../../helpers/postgres.js';
import { FixedClock, tempDir } from '../../unit/ca/helpers.js';
import { BASE_URL, body, header, makeCsr, newKey, pathOf, ScriptedValidator, TestClient, type SigningKey } from './protocol-client.js';

/**
 * The ACME front end on the PostgreSQL store, as two nodes: two servers, each
 * with its own PostgreSQL pool on one database, and a client whose requests
 * alternate between them (what round robin behind HAProxy does). Nonces are
 * still per process here (src/acme/nonces.ts), so the client keeps one nonce
 * per node; everything else an order is made of lives in the database.
 *
 * Certificates still go to a SQLite ledger (the certificate repository on
 * PostgreSQL is another slice of issue 12); each issued row is copied into the
 * PostgreSQL `certificates` table so that orders can point at it.
 */

const POLICY = { allowedSuffixes: ['example.test'], allowedIpRanges: [], eabRequired: false };

describe('ACME on PostgreSQL, two nodes behind round robin', () => {
  let database: TestDatabase;
  let dir: ReturnType<typeof tempDir>;
  let certificates: Ledger;
  let nodes: PostgresLedger[];
  let servers: AcmeServer[];
  const internalErrors: unknown[] = [];
  const clock = new FixedClock(Date.now());

  before(async () => {
    dir = tempDir('acme-pg');
    database = await createTestDatabase('acme_nodes');
    certificates = openLedger({ path: join(dir.path, 'certificates.db'), clock });
    const { material } = await initCertificateAuthority({ dataDir: dir.path, trustDomain: 'example.org', store: certificates.certificates, clock });
    const authority = new Authority({ material, store: certificates.certificates, clock, ocspUrl: 'http://127.0.0.1/ocsp' });
    nodes = [];
    for (let i = 0; i < 2; i++) {
      const opened = await openLedgerBackend({ kind: 'postgres', url: database.url, poolSize: 4 }, { clock });
      if (opened.kind !== 'postgres') throw new Error('expected PostgreSQL');
      nodes.push(opened.ledger);
    }
    const first = nodes[0];
    if (first === undefined) throw new Error('no node');
    const bridged: AcmeAuthority = {
      material: authority.material,
      issuerNotAfter: authority.issuerNotAfter,
      revoke: (serial, reason) => authority.revoke(serial, reason),
      async issue(request, profile) {
        const issued = await authority.issue(request, profile);
        await copyCertificate(certificates, first, issued.serial);
        return issued;
      },
    };
    const NONCE_KEY = randomBytes(32);
    servers = nodes.map((node) =>
      createAcmeServer({
        baseUrl: BASE_URL,
        store: node.acme,
        // The nodes share a nonce key as a cluster shares ca/cluster.key, and spend nonces in the one database.
        nonces: { key: NONCE_KEY, ledger: node.nonces },
        certificates: certificates.certificates,
        authority: bridged,
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
    certificates.close();
    await database.drop();
    dir.remove();
  });

  /** One client per node, same account key and kid: request i goes to node i mod 2. */
  class RoundRobin {
    readonly clients: TestClient[];
    #next = 0;
    constructor(key: SigningKey) {
      this.clients = servers.map((server) => new TestClient(server, key));
    }
    next(): TestClient {
      const client = this.clients[this.#next++ % this.clients.length];
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
    const before = issuedTo(accountId);
    const csr = makeCsr(dir.path, { dns: ['race.example.test'] }).csr;
    const replies = await Promise.all(client.clients.map((each) => each.post(finalizePath, { csr })));
    const statuses = replies.map((reply) => reply.status).sort();
    assert.deepEqual(statuses, [200, 403], JSON.stringify(replies.map((reply) => reply.body)));
    const refused = replies.find((reply) => reply.status === 403);
    assert.equal(refused === undefined ? undefined : body(refused)['type'], 'urn:ietf:params:acme:error:orderNotReady');
    assert.equal(issuedTo(accountId) - before, 1, 'exactly one certificate for the order');
    assert.equal(body(await client.post(orderPath, ''))['status'], 'valid');
  });

  function issuedTo(accountId: string): number {
    return certificates.certificates.list({ profile: 'tls-server', limit: 500 }).items.filter((item) => item.requester === `acme:${accountId}`).length;
  }
});

/** The issued row, from the SQLite ledger the Authority wrote to, into PostgreSQL's certificates table. */
async function copyCertificate(from: Ledger, to: PostgresLedger, serial: string): Promise<void> {
  const record = from.certificates.findBySerial(serial);
  if (record === undefined) throw new Error(`certificate ${serial} is not in the ledger`);
  await to.database.run(
    `INSERT INTO certificates (serial, issuer, subject, spiffe_id, profile, requester, not_before, not_after, issued_at, der, fingerprint, sans)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)`,
    [
      record.serial,
      record.issuer,
      record.subject,
      record.spiffeId,
      record.profile,
      record.requester,
      record.notBefore,
      record.notAfter,
      record.issuedAt,
      Buffer.from(record.der),
      record.fingerprint,
      JSON.stringify(record.sans),
    ],
  );
}
