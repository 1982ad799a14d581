import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  arlPath,
  Authority,
  caPaths,
  intermediateStates,
  loadCertificateAuthority,
  prepareIntermediate,
  revokeIntermediate,
  type CaOpsContext,
} from '../../../src/ca/index.js';
import { CaWatch, type CaSnapshot } from '../../../src/cli/ca-watch.js';
import type { RevocationReason } from '../../../src/domain/certificates.js';
import { describeCrl } from '../../../src/x509/index.js';
import { existsSync } from 'node:fs';
import { openCaFixture, TD, type CaFixture } from '../ca/ca-fixture.js';

/**
 * `keysmith ca revoke-intermediate` against `serve`'s ca/ watcher
 * (src/cli/ca-watch.ts): the command writes ca/arl.der and records the
 * revocation in the ledger; the watcher drops an intermediate from the trust
 * bundle when the ledger records it revoked. A reload between the command's
 * two writes must never see the intermediate gone from the bundle while the
 * ARL (/crl/root) does not list it. The reloads are driven at the exact
 * points around the ledger write through the store the command is given
 * (a pass-through over the real SQLite repository), not by timing.
 */
const HOUR = 3_600_000;

interface Fixture extends CaFixture {
  readonly watch: CaWatch;
}

/** A CA and `serve`'s watcher over its directory and ledger. */
async function fixture(name: string): Promise<Fixture> {
  const f = await openCaFixture(name);
  const { dir, ledger, clock } = f;
  const material = await loadCertificateAuthority({ dataDir: dir, trustDomain: TD, clock });
  const authority = new Authority({ material, store: ledger.certificates, clock });
  return { ...f, watch: new CaWatch({ dataDir: dir, trustDomain: TD, clock, ledger: ledger.certificates, authority }) };
}

/** What one reload served: the bundle's intermediates and the ARL's serials. */
function served(snapshot: CaSnapshot): { readonly bundle: string[]; readonly arl: string[] } {
  return {
    bundle: snapshot.published.map((i) => i.serial),
    arl: snapshot.arl === undefined ? [] : describeCrl(snapshot.arl).entries.map((e) => e.serial),
  };
}

/** The command's store with a watcher reload just before and just after the ledger records the revocation. */
function reloadingAroundRevoke(f: Fixture, seen: { readonly bundle: string[]; readonly arl: string[] }[]): CaOpsContext['store'] {
  const inner = f.ledger.certificates;
  return {
    findBySerial: (serial) => inner.findBySerial(serial),
    recordIssued: (record) => inner.recordIssued(record),
    statusOf: (serial) => inner.statusOf(serial),
    revoke: async (serial: string, reason: RevocationReason, revokedAt: number) => {
      seen.push(served(await f.watch.refresh()));
      const record = inner.revoke(serial, reason, revokedAt);
      seen.push(served(await f.watch.refresh()));
      return record;
    },
  };
}

describe('ca revoke-intermediate while serve reloads ca/', () => {
  it('no reload sees the intermediate gone from the bundle without the ARL listing it', async () => {
    const f = await fixture('arl-order');
    try {
      const [original] = await intermediateStates(f.ctx);
      const successor = await prepareIntermediate(f.ctx, f.clock.now() + 24 * HOUR);
      const revokedSerial = original?.serial ?? '';
      assert.deepEqual(served(await f.watch.refresh()), { bundle: [revokedSerial, successor.serial], arl: [] });
      f.clock.advance(1_000);
      const seen: { readonly bundle: string[]; readonly arl: string[] }[] = [];
      await revokeIntermediate({ ...f.ctx, store: reloadingAroundRevoke(f, seen) }, revokedSerial, 'keyCompromise');
      // Between the two writes the ARL lists it and the bundle still has it; after both, only the ARL does.
      assert.deepEqual(seen, [
        { bundle: [revokedSerial, successor.serial], arl: [revokedSerial] },
        { bundle: [successor.serial], arl: [revokedSerial] },
      ]);
    } finally {
      f.close();
    }
  });

  it('a crash after the ARL and before the ledger: the ARL lists it, and rerunning the command records it', async () => {
    const f = await fixture('arl-crash');
    try {
      const [original] = await intermediateStates(f.ctx);
      await prepareIntermediate(f.ctx, f.clock.now() + 24 * HOUR);
      const revokedSerial = original?.serial ?? '';
      f.clock.advance(1_000);
      const crashing: CaOpsContext['store'] = {
        findBySerial: (serial) => f.ledger.certificates.findBySerial(serial),
        recordIssued: (record) => f.ledger.certificates.recordIssued(record),
        statusOf: (serial) => f.ledger.certificates.statusOf(serial),
        revoke: () => {
          throw new Error('the process died here');
        },
      };
      await assert.rejects(revokeIntermediate({ ...f.ctx, store: crashing }, revokedSerial, 'keyCompromise'), /the process died here/);
      assert.equal(f.ledger.certificates.statusOf(revokedSerial)?.status, 'valid');
      assert.equal(existsSync(arlPath(caPaths(f.ctx.dataDir).dir)), true);
      assert.deepEqual(served(await f.watch.refresh()).arl, [revokedSerial]);
      f.clock.advance(1_000);
      await revokeIntermediate(f.ctx, revokedSerial, 'keyCompromise');
      assert.equal(f.ledger.certificates.statusOf(revokedSerial)?.status, 'revoked');
      const after = served(await f.watch.refresh());
      assert.deepEqual(after.arl, [revokedSerial]);
      assert.equal(after.bundle.includes(revokedSerial), false);
    } finally {
      f.close();
    }
  });
});
