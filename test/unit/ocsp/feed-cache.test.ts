import { after, before, beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Authority, IssuedCertificate, OcspSigner } from '../../../src/ca/index.js';
import { RevocationFeed, type PostgresLedger } from '../../../src/ledger/index.js';
import {
  LedgerSource,
  OcspResponder,
  type OcspCertificateRow,
  type OcspLedger,
  type OcspReply,
  type OcspSerialStatus,
} from '../../../src/ocsp/index.js';
import { describeOcspResponse } from '../../../src/x509/index.js';
import { FixedClock, tempDir } from '../ca/helpers.js';
import { issueWorkloadSvid, ocspRequestFor, twoPostgresNodes, type TwoPostgresNodes } from './helpers.js';

/**
 * The OCSP cache on PostgreSQL (cacheCheck 'revocation-feed'): a hit reads
 * nothing, the revocation feed (LISTEN/NOTIFY) is what takes a revoked
 * serial out, and a fill whose ledger read was in flight when the revocation
 * was heard is never cached. Two ledgers on one database play two nodes:
 * node 1 answers OCSP, node 2 revokes.
 */

/** The real PostgreSQL repository, counted, with a gate that can hold a row read after it returned (the race). */
class CountedLedger implements OcspLedger {
  statusReads = 0;
  rowReads = 0;
  private held: { readonly gate: Promise<void>; readonly readDone: () => void } | undefined;

  constructor(private readonly inner: PostgresLedger['certificates']) {}

  /** The next row read completes against the database, then waits for `release` before answering. */
  hold(): { readonly readDone: Promise<void>; release(): void } {
    let release: () => void = () => undefined;
    let readDone: () => void = () => undefined;
    const done = new Promise<void>((resolve) => (readDone = resolve));
    const gate = new Promise<void>((resolve) => (release = resolve));
    this.held = { gate, readDone };
    return { readDone: done, release };
  }

  statusOf(serial: string): Promise<OcspSerialStatus | undefined> {
    this.statusReads += 1;
    return this.inner.statusOf(serial);
  }

  async findBySerial(serial: string): Promise<OcspCertificateRow | undefined> {
    this.rowReads += 1;
    const row = await this.inner.findBySerial(serial);
    const held = this.held;
    this.held = undefined;
    if (held !== undefined) {
      held.readDone();
      await held.gate;
    }
    return row;
  }
}

describe('LedgerSource on PostgreSQL: the revocation feed keeps the cache true', () => {
  const clock = new FixedClock(Date.now());
  const dir = tempDir('ocsp-feed');
  let nodes: TwoPostgresNodes;
  let node1: PostgresLedger;
  let node2: PostgresLedger;
  let authority: Authority;
  let signer: OcspSigner;
  let ledger: CountedLedger;
  let source: LedgerSource;
  let responder: OcspResponder;
  let feed: RevocationFeed;
  /** Serials the feed delivered, and who waits for one. */
  const heard = new Set<string>();
  const waiters = new Map<string, () => void>();

  before(async () => {
    nodes = await twoPostgresNodes(clock, dir.path, 'ocspfeed', 2);
    ({ node1, node2, authority, signer } = nodes);
    // The safety poll is pushed out of every test's reach: what arrives in time arrives by NOTIFY.
    feed = new RevocationFeed({
      database: node1.database,
      pollEveryMs: 600_000,
      onRevoked: (serial) => {
        source.drop(serial);
        heard.add(serial);
        waiters.get(serial)?.();
      },
    });
    await feed.start();
    assert.equal(feed.isListening, true);
  });

  beforeEach(() => {
    ledger = new CountedLedger(node1.certificates);
    source = new LedgerSource({
      ledger,
      signer,
      issuerCertificate: authority.material.intermediate.certDer,
      clock,
      cacheCheck: 'revocation-feed',
    });
    responder = new OcspResponder(source);
  });

  after(async () => {
    await feed.stop();
    await nodes.close();
    dir.remove();
  });

  const issue = (name: string): Promise<IssuedCertificate> => issueWorkloadSvid(authority, name);
  const requestFor = (issued: IssuedCertificate): Uint8Array => ocspRequestFor(authority, issued);

  function statusKind(reply: OcspReply): string | undefined {
    assert.equal(reply.status, 'successful', String(reply.fault));
    return describeOcspResponse(reply.der).basic?.responses[0]?.status.kind;
  }

  function heardOf(serial: string): Promise<void> {
    if (heard.has(serial)) return Promise.resolve();
    return new Promise<void>((resolve) => waiters.set(serial, resolve));
  }

  it('answers a hit from the cache without reading the ledger', async () => {
    const issued = await issue('hit');
    const first = await responder.answer(requestFor(issued));
    assert.equal(statusKind(first), 'good');
    assert.deepEqual([ledger.rowReads, ledger.statusReads, source.size], [1, 0, 1]);
    const again = await responder.answer(requestFor(issued));
    assert.deepEqual(again.der, first.der);
    assert.deepEqual([ledger.rowReads, ledger.statusReads], [1, 0], 'no read for a hit');
  });

  it('answers revoked within 1 s of another node revoking: NOTIFY drops the serial', async () => {
    const issued = await issue('notified');
    assert.equal(statusKind(await responder.answer(requestFor(issued))), 'good');
    const revokedAt = Date.now();
    await node2.certificates.revoke(issued.serial, 'keyCompromise', clock.now());
    let kind = 'good';
    // Bounded: 1 s (the issue's bound), asked every 10 ms as a relying party would poll.
    while (kind === 'good' && Date.now() - revokedAt < 1_000) {
      kind = statusKind(await responder.answer(requestFor(issued))) ?? 'none';
      if (kind === 'good') await new Promise((resolve) => setTimeout(resolve, 10));
    }
    assert.equal(kind, 'revoked');
    assert.ok(Date.now() - revokedAt < 1_000, `revoked seen after ${Date.now() - revokedAt} ms`);
  });

  it('never caches a good read while the revocation of its serial arrived: the next answer is revoked', async () => {
    const issued = await issue('race');
    const held = ledger.hold();
    // The fill: its ledger read returns `valid` and is held before the response is signed and stored.
    const pending = responder.answer(requestFor(issued));
    await held.readDone;
    // Meanwhile another node revokes; the feed hears it and drops the serial, while nothing is cached yet.
    await node2.certificates.revoke(issued.serial, 'keyCompromise', clock.now());
    await heardOf(issued.serial);
    assert.equal(source.size, 0);
    held.release();
    // The request asked before the revocation was heard gets what its read saw...
    assert.equal(statusKind(await pending), 'good');
    // ...but it is not kept: the next request reads the ledger again.
    assert.equal(source.size, 0, 'the stale fill was not cached');
    assert.equal(statusKind(await responder.answer(requestFor(issued))), 'revoked');
    assert.equal(ledger.rowReads, 2);
  });

  it('caches the same held fill when no revocation arrives (the race test above can fail)', async () => {
    const issued = await issue('no-race');
    const held = ledger.hold();
    const pending = responder.answer(requestFor(issued));
    await held.readDone;
    held.release();
    assert.equal(statusKind(await pending), 'good');
    assert.equal(source.size, 1);
    assert.equal(statusKind(await responder.answer(requestFor(issued))), 'good');
    assert.equal(ledger.rowReads, 1);
  });
});
