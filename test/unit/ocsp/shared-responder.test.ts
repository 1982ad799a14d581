import assert from 'node:assert/strict';
import { generateKeyPairSync, verify, X509Certificate } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import {
  Authority,
  crlIssuerFor,
  initCertificateAuthority,
  loadCertificateAuthority,
  OcspSigner,
  responderKeyWrap,
  type CaMaterial,
} from '../../../src/ca/index.js';
import { openLedger, openLedgerBackend, type OpenedLedger } from '../../../src/ledger/index.js';
import { describeOcspResponse } from '../../../src/x509/index.js';
import { BACKENDS } from '../../helpers/backends.js';
import { createTestDatabase } from '../../helpers/postgres.js';
import { FixedClock } from '../ca/helpers.js';

/**
 * The delegated OCSP responder shared through the ledger (src/ca/ocsp-signer.ts,
 * `shared`): nodes on one database and one CA directory use one responder
 * certificate instead of minting one each at every start, all take the newest,
 * and a stored key is used only when it is the one its certificate certifies.
 */

const DAY = 86_400_000;
const START = Date.parse('2030-06-01T08:00:00Z');

let caDir: string;
let material: CaMaterial;
let issuerName: string;

before(async () => {
  caDir = mkdtempSync(join(tmpdir(), 'keysmith-responder-ca-'));
  const caLedger = openLedger({ path: join(caDir, 'ca-ledger.db') });
  try {
    ({ material } = await initCertificateAuthority({
      dataDir: caDir,
      trustDomain: 'example.org',
      store: caLedger.certificates,
      clock: new FixedClock(START - DAY),
    }));
  } finally {
    caLedger.close();
  }
  issuerName = crlIssuerFor(material).issuerName;
});

after(() => rmSync(caDir, { recursive: true, force: true }));

interface Cluster {
  readonly clock: FixedClock;
  /** One more "node": its own ledger connection, Authority (CA loaded from the shared directory) and signer. */
  node(name: string, options?: { claimTtlMs?: number }): Promise<OcspSigner>;
  /** The responder store of a further connection (to play a node that died holding the claim). */
  store(): Promise<OpenedLedger['ledger']['ocspResponders']>;
  /** Responder certificates in the ledger (profile ocsp-signer). */
  responderCount(): Promise<number>;
  /** Revokes a certificate through the ledger (as `keysmith revoke` does). */
  revoke(serial: string): Promise<void>;
  /** Runs SQL on the shared database (tests that tamper with it). */
  exec(sql: string, params: readonly (string | number)[]): Promise<void>;
  dispose(): Promise<void>;
}

