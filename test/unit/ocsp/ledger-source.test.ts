import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync, verify, X509Certificate } from 'node:crypto';
import { LedgerSource, OcspResponder, type OcspResponseSigner } from '../../../src/ocsp/index.js';
import {
  describeCertificate,
  describeOcspResponse,
  encodeOcspRequest,
  issuerFromCertificate,
  prepareCertificate,
  randomSerial,
  signCertificate,
  type CertIdHash,
  type DescribedOcspResponse,
  type OcspResponseContent,
} from '../../../src/x509/index.js';
import { FixedClock } from '../ca/helpers.js';
import { ocspStack, type OcspStack } from './helpers.js';
import type { Awaitable } from '../../../src/shared/awaitable.js';
import { isPromise } from '../../../src/shared/awaitable-flow.js';

/**
 * The responder's reply over the SQLite ledger, which must come at once: the
 * synchronous path (no microtask per answer) is part of what these tests pin.
 */
function atOnce<T>(reply: Awaitable<T>): T {
  if (isPromise(reply)) assert.fail('over the SQLite ledger the responder answers synchronously');
  return reply;
}

/**
 * The ledger source and the responder in front of it, on a real CA, the
 * SQLite ledger and the delegated responder: statuses from the ledger,
 * windows, the cache and its invalidation, and the OCSP status of each
 * failure (STYLE §4).
 */

const HOUR = 3_600_000;
let stack: OcspStack;

before(async () => {
  stack = await ocspStack({ clock: new FixedClock(Date.parse('2030-03-01T12:00:00.400Z')) });
});
after(() => stack.close());

/** A signer that counts signatures, in front of the stack's real one. */
function countingSigner(notAfter?: number): OcspResponseSigner & { count: number } {
  const counter = {
    count: 0,
    get notAfter(): number {
      return notAfter ?? stack.signer.notAfter;
    },
    signResponse(content: OcspResponseContent): Uint8Array {
      counter.count++;
      return stack.signer.signResponse(content);
    },
  };
  return counter;
}

function freshSource(options: { signer?: OcspResponseSigner; maxCachedResponses?: number; validityMs?: number } = {}): LedgerSource {
  return new LedgerSource({
    ledger: stack.ledger.certificates,
    signer: options.signer ?? stack.signer,
    issuerCertificate: stack.material.intermediate.certDer,
    clock: stack.clock,
    ...(options.maxCachedResponses === undefined ? {} : { maxCachedResponses: options.maxCachedResponses }),
    ...(options.validityMs === undefined ? {} : { validityMs: options.validityMs }),
  });
}

function requestFor(
  certificateDer: Uint8Array,
  options: { hash?: CertIdHash; nonce?: Uint8Array; issuerDer?: Uint8Array } = {},
): Uint8Array {
  return encodeOcspRequest(
    [
      {
        certificateDer,
        issuerDer: options.issuerDer ?? stack.material.intermediate.certDer,
        ...(options.hash === undefined ? {} : { hash: options.hash }),
      },
    ],
    options.nonce,
  );
}

function successful(der: Uint8Array): NonNullable<DescribedOcspResponse['basic']> {
  const described = describeOcspResponse(der);
  assert.equal(described.status, 'successful');
  assert.ok(described.basic !== undefined);
  return described.basic;
}

/** A certificate signed by the intermediate's key but never recorded: a serial this issuer never issued. */
async function unrecordedCertificate(): Promise<Uint8Array> {
  const { intermediate } = stack.material;
  const now = stack.clock.now();
  const prepared = prepareCertificate(
    {
      serial: randomSerial(),
      subject: [{ type: 'CN', value: 'never issued' }],
      notBefore: Math.floor(now / 1000) * 1000 - 60_000,
      notAfter: Math.floor(now / 1000) * 1000 + HOUR,
      publicKey: new Uint8Array(generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ type: 'spki', format: 'der' })),
      basicConstraints: { ca: false },
      keyUsage: ['digitalSignature'],
    },
    issuerFromCertificate(intermediate.certDer, intermediate.key),
  );
  return signCertificate(prepared);
}

