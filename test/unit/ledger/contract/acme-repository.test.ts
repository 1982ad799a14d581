import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { OpenedLedger } from '../../../../src/ledger/index.js';
import { isDomainError, type DomainErrorKind } from '../../../../src/shared/errors.js';
import { FINALIZE_INTERRUPTED_AFTER_MS } from '../../../../src/ledger/postgres/acme-order-repository.js';
import { BACKENDS, type OpenedTestLedger } from '../../../helpers/backends.js';
import { NOW } from '../ledger-fixtures.js';
import { DAY, recordCertificate, newAccount, newAuthorization, newOrder, TestClock, uniqueId } from './acme-fixtures.js';

/**
 * The ACME repository's contract: every method, the same answers on SQLite
 * and on PostgreSQL. One ledger per backend; each test makes its own account.
 */

async function rejectsWith(work: () => unknown, kind: DomainErrorKind): Promise<void> {
  await assert.rejects(
    async () => work(),
    (error: unknown) => isDomainError(error, kind),
  );
}

const PROBLEM = { type: 'urn:ietf:params:acme:error:incorrectResponse', detail: 'wrong token' };

for (const backend of BACKENDS) {
  describe(`ACME repository: ${backend.name}`, () => {
    const clock = new TestClock();
    let test: OpenedTestLedger;
    let opened: OpenedLedger;

    before(async () => {
      test = await backend.open({ clock });
      opened = test.opened;
    });
    after(() => test.dispose());

    async function account(): Promise<string> {
      const created = await opened.ledger.acme.accounts.createAccount(newAccount());
      return created.id;
    }

    it('stores EAB keys, finds them byte for byte, refuses a second key with the same id', async () => {
      const acme = opened.ledger.acme;
      const keyId = uniqueId('eab');
      const hmacKey = Uint8Array.from({ length: 32 }, (_, i) => i * 7);
      await acme.eabKeys.createEabKey({
        keyId,
        hmacKey,
        createdAt: NOW,
        createdBy: 'cli:test',
        boundAccount: null,
        boundAt: null,
        revokedAt: null,
      });
      assert.deepEqual(await acme.eabKeys.findEabKey(keyId), {
        keyId,
        hmacKey,
        createdAt: NOW,
        createdBy: 'cli:test',
        boundAccount: null,
        boundAt: null,
        revokedAt: null,
      });
      await rejectsWith(
        () =>
          acme.eabKeys.createEabKey({
            keyId,
            hmacKey: new Uint8Array(16),
            createdAt: NOW,
            createdBy: 'cli:other',
            boundAccount: null,
            boundAt: null,
            revokedAt: null,
          }),
        'conflict',
      );
      assert.equal((await acme.eabKeys.findEabKey(keyId))?.createdBy, 'cli:test');
      assert.equal(await acme.eabKeys.findEabKey('eab-none'), undefined);
    });

    it('creates an account, finds it by id and thumbprint, refuses a second account for the key and keeps nothing of it', async () => {
      const acme = opened.ledger.acme;
      const first = newAccount();
      const created = await acme.accounts.createAccount(first);
      assert.deepEqual(created, { ...first, status: 'valid' });
      assert.deepEqual(await acme.accounts.findAccount(first.id), created);
      assert.deepEqual(await acme.accounts.findAccountByThumbprint(first.keyThumbprint), created);
      const twin = newAccount({ keyThumbprint: first.keyThumbprint });
      await rejectsWith(() => acme.accounts.createAccount(twin), 'conflict');
      assert.equal(await acme.accounts.findAccount(twin.id), undefined);
      assert.equal(await acme.accounts.findAccount('acct-none'), undefined);
    });

    it('binds an EAB key to one account; a second binding or an unknown key leaves no account behind', async () => {
      const acme = opened.ledger.acme;
      const keyId = uniqueId('eab');
      await acme.eabKeys.createEabKey({
        keyId,
        hmacKey: new Uint8Array(32).fill(1),
        createdAt: NOW,
        createdBy: 'cli:test',
        boundAccount: null,
        boundAt: null,
        revokedAt: null,
      });
      const bound = newAccount({ eabKeyId: keyId, createdAt: NOW + 5 });
      assert.equal((await acme.accounts.createAccount(bound)).eabKeyId, keyId);
      const key = await acme.eabKeys.findEabKey(keyId);
      assert.equal(key?.boundAccount, bound.id);
      assert.equal(key?.boundAt, NOW + 5);

      const second = newAccount({ eabKeyId: keyId });
      await rejectsWith(() => acme.accounts.createAccount(second), 'conflict');
      assert.equal(await acme.accounts.findAccount(second.id), undefined);
      const unknown = newAccount({ eabKeyId: 'eab-unknown' });
      await rejectsWith(() => acme.accounts.createAccount(unknown), 'conflict');
      assert.equal(await acme.accounts.findAccount(unknown.id), undefined);
      assert.equal((await acme.eabKeys.findEabKey(keyId))?.boundAccount, bound.id);
    });

    it("updates the contact and the key; another account's key is a conflict, an unknown account notFound", async () => {
      const acme = opened.ledger.acme;
      const id = await account();
      assert.deepEqual((await acme.accounts.updateAccountContact(id, ['mailto:a@example.test', 'mailto:b@example.test'])).contact, [
        'mailto:a@example.test',
        'mailto:b@example.test',
      ]);
      const other = await acme.accounts.createAccount(newAccount());
      const jwk = JSON.stringify({ kty: 'OKP', crv: 'Ed25519', x: 'new' });
      const changed = await acme.accounts.changeAccountKey(id, jwk, 'n'.repeat(43));
      assert.equal(changed.jwk, jwk);
      assert.equal((await acme.accounts.findAccountByThumbprint('n'.repeat(43)))?.id, id);
      await rejectsWith(() => acme.accounts.changeAccountKey(id, jwk, other.keyThumbprint), 'conflict');
      assert.equal((await acme.accounts.findAccount(id))?.keyThumbprint, 'n'.repeat(43));
      await rejectsWith(() => acme.accounts.changeAccountKey('acct-none', jwk, 'm'.repeat(43)), 'notFound');
      await rejectsWith(() => acme.accounts.updateAccountContact('acct-none', []), 'notFound');
    });

    it('creates an order with its authorizations and challenges, reused ones first, and lists orders newest first', async () => {
      const acme = opened.ledger.acme;
      const id = await account();
      const authz = newAuthorization(id, 'www.example.test');
      const wildcard = newAuthorization(id, 'example.test', ['dns-01'], { isWildcard: true });
      const order = newOrder(id, [authz, wildcard]);
      const outcome = await acme.orders.createOrder(order, NOW);
      assert.equal(outcome.ok, true);
      const expected = {
        id: order.id,
        accountId: id,
        status: 'pending',
        identifiers: [
          { type: 'dns', value: 'www.example.test' },
          { type: 'dns', value: '*.example.test' },
        ],
        notBefore: null,
        notAfter: null,
        expiresAt: NOW + 7 * DAY,
        createdAt: NOW,
        error: null,
        certificateSerial: null,
        replaces: null,
        replacesSerial: null,
        authorizationIds: [authz.id, wildcard.id],
      };
      assert.deepEqual(outcome.ok ? outcome.order : undefined, expected);
      assert.deepEqual(await acme.orders.findOrder(order.id), expected);

      const found = await acme.authorizations.findAuthorization(authz.id);
      assert.deepEqual(found, {
        id: authz.id,
        accountId: id,
        identifier: { type: 'dns', value: 'www.example.test' },
        isWildcard: false,
        status: 'pending',
        expiresAt: NOW + DAY,
        createdAt: NOW,
        challenges: authz.challenges.map((c) => ({ ...c, status: 'pending', validatedAt: null, error: null })),
      });
      assert.equal((await acme.authorizations.findAuthorization(wildcard.id))?.isWildcard, true);
      const first = authz.challenges[0];
      assert.ok(first !== undefined);
      assert.deepEqual(await acme.authorizations.findChallenge(first.id), { ...first, status: 'pending', validatedAt: null, error: null });
      assert.equal(await acme.authorizations.findChallenge('chall-none'), undefined);
      // The authorization holding a challenge, read in one go, is the same record whichever challenge names it.
      for (const challenge of authz.challenges) assert.deepEqual(await acme.authorizations.findChallengeAuthorization(challenge.id), found);
      assert.equal(await acme.authorizations.findChallengeAuthorization('chall-none'), undefined);
      assert.equal(await acme.authorizations.findAuthorization('authz-none'), undefined);
      assert.equal(await acme.orders.findOrder('order-none'), undefined);

      // A second order reusing the first's authorization (made valid here) and adding a new one.
      await makeValid(authz.id, authz.challenges[0]?.id ?? '');
      const fresh = newAuthorization(id, 'api.example.test');
      const later = newOrder(id, [fresh], { createdAt: NOW + 1, reusedAuthorizationIds: [authz.id] });
      const second = await acme.orders.createOrder(later, NOW + 1);
      assert.deepEqual(second.ok ? second.order.authorizationIds : [], [authz.id, fresh.id]);
      assert.deepEqual(await acme.orders.listOrderIds(id, 10), [later.id, order.id]);
      assert.deepEqual(await acme.orders.listOrderIds(id, 1), [later.id]);
      assert.deepEqual(await acme.orders.listOrderIds('acct-none', 10), []);
    });

    async function makeValid(authzId: string, challengeId: string): Promise<void> {
      const acme = opened.ledger.acme;
      assert.equal(await acme.authorizations.startChallenge(challengeId, NOW), true);
      assert.equal(
        await acme.authorizations.recordValidation(challengeId, {
          ok: true,
          validatedAt: NOW + 10,
          authorizationExpiresAt: NOW + 30 * DAY,
        }),
        0,
      );
      assert.equal((await acme.authorizations.findAuthorization(authzId))?.status, 'valid');
    }

    it('refuses a second live order replacing one certificate (RFC 9773), and allows one once the first has expired', async () => {
      const acme = opened.ledger.acme;
      const id = await account();
      const serial = await recordCertificate(opened, `acme:${id}`);
      const replacing = { replaces: `aki.${serial}`, replacesSerial: serial };
      const first = newOrder(id, [newAuthorization(id, 'r.example.test')], { ...replacing, expiresAt: NOW + DAY });
      assert.equal((await acme.orders.createOrder(first, NOW)).ok, true);
      const second = newOrder(id, [newAuthorization(id, 'r.example.test')], replacing);
      assert.deepEqual(await acme.orders.createOrder(second, NOW), { ok: false, reason: 'alreadyReplaced' });
      assert.equal(await acme.orders.findOrder(second.id), undefined);
      assert.equal(await acme.authorizations.findAuthorization(second.newAuthorizations[0]?.id ?? ''), undefined);
      // The first order, still pending, has expired by NOW + DAY: it no longer holds the certificate.
      const third = newOrder(id, [newAuthorization(id, 'r.example.test')], replacing);
      assert.equal((await acme.orders.createOrder(third, NOW + DAY)).ok, true);
    });

    it('starts one challenge per authorization, only while the authorization is pending and unexpired', async () => {
      const acme = opened.ledger.acme;
      const id = await account();
      const authz = newAuthorization(id, 's.example.test');
      await acme.orders.createOrder(newOrder(id, [authz]), NOW);
      const [http, dns] = authz.challenges.map((c) => c.id);
      assert.ok(http !== undefined && dns !== undefined);
      assert.equal(await acme.authorizations.startChallenge(http, NOW), true);
      assert.equal(await acme.authorizations.startChallenge(http, NOW), false, 'already processing');
      assert.equal(await acme.authorizations.startChallenge(dns, NOW), false, 'another challenge of the authorization is processing');
      assert.equal((await acme.authorizations.findChallenge(http))?.status, 'processing');
      assert.equal((await acme.authorizations.findChallenge(dns))?.status, 'pending');
      assert.equal(await acme.authorizations.startChallenge('chall-none', NOW), false);

      const expiring = newAuthorization(id, 'e.example.test');
      await acme.orders.createOrder(newOrder(id, [expiring]), NOW);
      assert.equal(await acme.authorizations.startChallenge(expiring.challenges[0]?.id ?? '', NOW + DAY), false, 'expired authorization');
      assert.deepEqual(
        (await acme.authorizations.listInterruptedChallenges())
          .filter((c) => c.authorizationId === authz.id || c.authorizationId === expiring.id)
          .map((c) => c.id),
        [http],
      );
    });

    it('a valid challenge makes its authorization valid, and the order ready once every authorization is', async () => {
      const acme = opened.ledger.acme;
      const id = await account();
      const a = newAuthorization(id, 'a.example.test');
      const b = newAuthorization(id, 'b.example.test');
      const order = newOrder(id, [a, b]);
      await acme.orders.createOrder(order, NOW);
      const aChallenge = a.challenges[0]?.id ?? '';
      await makeValid(a.id, aChallenge);
      assert.deepEqual(await acme.authorizations.findChallenge(aChallenge), {
        ...a.challenges[0],
        status: 'valid',
        validatedAt: NOW + 10,
        error: null,
      });
      assert.equal((await acme.authorizations.findAuthorization(a.id))?.expiresAt, NOW + 30 * DAY);
      assert.equal((await acme.orders.findOrder(order.id))?.status, 'pending');
      await makeValid(b.id, b.challenges[1]?.id ?? '');
      assert.equal((await acme.orders.findOrder(order.id))?.status, 'ready');
      // An outcome for a challenge no longer processing changes nothing.
      await acme.authorizations.recordValidation(aChallenge, { ok: false, error: PROBLEM });
      assert.equal((await acme.authorizations.findChallenge(aChallenge))?.status, 'valid');
      await rejectsWith(() => acme.authorizations.recordValidation('chall-none', { ok: false, error: PROBLEM }), 'notFound');

      const reusable = await acme.authorizations.findReusableAuthorization(
        id,
        { type: 'dns', value: 'a.example.test' },
        false,
        NOW + 29 * DAY,
      );
      assert.equal(reusable?.id, a.id);
      assert.equal(
        await acme.authorizations.findReusableAuthorization(id, { type: 'dns', value: 'a.example.test' }, false, NOW + 30 * DAY),
        undefined,
      );
      assert.equal(await acme.authorizations.findReusableAuthorization(id, { type: 'dns', value: 'a.example.test' }, true, NOW), undefined);
      assert.equal(
        await acme.authorizations.findReusableAuthorization(uniqueId('acct'), { type: 'dns', value: 'a.example.test' }, false, NOW),
        undefined,
      );
    });

    it('a failed challenge fails its authorization and the orders holding it (RFC 8555 §7.1.6)', async () => {
      const acme = opened.ledger.acme;
      const id = await account();
      const authz = newAuthorization(id, 'f.example.test');
      const order = newOrder(id, [authz]);
      await acme.orders.createOrder(order, NOW);
      const challenge = authz.challenges[2]?.id ?? '';
      assert.equal(await acme.authorizations.startChallenge(challenge, NOW), true);
      // The count of orders it made invalid feeds keysmith_acme_orders_total{outcome="invalid"}; a repeat changes nothing.
      assert.equal(await acme.authorizations.recordValidation(challenge, { ok: false, error: PROBLEM }), 1);
      assert.equal(await acme.authorizations.recordValidation(challenge, { ok: false, error: PROBLEM }), 0);
      assert.deepEqual(await acme.authorizations.findChallenge(challenge), {
        ...authz.challenges[2],
        status: 'invalid',
        validatedAt: null,
        error: PROBLEM,
      });
      assert.equal((await acme.authorizations.findAuthorization(authz.id))?.status, 'invalid');
      const failed = await acme.orders.findOrder(order.id);
      assert.equal(failed?.status, 'invalid');
      assert.deepEqual(failed?.error, PROBLEM);
    });

    it('deactivates an authorization once, failing its live orders (RFC 8555 §7.5.2)', async () => {
      const acme = opened.ledger.acme;
      const id = await account();
      const authz = newAuthorization(id, 'd.example.test');
      const order = newOrder(id, [authz]);
      await acme.orders.createOrder(order, NOW);
      assert.equal(await acme.authorizations.deactivateAuthorization(authz.id), true);
      assert.equal(await acme.authorizations.deactivateAuthorization(authz.id), false);
      assert.equal((await acme.authorizations.findAuthorization(authz.id))?.status, 'deactivated');
      assert.deepEqual((await acme.orders.findOrder(order.id))?.error, {
        type: 'urn:ietf:params:acme:error:unauthorized',
        detail: 'an authorization of this order was deactivated',
      });
      assert.equal(await acme.authorizations.deactivateAuthorization('authz-none'), false);
    });

    it('deactivates an account with its live orders and authorizations, and leaves finished ones alone', async () => {
      const acme = opened.ledger.acme;
      const id = await account();
      const live = newAuthorization(id, 'live.example.test');
      const liveOrder = newOrder(id, [live]);
      await acme.orders.createOrder(liveOrder, NOW);
      const failing = newAuthorization(id, 'failed.example.test');
      const failedOrder = newOrder(id, [failing]);
      await acme.orders.createOrder(failedOrder, NOW);
      assert.equal(await acme.authorizations.startChallenge(failing.challenges[0]?.id ?? '', NOW), true);
      await acme.authorizations.recordValidation(failing.challenges[0]?.id ?? '', { ok: false, error: PROBLEM });

      assert.equal((await acme.accounts.deactivateAccount(id)).status, 'deactivated');
      assert.equal((await acme.authorizations.findAuthorization(live.id))?.status, 'deactivated');
      assert.equal((await acme.authorizations.findAuthorization(failing.id))?.status, 'invalid');
      assert.deepEqual((await acme.orders.findOrder(liveOrder.id))?.error, {
        type: 'urn:ietf:params:acme:error:unauthorized',
        detail: 'the account was deactivated',
      });
      assert.deepEqual((await acme.orders.findOrder(failedOrder.id))?.error, PROBLEM);
      await rejectsWith(() => acme.accounts.deactivateAccount('acct-none'), 'notFound');
    });

    it('finalizes once: ready -> processing -> valid with the serial; abort returns it to ready', async () => {
      const acme = opened.ledger.acme;
      const id = await account();
      const authz = newAuthorization(id, 'fin.example.test');
      const order = newOrder(id, [authz]);
      await acme.orders.createOrder(order, NOW);
      assert.equal(await acme.orders.beginFinalize(order.id), false, 'a pending order is not ready');
      await makeValid(authz.id, authz.challenges[0]?.id ?? '');
      assert.equal(await acme.orders.beginFinalize(order.id), true);
      assert.equal(await acme.orders.beginFinalize(order.id), false, 'already processing');
      await acme.orders.abortFinalize(order.id);
      assert.equal((await acme.orders.findOrder(order.id))?.status, 'ready');
      assert.equal(await acme.orders.beginFinalize(order.id), true);
      const serial = await recordCertificate(opened, `acme:${id}`);
      const done = await acme.orders.completeFinalize(order.id, serial);
      assert.equal(done.status, 'valid');
      assert.equal(done.certificateSerial, serial);
      assert.deepEqual(done.authorizationIds, [authz.id]);
      await assert.rejects(async () => acme.orders.completeFinalize(order.id, serial), /was not processing/);
      await acme.orders.abortFinalize(order.id);
      assert.equal((await acme.orders.findOrder(order.id))?.status, 'valid', 'abort touches only a processing order');
    });

    it('resets interrupted finalizations: all on SQLite (one process), only stale ones on PostgreSQL (other nodes live)', async () => {
      const acme = opened.ledger.acme;
      const id = await account();
      const order = newOrder(id, []);
      await acme.orders.createOrder(order, NOW);
      clock.time = NOW + 1000;
      assert.equal(await acme.orders.beginFinalize(order.id), true);
      if (backend.name === 'sqlite') {
        assert.equal(await acme.orders.resetInterruptedFinalizations(), 1);
      } else {
        assert.equal(await acme.orders.resetInterruptedFinalizations(), 0, 'a finalize begun a moment ago may be running on a live node');
        assert.equal((await acme.orders.findOrder(order.id))?.status, 'processing');
        clock.time = NOW + 1000 + FINALIZE_INTERRUPTED_AFTER_MS + 1;
        assert.equal(await acme.orders.resetInterruptedFinalizations(), 1);
      }
      assert.equal((await acme.orders.findOrder(order.id))?.status, 'ready');
      clock.time = NOW;
    });
  });
}