async function cluster(kind: 'sqlite' | 'postgres'): Promise<Cluster> {
  const clock = new FixedClock(START);
  const opened: OpenedLedger[] = [];
  let location: { path: string; dir: string } | { url: string; drop(): Promise<void> };
  if (kind === 'sqlite') {
    const dir = mkdtempSync(join(tmpdir(), 'keysmith-responder-'));
    location = { path: join(dir, 'ledger.db'), dir };
  } else {
    const database = await createTestDatabase('responder');
    location = { url: database.url, drop: () => database.drop() };
  }
  const open = async (): Promise<OpenedLedger> => {
    const ledger = await openLedgerBackend(
      'path' in location ? { kind: 'sqlite', path: location.path } : { kind: 'postgres', url: location.url, poolSize: 2 },
      { clock },
    );
    opened.push(ledger);
    return ledger;
  };
  const probe = await open();
  return {
    clock,
    async store() {
      return (await open()).ledger.ocspResponders;
    },
    async node(name, options = {}) {
      const ledger = await open();
      const nodeMaterial = await loadCertificateAuthority({ dataDir: caDir, trustDomain: 'example.org', clock });
      const authority = new Authority({
        material: nodeMaterial,
        store: ledger.ledger.certificates,
        clock,
        ocspUrl: 'http://127.0.0.1/ocsp',
      });
      return new OcspSigner({
        authority,
        clock,
        shared: {
          store: ledger.ledger.ocspResponders,
          issuerName,
          keyWrap: responderKeyWrap(nodeMaterial.intermediate.keyObject),
          holder: `${name}:${process.pid}`,
          pollMs: 20,
          ...options,
        },
      });
    },
    async responderCount() {
      if (probe.kind === 'sqlite') {
        const db = new Database('path' in location ? location.path : '', { readonly: true });
        try {
          return db.prepare<[], number>("SELECT count(*) FROM certificates WHERE profile = 'ocsp-signer'").pluck().get() ?? -1;
        } finally {
          db.close();
        }
      }
      const row = await probe.ledger.database.row<{ n: number }>("SELECT count(*) AS n FROM certificates WHERE profile = 'ocsp-signer'");
      return row?.n ?? -1;
    },
    async revoke(serial) {
      await probe.ledger.certificates.revoke(serial, 'keyCompromise', clock.now());
    },
    async exec(sql, params) {
      if (probe.kind === 'sqlite') {
        const db = new Database('path' in location ? location.path : '');
        try {
          db.prepare(sql.replace(/\$\d+/g, '?')).run(...params);
        } finally {
          db.close();
        }
        return;
      }
      await probe.ledger.database.run(sql, params);
    },
    async dispose() {
      for (const ledger of opened) await ledger.ledger.close();
      if ('dir' in location) rmSync(location.dir, { recursive: true, force: true });
      else await location.drop();
    },
  };
}

/** A response signed by `signer`, and whether the certificate it carries verifies its signature. */
function signedByCarried(signer: OcspSigner, now: number): { serial: string; verifies: boolean } {
  const der = signer.signResponse({ producedAt: now, responses: [] });
  const basic = describeOcspResponse(der).basic;
  const [carried] = basic?.certificates ?? [];
  assert.ok(basic !== undefined && carried !== undefined);
  const certificate = new X509Certificate(carried);
  return {
    serial: certificate.serialNumber.toLowerCase(),
    verifies: verify('sha256', basic.tbs, { key: certificate.publicKey, dsaEncoding: 'der' }, basic.signature),
  };
}