describe('LedgerSource: statuses from the ledger (RFC 6960 §2.2)', () => {
  it('answers good for an issued certificate, signed by the delegated responder certificate it includes', async () => {
    const issued = await stack.issue();
    const reply = atOnce(new OcspResponder(freshSource()).answer(requestFor(issued.der)));
    assert.equal(reply.status, 'successful');
    const basic = successful(reply.der);
    const [single] = basic.responses;
    assert.deepEqual(single?.status, { kind: 'good' });
    assert.equal(single?.serial, issued.serial);
    // thisUpdate = now in whole seconds; nextUpdate = +1 h, here cut to the SVID's own notAfter (1 h TTL).
    assert.equal(single?.thisUpdate, Date.parse('2030-03-01T12:00:00Z'));
    assert.equal(single?.nextUpdate, Math.min(Date.parse('2030-03-01T13:00:00Z'), issued.notAfter));

    const [responderDer] = basic.certificates;
    assert.ok(responderDer !== undefined);
    const responder = new X509Certificate(responderDer);
    const intermediate = new X509Certificate(stack.material.intermediate.certDer);
    assert.ok(responder.checkIssued(intermediate) && responder.verify(intermediate.publicKey));
    assert.ok(verify('sha256', basic.tbs, { key: responder.publicKey, dsaEncoding: 'der' }, basic.signature));
    const described = describeCertificate(responderDer);
    assert.deepEqual(described.extendedKeyUsage, ['ocspSigning']);
    assert.ok(described.hasOcspNoCheck);
  });

  it('answers a SHA-256 CertID, echoing it', async () => {
    const issued = await stack.issue();
    const basic = successful(atOnce(new OcspResponder(freshSource()).answer(requestFor(issued.der, { hash: 'sha256' }))).der);
    assert.equal(basic.responses[0]?.hashAlgorithm, 'sha256');
    assert.deepEqual(basic.responses[0]?.status, { kind: 'good' });
  });

  it('answers revoked with the revocation time and reason, in the same second as the revocation', async () => {
    const issued = await stack.issue();
    const responder = new OcspResponder(freshSource());
    assert.deepEqual(successful(atOnce(responder.answer(requestFor(issued.der))).der).responses[0]?.status, { kind: 'good' });
    await stack.authority.revoke(issued.serial, 'keyCompromise');
    const basic = successful(atOnce(responder.answer(requestFor(issued.der))).der);
    assert.deepEqual(basic.responses[0]?.status, {
      kind: 'revoked',
      revokedAt: Math.floor(stack.clock.now() / 1000) * 1000,
      reason: 'keyCompromise',
    });
  });

  it('answers unknown for a serial this issuer never issued, and for the CA certificates themselves', async () => {
    const responder = new OcspResponder(freshSource());
    const never = successful(atOnce(responder.answer(requestFor(await unrecordedCertificate()))).der);
    assert.deepEqual(never.responses[0]?.status, { kind: 'unknown' });
    for (const ca of [stack.material.intermediate.certDer, stack.material.root.certDer]) {
      assert.deepEqual(successful(atOnce(responder.answer(requestFor(ca))).der).responses[0]?.status, { kind: 'unknown' });
    }
  });

  it('answers a CertID of another issuer with unauthorized (HTTP 200 body, no signature)', async () => {
    const issued = await stack.issue();
    const reply = atOnce(new OcspResponder(freshSource()).answer(requestFor(issued.der, { issuerDer: stack.material.root.certDer })));
    assert.equal(reply.status, 'unauthorized');
    assert.equal(Buffer.from(reply.der).toString('hex'), '30030a0106');
  });

  it('answers several CertIDs together, in request order, with one signature', async () => {
    const good = await stack.issue();
    const revoked = await stack.issue();
    await stack.authority.revoke(revoked.serial, 'superseded');
    const never = await unrecordedCertificate();
    const issuerDer = stack.material.intermediate.certDer;
    const signer = countingSigner();
    const der = encodeOcspRequest([
      { certificateDer: good.der, issuerDer },
      { certificateDer: revoked.der, issuerDer, hash: 'sha256' },
      { certificateDer: never, issuerDer },
    ]);
    const basic = successful(atOnce(new OcspResponder(freshSource({ signer })).answer(der)).der);
    assert.deepEqual(
      basic.responses.map((r) => r.status.kind),
      ['good', 'revoked', 'unknown'],
    );
    assert.equal(basic.responses[1]?.hashAlgorithm, 'sha256');
    assert.equal(signer.count, 1);
  });

  it('refuses the whole request when one of several CertIDs is for another issuer', async () => {
    const issued = await stack.issue();
    const der = encodeOcspRequest([
      { certificateDer: issued.der, issuerDer: stack.material.intermediate.certDer },
      { certificateDer: issued.der, issuerDer: stack.material.root.certDer },
    ]);
    assert.equal(atOnce(new OcspResponder(freshSource()).answer(der)).status, 'unauthorized');
  });
});

