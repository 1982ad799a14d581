import { afterEach, beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { initCertificateAuthority, type InitResult } from '../../../src/ca/index.js';
import { openLedger, type Ledger } from '../../../src/ledger/index.js';
import {
  activeIntermediate,
  CaMismatchError,
  checkCaAgainstLedger,
  joinCertificateAuthority,
  localIntermediate,
  type CaLedger,
} from '../../../src/cli/ca-join.js';
import type { Clock } from '../../../src/shared/clock.js';

/**
 * The join check on a real SQLite ledger: `<dataDir>/ca/` against the
 * ledger's active intermediate. Each case runs twice: on the repository as
 * it is (synchronous) and behind a port that answers with promises, the way
 * the PostgreSQL repository does, since the check must not care.
 */

const TRUST_DOMAIN = 'cluster.test';
const DAY_MS = 86_400_000;

const PORTS: ReadonlyArray<{ name: string; wrap: (ledger: Ledger) => CaLedger }> = [
  { name: 'synchronous port', wrap: (ledger) => ledger.certificates },
  { name: 'asynchronous port', wrap: (ledger) => ({ list: async (query) => ledger.certificates.list(query) }) },
];

function clockAt(ms: number): Clock {
  return { now: () => ms };
}

for (const port of PORTS) {
  describe(`joining the CA recorded in the ledger (${port.name})`, () => {
    let root: string;
    let ledger: Ledger;
    const now = Date.now();

    function dataDir(name: string): string {
      return join(root, name);
    }

    function join_(dir: string, clock: Clock = clockAt(now), store: Ledger = ledger): Promise<InitResult> {
      return joinCertificateAuthority({
        ledger: port.wrap(store),
        dataDir: dir,
        now: () => clock.now(),
        init: () => initCertificateAuthority({ dataDir: dir, trustDomain: TRUST_DOMAIN, store: store.certificates, clock }),
      });
    }

    function intermediatesInLedger(store: Ledger = ledger): string[] {
      return store.certificates
        .list({ profile: 'intermediate', limit: 500 })
        .items.map((c) => c.fingerprint)
        .sort();
    }

    beforeEach(() => {
      root = mkdtempSync(join(tmpdir(), 'keysmith-ca-join-'));
      ledger = openLedger({ path: join(root, 'ledger.db') });
    });

    afterEach(() => {
      ledger.close();
      rmSync(root, { recursive: true, force: true });
    });

    it('on an empty ledger, creates the CA once and records its intermediate; the ledger then names it as active', async () => {
      assert.deepEqual(await checkCaAgainstLedger(port.wrap(ledger), dataDir('first'), now), { outcome: 'ledger-empty' });
      const first = await join_(dataDir('first'));
      assert.equal(first.created, true);
      const local = localIntermediate(dataDir('first'));
      assert.ok(local !== undefined);
      assert.deepEqual(intermediatesInLedger(), [local.fingerprint]);
      assert.deepEqual(await activeIntermediate(port.wrap(ledger), now), local);
    });

    it('a second init with the same ca/ on the same ledger creates nothing and records nothing', async () => {
      await join_(dataDir('first'));
      const before = ledger.certificates.count();
      const second = await join_(dataDir('first'));
      assert.equal(second.created, false);
      assert.deepEqual(second.warnings, []);
      assert.equal(ledger.certificates.count(), before);
    });

    it('a node with a copy of the first node’s ca/ joins: same intermediate, no new CA', async () => {
      const first = await join_(dataDir('first'));
      cpSync(join(dataDir('first'), 'ca'), join(dataDir('second'), 'ca'), { recursive: true });
      const second = await join_(dataDir('second'));
      assert.equal(second.created, false);
      assert.deepEqual(Buffer.from(second.material.intermediate.certDer), Buffer.from(first.material.intermediate.certDer));
      assert.equal(intermediatesInLedger().length, 1);
    });

    it('a node with no ca/ on a ledger that has a CA refuses, names the ledger’s intermediate, and writes nothing', async () => {
      await join_(dataDir('first'));
      const active = localIntermediate(dataDir('first'));
      assert.ok(active !== undefined);
      await assert.rejects(join_(dataDir('stray')), (err: unknown) => {
        assert.ok(err instanceof CaMismatchError);
        assert.match(err.message, new RegExp(`active intermediate CA is serial ${active.serial} \\(SHA-256 ${active.fingerprint}\\)`));
        assert.match(err.message, /holds no CA: copy the first node's <dataDir>\/ca\/ directory/);
        return true;
      });
      assert.equal(existsSync(dataDir('stray')), false, 'no second CA was made');
      assert.equal(intermediatesInLedger().length, 1);
    });

    it('a node whose ca/ is another CA refuses, naming both intermediates; the ledger is unchanged', async () => {
      await join_(dataDir('first'));
      const otherLedger = openLedger({ path: join(root, 'other.db') });
      try {
        await join_(dataDir('other'), clockAt(now), otherLedger);
      } finally {
        otherLedger.close();
      }
      const ours = localIntermediate(dataDir('first'));
      const theirs = localIntermediate(dataDir('other'));
      assert.ok(ours !== undefined && theirs !== undefined);
      assert.notEqual(ours.fingerprint, theirs.fingerprint);
      const before = intermediatesInLedger();
      await assert.rejects(join_(dataDir('other')), (err: unknown) => {
        assert.ok(err instanceof CaMismatchError);
        assert.match(err.message, new RegExp(`holds intermediate CA serial ${theirs.serial} \\(SHA-256 ${theirs.fingerprint}\\)`));
        assert.match(
          err.message,
          new RegExp(`the ledger's active intermediate is serial ${ours.serial} \\(SHA-256 ${ours.fingerprint}\\)`),
        );
        return true;
      });
      assert.deepEqual(intermediatesInLedger(), before);
    });

    it('the active intermediate is the newest valid, unexpired one: a rotation moves it, revoking the new one moves it back', async () => {
      await join_(dataDir('first'));
      // A later CA recorded in the same ledger (as a rotation would), made a day later so its notBefore is later.
      await initCertificateAuthority({
        dataDir: dataDir('rotated'),
        trustDomain: TRUST_DOMAIN,
        store: ledger.certificates,
        clock: clockAt(now + DAY_MS),
      });
      const first = localIntermediate(dataDir('first'));
      const rotated = localIntermediate(dataDir('rotated'));
      assert.ok(first !== undefined && rotated !== undefined);
      assert.deepEqual(await activeIntermediate(port.wrap(ledger), now + DAY_MS), rotated);
      await assert.rejects(checkCaAgainstLedger(port.wrap(ledger), dataDir('first'), now + DAY_MS), CaMismatchError);
      assert.deepEqual(await checkCaAgainstLedger(port.wrap(ledger), dataDir('rotated'), now + DAY_MS), {
        outcome: 'match',
        intermediate: rotated,
      });

      ledger.certificates.revoke(rotated.serial, 'superseded', now + DAY_MS);
      assert.deepEqual(await activeIntermediate(port.wrap(ledger), now + DAY_MS), first);
      // Past every intermediate's notAfter nothing is active.
      assert.equal(await activeIntermediate(port.wrap(ledger), first.notAfter + 1), undefined);
    });

    it('a joining node’s data directory holds only its ca/ afterwards (no staging directories)', async () => {
      await join_(dataDir('first'));
      cpSync(join(dataDir('first'), 'ca'), join(dataDir('copy'), 'ca'), { recursive: true });
      await join_(dataDir('copy'));
      assert.deepEqual(readdirSync(dataDir('copy')).sort(), ['ca']);
    });
  });
}