for (const backend of BACKENDS) {
  describe(`the OCSP responder shared through the ledger: ${backend.name}`, () => {
    it('two starts on one database and one CA directory end with one responder certificate, which both sign with', async () => {
      const nodes = await cluster(backend.name);
      try {
        const first = await nodes.node('node-1');
        assert.equal(await first.rotateIfDue(), true, 'the first start issues one');
        const second = await nodes.node('node-2');
        assert.equal(await second.rotateIfDue(), true, 'the second start takes it');
        assert.equal(await nodes.responderCount(), 1);
        assert.ok(first.serial !== undefined);
        assert.equal(second.serial, first.serial);
        assert.equal(second.notAfter, first.notAfter);
        // The second node signs with the shared key: the carried certificate verifies its response.
        assert.deepEqual(signedByCarried(second, nodes.clock.now()), { serial: first.serial, verifies: true });
        // A restart of the first node takes the same one again.
        const restarted = await nodes.node('node-1');
        await restarted.rotateIfDue();
        assert.equal(restarted.serial, first.serial);
        assert.equal(await nodes.responderCount(), 1);
      } finally {
        await nodes.dispose();
      }
    });

    it('two nodes starting at the same moment issue one between them (the claim), and both use it', async () => {
      const nodes = await cluster(backend.name);
      try {
        const signers = await Promise.all(['a', 'b', 'c'].map((name) => nodes.node(name)));
        await Promise.all(signers.map((signer) => signer.rotateIfDue()));
        assert.equal(await nodes.responderCount(), 1);
        assert.equal(new Set(signers.map((signer) => signer.serial)).size, 1);
      } finally {
        await nodes.dispose();
      }
    });

    it('issues the next one once no more than the configured share of life is left, and the other nodes take the newest', async () => {
      const nodes = await cluster(backend.name);
      try {
        const first = await nodes.node('node-1');
        const second = await nodes.node('node-2');
        await first.rotateIfDue();
        await second.rotateIfDue();
        const original = first.serial;
        // 7-day certificates, renewed with a third left: 4 days on, both keep it.
        nodes.clock.advance(4 * DAY);
        assert.equal(await second.rotateIfDue(), false);
        assert.equal(await first.rotateIfDue(), false);
        nodes.clock.advance(DAY);
        assert.equal(await second.rotateIfDue(), true, 'due: node 2 issues the next');
        assert.notEqual(second.serial, original);
        assert.equal(await first.rotateIfDue(), true, 'node 1 takes the newer one instead of issuing');
        assert.equal(first.serial, second.serial);
        assert.equal(await nodes.responderCount(), 2);
      } finally {
        await nodes.dispose();
      }
    });

    it('does not reuse a revoked responder certificate, at start or at the next check', async () => {
      const nodes = await cluster(backend.name);
      try {
        const first = await nodes.node('node-1');
        await first.rotateIfDue();
        await nodes.revoke(first.serial ?? '');
        const second = await nodes.node('node-2');
        await second.rotateIfDue();
        assert.notEqual(second.serial, first.serial);
        // The first node's next check leaves its revoked certificate for the new one, issuing nothing.
        assert.equal(await first.rotateIfDue(), true);
        assert.equal(first.serial, second.serial);
        assert.equal(await nodes.responderCount(), 2);
      } finally {
        await nodes.dispose();
      }
    });

    it('waits a bounded time for a claim whose holder died, and issues once the claim has run out', async () => {
      const nodes = await cluster(backend.name);
      try {
        const ghost = await nodes.store();
        assert.equal(await ghost.claimRotation('ghost', nodes.clock.now(), 60_000), true);
        const node = await nodes.node('node-1', { claimTtlMs: 200 });
        await assert.rejects(node.rotateIfDue(), /held the OCSP responder claim for 200 ms without recording a responder/);
        assert.equal(await nodes.responderCount(), 0);
        nodes.clock.advance(60_000);
        assert.equal(await node.rotateIfDue(), true);
        assert.equal(await nodes.responderCount(), 1);
        assert.equal(await ghost.claimRotation('ghost', nodes.clock.now(), 60_000), true, 'the claim was released after issuing');
      } finally {
        await nodes.dispose();
      }
    });

    it('refuses a stored key that is not the one its certificate certifies', async () => {
      const nodes = await cluster(backend.name);
      try {
        const first = await nodes.node('node-1');
        await first.rotateIfDue();
        // Raw SQL on purpose: no repository stores a key that does not match its certificate; this corrupts the row.
        const stranger = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
        await nodes.exec('UPDATE ocsp_responders SET wrapped_key = $1 WHERE serial = $2', [
          responderKeyWrap(material.intermediate.keyObject).wrap(stranger),
          first.serial ?? '',
        ]);
        const second = await nodes.node('node-2');
        await assert.rejects(second.rotateIfDue(), /is not the key its certificate certifies/);
      } finally {
        await nodes.dispose();
      }
    });
  });
}

describe('the responder key wrap', () => {
  it('gives an encrypted PKCS#8 PEM that only the same intermediate key opens', () => {
    const wrap = responderKeyWrap(material.intermediate.keyObject);
    const key = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
    const pem = wrap.wrap(key);
    assert.match(pem, /^-----BEGIN ENCRYPTED PRIVATE KEY-----\n/);
    const opened = wrap.unwrap(pem);
    assert.deepEqual(opened.export({ type: 'pkcs8', format: 'der' }), key.export({ type: 'pkcs8', format: 'der' }));
    // The same key loaded again (another node's copy of ca/) derives the same secret.
    assert.deepEqual(
      responderKeyWrap(material.intermediate.keyObject).unwrap(pem).export({ type: 'pkcs8', format: 'der' }),
      key.export({ type: 'pkcs8', format: 'der' }),
    );
    const otherIntermediate = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
    assert.throws(() => responderKeyWrap(otherIntermediate).unwrap(pem), /another intermediate key/);
  });
});