describe('LedgerSource: nonces (RFC 9654)', () => {
  it('echoes the nonce in a response signed for that request, never cached', async () => {
    const issued = await stack.issue();
    const signer = countingSigner();
    const source = freshSource({ signer });
    const responder = new OcspResponder(source);
    const first = atOnce(responder.answer(requestFor(issued.der, { nonce: Buffer.alloc(32, 1) })));
    const second = atOnce(responder.answer(requestFor(issued.der, { nonce: Buffer.alloc(32, 2) })));
    assert.equal(Buffer.from(successful(first.der).nonce ?? []).toString('hex'), '01'.repeat(32));
    assert.equal(Buffer.from(successful(second.der).nonce ?? []).toString('hex'), '02'.repeat(32));
    assert.equal(first.cache, undefined);
    assert.equal(signer.count, 2);
    assert.equal(source.size, 0);
    // The same nonce again is signed again: nothing with a nonce is kept.
    atOnce(responder.answer(requestFor(issued.der, { nonce: Buffer.alloc(32, 1) })));
    assert.equal(signer.count, 3);
  });

  it('answers an empty nonce and one over 128 octets with malformedRequest', async () => {
    const issued = await stack.issue();
    const responder = new OcspResponder(freshSource());
    for (const nonce of [new Uint8Array(0), new Uint8Array(129)]) {
      const reply = atOnce(responder.answer(requestFor(issued.der, { nonce })));
      assert.equal(reply.status, 'malformedRequest');
      assert.equal(Buffer.from(reply.der).toString('hex'), '30030a0101');
    }
    assert.equal(atOnce(responder.answer(requestFor(issued.der, { nonce: new Uint8Array(128) }))).status, 'successful');
  });
});

