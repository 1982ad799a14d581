import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { checkClientCertificate, type Authority, type IssuedCertificate } from '../../../src/ca/index.js';
import type { PostgresLedger } from '../../../src/ledger/index.js';
import { LedgerSource, OcspResponder, type OcspReply } from '../../../src/ocsp/index.js';
import { isPromise } from '../../../src/shared/awaitable-flow.js';
import type { Awaitable } from '../../../src/shared/awaitable.js';
import { isDomainError } from '../../../src/shared/errors.js';
import { describeCertificate, describeOcspResponse } from '../../../src/x509/index.js';
import { FixedClock, tempDir } from '../ca/helpers.js';
import { issueWorkloadSvid, ocspRequestFor, twoPostgresNodes, type TwoPostgresNodes } from './helpers.js';

/**
 * The issuance and revocation pipeline and the OCSP responder over the
 * PostgreSQL ledger, as two cluster nodes see it: a CA created with its
 * certificates recorded there, issuance through group commit, answers that
 * come as promises, and a revocation made on the other node caught by the
 * cache hit's status read (no NOTIFY needed for correctness, only for speed).
 */

describe('Authority and OCSP over the PostgreSQL ledger', () => {
  const clock = new FixedClock(Date.parse('2030-03-01T12:00:00.400Z'));
  const dir = tempDir('ocsp-pg');
  let nodes: TwoPostgresNodes;
  let node1: PostgresLedger;
  let node2: PostgresLedger;
  let authority: Authority;
  let responder: OcspResponder;

  before(async () => {
    nodes = await twoPostgresNodes(clock, dir.path, 'ocsp');
    ({ node1, node2, authority } = nodes);
    const source = new LedgerSource({
      ledger: node1.certificates,
      signer: nodes.signer,
      issuerCertificate: authority.material.intermediate.certDer,
      clock,
    });
    authority.onRevoked(source.drop);
    responder = new OcspResponder(source);
  });

  after(async () => {
    await nodes.close();
    dir.remove();
  });

  const issue = (name: string): Promise<IssuedCertificate> => issueWorkloadSvid(authority, name);
  const requestFor = (issued: IssuedCertificate): Uint8Array => ocspRequestFor(authority, issued);

  /** The reply, which over PostgreSQL must be a promise (the ledger's reads are). */
  async function later(reply: Awaitable<OcspReply>): Promise<OcspReply> {
    assert.ok(isPromise(reply), 'over PostgreSQL the responder answers with a promise');
    return reply;
  }

  function statusKind(reply: OcspReply): string | undefined {
    assert.equal(reply.status, 'successful', String(reply.fault));
    return describeOcspResponse(reply.der).basic?.responses[0]?.status.kind;
  }

  it('records the CA hierarchy and the responder certificate in the database', async () => {
    const root = await node2.certificates.findBySerial(describeCertificate(authority.material.root.certDer).serial);
    assert.equal(root?.profile, 'root');
    // root, intermediate, the OCSP responder certificate
    assert.equal(await node2.certificates.count(), 3);
  });

  it('issues through group commit on PostgreSQL: committed, and visible to the other node, when issue resolves', async () => {
    const issued = await Promise.all(Array.from({ length: 20 }, (_, i) => issue(`burst-${i}`)));
    for (const certificate of issued) assert.equal((await node2.certificates.statusOf(certificate.serial))?.status, 'valid');
    assert.equal(new Set(issued.map((c) => c.serial)).size, 20);
  });

  it('answers good, then the same bytes from the cache after an awaited status read', async () => {
    const issued = await issue('cached');
    const first = await later(responder.answer(requestFor(issued)));
    assert.equal(statusKind(first), 'good');
    const second = await later(responder.answer(requestFor(issued)));
    assert.deepEqual(second.der, first.der);
  });

  it('answers revoked on the next request after another node revoked the serial', async () => {
    const issued = await issue('revoked-elsewhere');
    assert.equal(statusKind(await later(responder.answer(requestFor(issued)))), 'good');
    await node2.certificates.revoke(issued.serial, 'keyCompromise', clock.now());
    assert.equal(statusKind(await later(responder.answer(requestFor(issued)))), 'revoked');
  });

  it('revokes through the Authority once; the second revocation is a conflict', async () => {
    const issued = await issue('revoked-here');
    const record = await authority.revoke(issued.serial, 'superseded');
    assert.equal(record.revocationReason, 'superseded');
    assert.equal(statusKind(await later(responder.answer(requestFor(issued)))), 'revoked');
    await assert.rejects(authority.revoke(issued.serial, 'keyCompromise'), (error: unknown) => isDomainError(error, 'conflict'));
  });

  it('gives the client-certificate verdict as a promise: valid, then revoked', async () => {
    const issued = await issue('client');
    const leaf = new X509Certificate(issued.der);
    const verdict = checkClientCertificate(node2.certificates, { serialNumber: leaf.serialNumber, notAfter: new Date(leaf.validTo) });
    assert.ok(isPromise(verdict));
    assert.equal(await verdict, 'valid');
    await node1.certificates.revoke(issued.serial, 'privilegeWithdrawn', clock.now());
    assert.equal(
      await checkClientCertificate(node2.certificates, { serialNumber: leaf.serialNumber, notAfter: new Date(leaf.validTo) }),
      'revoked',
    );
  });
});