describe('LedgerSource: pre-signed responses', () => {
  it('signs once per certificate and window and serves the same bytes, found by the request bytes alone', async () => {
    const issued = await stack.issue();
    const signer = countingSigner();
    const source = freshSource({ signer });
    const responder = new OcspResponder(source);
    const request = requestFor(issued.der);
    const first = atOnce(responder.answer(request));
    const second = atOnce(responder.answer(request));
    assert.deepEqual(Buffer.from(second.der), Buffer.from(first.der));
    assert.equal(signer.count, 1);
    assert.equal(source.size, 1);
    assert.ok(source.cachedFor(Buffer.from(request).toString('base64')) !== undefined);
    // ETag: the quoted base64url SHA-256 of the bytes; dates from the response itself.
    assert.match(first.cache?.etag ?? '', /^"[A-Za-z0-9_-]{43}"$/);
    assert.equal(first.cache?.thisUpdate, successful(first.der).responses[0]?.thisUpdate);
    assert.equal(first.cache?.nextUpdate, successful(first.der).responses[0]?.nextUpdate);
  });

  it('drops the cached good at once on revocation through the Authority (onRevoked)', async () => {
    const issued = await stack.issue();
    const request = requestFor(issued.der);
    const key = Buffer.from(request).toString('base64');
    // The stack's own source is the one hooked to Authority.onRevoked.
    assert.equal(atOnce(stack.responder.answer(request)).status, 'successful');
    assert.ok(stack.source.cachedFor(key) !== undefined);
    await stack.authority.revoke(issued.serial, 'cessationOfOperation');
    assert.equal(stack.source.cachedFor(key), undefined);
    assert.equal(successful(atOnce(stack.responder.answer(request)).der).responses[0]?.status.kind, 'revoked');
  });

  it('never serves a cached good for a certificate revoked behind its back (another process wrote the ledger)', async () => {
    const issued = await stack.issue();
    const source = freshSource();
    const responder = new OcspResponder(source);
    const request = requestFor(issued.der);
    assert.equal(successful(atOnce(responder.answer(request)).der).responses[0]?.status.kind, 'good');
    // The ledger directly, as `keysmith revoke` in another process does: no listener runs here.
    stack.ledger.certificates.revoke(issued.serial, 'keyCompromise', stack.clock.now());
    assert.equal(source.cachedFor(Buffer.from(request).toString('base64')), undefined);
    assert.deepEqual(successful(atOnce(responder.answer(request)).der).responses[0]?.status, {
      kind: 'revoked',
      revokedAt: Math.floor(stack.clock.now() / 1000) * 1000,
      reason: 'keyCompromise',
    });
  });

  it('re-signs after half the window, and never serves a response past its nextUpdate', async () => {
    const clock = new FixedClock(stack.clock.now());
    const local = await ocspStack({ clock, validityMs: HOUR });
    try {
      const issued = await local.issue('long', 24 * HOUR);
      const request = requestFor(issued.der, { issuerDer: local.material.intermediate.certDer });
      const first = successful(atOnce(local.responder.answer(request)).der).responses[0];
      assert.equal(first?.nextUpdate, (first?.thisUpdate ?? 0) + HOUR);
      clock.advance(29 * 60_000);
      assert.equal(successful(atOnce(local.responder.answer(request)).der).responses[0]?.thisUpdate, first?.thisUpdate);
      clock.advance(60_000);
      const refreshed = successful(atOnce(local.responder.answer(request)).der).responses[0];
      assert.equal(refreshed?.thisUpdate, Math.floor(clock.now() / 1000) * 1000);
      assert.ok((refreshed?.nextUpdate ?? 0) > clock.now() + 30 * 60_000 - 1000);
    } finally {
      local.close();
    }
  });

  it('never sets nextUpdate past the responder certificate', async () => {
    const issued = await stack.issue('short-signer', 24 * HOUR);
    const soon = Math.floor(stack.clock.now() / 1000) * 1000 + 10 * 60_000;
    const basic = successful(atOnce(new OcspResponder(freshSource({ signer: countingSigner(soon) })).answer(requestFor(issued.der))).der);
    assert.equal(basic.responses[0]?.nextUpdate, soon);
  });

  it('answers internalError, never a stale signature, when the responder certificate has expired', async () => {
    const issued = await stack.issue();
    const expired = Math.floor(stack.clock.now() / 1000) * 1000 - 1000;
    const reply = atOnce(new OcspResponder(freshSource({ signer: countingSigner(expired) })).answer(requestFor(issued.der)));
    assert.equal(reply.status, 'internalError');
    assert.equal(Buffer.from(reply.der).toString('hex'), '30030a0102');
    assert.ok(reply.fault instanceof Error);
  });

  it('keeps no unknown answers, so random serials cannot fill the cache', async () => {
    const source = freshSource();
    const responder = new OcspResponder(source);
    for (let i = 0; i < 3; i++) assert.equal(atOnce(responder.answer(requestFor(await unrecordedCertificate()))).status, 'successful');
    assert.equal(source.size, 0);
  });

  it('is bounded: the oldest response goes first', async () => {
    const source = freshSource({ maxCachedResponses: 2 });
    const responder = new OcspResponder(source);
    const certs = [await stack.issue(), await stack.issue(), await stack.issue()];
    for (const cert of certs) atOnce(responder.answer(requestFor(cert.der)));
    assert.equal(source.size, 2);
    assert.equal(source.cachedFor(Buffer.from(requestFor(certs[0]?.der ?? new Uint8Array())).toString('base64')), undefined);
    assert.ok(source.cachedFor(Buffer.from(requestFor(certs[2]?.der ?? new Uint8Array())).toString('base64')) !== undefined);
  });

  it('shares one response between SHA-1 GET-style and POST-style requests only when the CertID is the same', async () => {
    const issued = await stack.issue();
    const signer = countingSigner();
    const responder = new OcspResponder(freshSource({ signer }));
    atOnce(responder.answer(requestFor(issued.der)));
    atOnce(responder.answer(requestFor(issued.der, { hash: 'sha256' })));
    atOnce(responder.answer(requestFor(issued.der)));
    atOnce(responder.answer(requestFor(issued.der, { hash: 'sha256' })));
    assert.equal(signer.count, 2);
  });
});

describe('OcspResponder: failures as OCSP statuses (STYLE §4)', () => {
  it('maps undecodable input to malformedRequest and a throwing source to internalError with the fault kept for the log', () => {
    const broken = new OcspResponder({
      cachedFor: () => undefined,
      response: () => {
        throw new Error('disk on fire');
      },
    });
    assert.equal(atOnce(broken.answer(Buffer.from('garbage'))).status, 'malformedRequest');
    const issuerDer = stack.material.intermediate.certDer;
    const fault = atOnce(broken.answer(encodeOcspRequest([{ certificateDer: issuerDer, issuerDer }])));
    assert.equal(fault.status, 'internalError');
    assert.match(String(fault.fault), /disk on fire/);
    assert.equal(atOnce(broken.answerGet('***')).status, 'malformedRequest');
  });
});
