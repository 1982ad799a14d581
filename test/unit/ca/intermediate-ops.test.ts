import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, readdirSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  activateNow,
  arlPath,
  caPaths,
  importIntermediate,
  initCertificateAuthority,
  intermediateStates,
  loadCertificateAuthority,
  prepareIntermediate,
  requestIntermediate,
  revokeIntermediate,
  rotatedDir,
  RootKeyOfflineError,
  signIntermediateRequest,
  type CaOpsContext,
} from '../../../src/ca/index.js';
import Database from 'better-sqlite3';
import { openLedger } from '../../../src/ledger/index.js';
import { isDomainError } from '../../../src/shared/errors.js';
import { describeCrl } from '../../../src/x509/index.js';
import { FixedClock, openssl, tempDir } from './helpers.js';
import { openCaFixture, TD, type CaFixture } from './ca-fixture.js';

/**
 * The operator's CA lifecycle commands (src/ca/intermediate-ops.ts) on a
 * real CA directory and a real SQLite ledger, on a fake clock: what each
 * step writes, what the ledger records, how a crash half-way is repaired,
 * and what happens without the root key.
 */
const HOUR = 3_600_000;

const fixture = (name: string): Promise<CaFixture> => openCaFixture(name, { arlUrl: 'https://ca.example.org/crl/root' });

function serialOf(pem: string): string {
  return new X509Certificate(pem).serialNumber.toLowerCase().replace(/^(00)+/, '');
}

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (err) {
    return err;
  }
  return assert.fail('expected a rejection');
}

describe('keysmith ca rotate (root key online)', () => {
  it('writes the new intermediate beside the old, records it in the ledger, and schedules it', async () => {
    const f = await fixture('rotate');
    try {
      const original = readFileSync(caPaths(f.dir).intermediateCert, 'utf8');
      const view = await prepareIntermediate(f.ctx, f.clock.now() + 24 * HOUR);
      assert.equal(view.state, 'prepared');
      const dir = join(rotatedDir(caPaths(f.dir).dir), view.serial);
      assert.deepEqual(readdirSync(dir).sort(), ['cert.pem', 'key.pem', 'schedule.json']);
      assert.equal(statSync(join(dir, 'key.pem')).mode & 0o777, 0o600);
      assert.deepEqual(JSON.parse(readFileSync(join(dir, 'schedule.json'), 'utf8')), {
        preparedAt: f.clock.now(),
        activateAt: f.clock.now() + 24 * HOUR,
      });
      const row = f.ledger.certificates.findBySerial(view.serial);
      assert.equal(row?.profile, 'intermediate');
      assert.equal(row?.requester, 'system');
      // Its own issuer name (one CRL and one OCSP responder per intermediate), the same profile as the first.
      assert.equal(view.nameText, `O=keysmith, OU=example.org, CN=keysmith intermediate CA ${view.serial.slice(0, 16)}`);
      const text = openssl(['x509', '-noout', '-text'], { input: view.certPem });
      assert.match(text, /Basic Constraints: critical\s+CA:TRUE, pathlen:0/);
      assert.match(text, /Name Constraints: critical\s+Permitted:\s+URI:example\.org\n/);
      assert.match(text, /CRL Distribution Points:\s+Full Name:\s+URI:https:\/\/ca\.example\.org\/crl\/root/);
      // The old one still signs until the activation instant; then the new one does.
      assert.equal((await loadCertificateAuthority({ dataDir: f.dir, trustDomain: TD, clock: f.clock })).intermediate.certPem, original);
      f.clock.advance(24 * HOUR);
      const after = await loadCertificateAuthority({ dataDir: f.dir, trustDomain: TD, clock: f.clock });
      assert.equal(after.intermediate.serial, view.serial);
      assert.equal(after.intermediate.isOriginal, false);
      assert.deepEqual(
        (await intermediateStates(f.ctx)).map((i) => i.state),
        ['retiring', 'active'],
      );
    } finally {
      f.close();
    }
  });

  it('ca activate moves the activation to now; with nothing prepared it says what to run', async () => {
    const f = await fixture('activate');
    try {
      const none = await rejection(activateNow(f.ctx));
      assert.ok(isDomainError(none) && none.kind === 'notFound');
      assert.equal(none.detail, 'no prepared intermediate: run `keysmith ca rotate` first');
      const view = await prepareIntermediate(f.ctx, f.clock.now() + 24 * HOUR);
      const second = await rejection(prepareIntermediate(f.ctx, f.clock.now() + 24 * HOUR));
      assert.ok(isDomainError(second) && second.kind === 'conflict');
      assert.equal(
        second.detail,
        `intermediate ${view.serial} is already prepared (it signs from ${new Date(view.activateAt).toISOString()}): \`keysmith ca activate\` it, or wait`,
      );
      assert.equal((await intermediateStates(f.ctx)).length, 2, 'nothing more was written');
      const activated = await activateNow(f.ctx);
      assert.equal(activated.serial, view.serial);
      assert.equal(activated.state, 'active');
      assert.equal(activated.activateAt, f.clock.now());
    } finally {
      f.close();
    }
  });
});

describe('with KEYSMITH_CA_PASSPHRASE', () => {
  it('the new intermediate key is encrypted like the others, and loads only with the passphrase', async () => {
    const dir = tempDir('rotate-passphrase');
    const ledger = openLedger({ path: join(dir.path, 'keysmith.db') });
    try {
      const clock = new FixedClock(Date.now());
      const passphrase = 'correct horse battery';
      await initCertificateAuthority({ dataDir: dir.path, trustDomain: TD, store: ledger.certificates, clock, passphrase });
      const ctx: CaOpsContext = { dataDir: dir.path, trustDomain: TD, clock, store: ledger.certificates, passphrase };
      const view = await prepareIntermediate(ctx, clock.now());
      assert.match(readFileSync(view.keyPath, 'utf8'), /^-----BEGIN ENCRYPTED PRIVATE KEY-----/);
      assert.equal(
        (await loadCertificateAuthority({ dataDir: dir.path, trustDomain: TD, clock, passphrase })).intermediate.serial,
        view.serial,
      );
      await assert.rejects(
        loadCertificateAuthority({ dataDir: dir.path, trustDomain: TD, clock }),
        /is encrypted: set KEYSMITH_CA_PASSPHRASE/,
      );
    } finally {
      ledger.close();
      dir.remove();
    }
  });
});

describe('a crash in the middle of a rotation leaves a usable CA', () => {
  it('a staging directory left behind is not an intermediate', async () => {
    const f = await fixture('staging');
    try {
      const staging = join(rotatedDir(caPaths(f.dir).dir), '.staging-999-1');
      mkdirSync(staging, { recursive: true });
      writeFileSync(join(staging, 'key.pem'), 'half written');
      assert.deepEqual(
        (await intermediateStates(f.ctx)).map((i) => i.state),
        ['active'],
      );
      await loadCertificateAuthority({ dataDir: f.dir, trustDomain: TD, clock: f.clock });
    } finally {
      f.close();
    }
  });

  it('an intermediate written but not recorded (crash before the ledger write) is recorded at the next start', async () => {
    const f = await fixture('unrecorded');
    try {
      const view = await prepareIntermediate(f.ctx, f.clock.now());
      // Simulate the crash: the ledger never got the row.
      const raw = new Database(join(f.dir, 'keysmith.db'));
      raw.prepare('DELETE FROM certificates WHERE serial = ?').run(view.serial);
      raw.close();
      assert.equal(f.ledger.certificates.findBySerial(view.serial), undefined);
      const { warnings } = await initCertificateAuthority({
        dataDir: f.dir,
        trustDomain: TD,
        store: f.ledger.certificates,
        clock: f.clock,
      });
      assert.deepEqual(warnings, [`the intermediate certificate ${view.serial} was missing from the ledger and has been recorded`]);
      assert.equal(f.ledger.certificates.findBySerial(view.serial)?.profile, 'intermediate');
    } finally {
      f.close();
    }
  });
});

describe('offline root', () => {
  it('without ca/root.key.pem: rotate names the file and the offline path; the CA still loads', async () => {
    const f = await fixture('offline');
    try {
      const paths = caPaths(f.dir);
      const offline = join(f.dir, 'offline-root.key.pem');
      renameSync(paths.rootKey, offline);
      const err = await rejection(prepareIntermediate(f.ctx, f.clock.now()));
      assert.ok(err instanceof RootKeyOfflineError);
      assert.equal(
        err.message,
        `the root key ${paths.rootKey} is not here (an offline root): prepare a request with \`keysmith ca rotate --csr-out FILE\` and have it signed where the root key is; see docs/ca-lifecycle.md, "Offline root"`,
      );
      const revoke = await rejection(revokeIntermediate(f.ctx, '01', 'keyCompromise'));
      assert.ok(revoke instanceof RootKeyOfflineError);
      await loadCertificateAuthority({ dataDir: f.dir, trustDomain: TD, clock: f.clock });
    } finally {
      f.close();
    }
  });

  it('--csr-out, --sign-csr where the root is, --import-cert: the intermediate is installed with the key that never left', async () => {
    const f = await fixture('offline-flow');
    const signer = tempDir('offline-signer');
    try {
      const paths = caPaths(f.dir);
      // The offline machine holds only the root certificate and key.
      mkdirSync(join(signer.path, 'ca'), { mode: 0o700 });
      renameSync(paths.rootKey, join(signer.path, 'ca', 'root.key.pem'));
      writeFileSync(join(signer.path, 'ca', 'root.cert.pem'), readFileSync(paths.rootCert));
      const { csrPem, keyPath } = await requestIntermediate(f.ctx);
      assert.match(csrPem, /^-----BEGIN CERTIFICATE REQUEST-----/);
      assert.ok(existsSync(keyPath));
      const again = await rejection(requestIntermediate(f.ctx));
      assert.ok(isDomainError(again) && again.kind === 'conflict');

      const certPem = await signIntermediateRequest({ dataDir: signer.path, trustDomain: TD, clock: f.clock }, csrPem);
      const view = await importIntermediate(f.ctx, certPem, f.clock.now() + HOUR);
      assert.equal(view.serial, serialOf(certPem));
      assert.equal(view.state, 'prepared');
      assert.equal(existsSync(keyPath), false, 'the pending key moved into the intermediate directory');
      assert.equal(f.ledger.certificates.findBySerial(view.serial)?.profile, 'intermediate');
      f.clock.advance(HOUR);
      assert.equal((await loadCertificateAuthority({ dataDir: f.dir, trustDomain: TD, clock: f.clock })).intermediate.serial, view.serial);
    } finally {
      signer.remove();
      f.close();
    }
  });

  it('--import-cert refuses a certificate that is not for the pending key', async () => {
    const f = await fixture('offline-wrong');
    try {
      await requestIntermediate(f.ctx);
      // Active at once, so no rotation is pending when the import comes.
      const other = await prepareIntermediate(f.ctx, f.clock.now());
      const err = await rejection(importIntermediate(f.ctx, other.certPem, f.clock.now()));
      assert.ok(err instanceof Error);
      assert.match(err.message, /the intermediate key does not belong to the intermediate certificate/);
    } finally {
      f.close();
    }
  });
});

describe('keysmith ca revoke-intermediate', () => {
  it('refuses the active intermediate while none is prepared, and says what to run', async () => {
    const f = await fixture('revoke-only');
    try {
      const [active] = await intermediateStates(f.ctx);
      const err = await rejection(revokeIntermediate(f.ctx, active?.serial ?? '', 'keyCompromise'));
      assert.ok(isDomainError(err) && err.kind === 'conflict');
      assert.equal(
        err.detail,
        `intermediate ${active?.serial} is the active one and none is prepared: run \`keysmith ca rotate --activate-after 0s\` first, then revoke it`,
      );
      assert.equal(f.ledger.certificates.statusOf(active?.serial ?? '')?.status, 'valid');
      assert.equal(existsSync(arlPath(caPaths(f.dir).dir)), false);
    } finally {
      f.close();
    }
  });

  it('revokes the active one when one is prepared: the prepared one takes over, the ARL lists the revoked one', async () => {
    const f = await fixture('revoke');
    try {
      const [original] = await intermediateStates(f.ctx);
      const successor = await prepareIntermediate(f.ctx, f.clock.now() + 24 * HOUR);
      f.clock.advance(1_000);
      const result = await revokeIntermediate(f.ctx, original?.serial ?? '', 'keyCompromise');
      assert.equal(result.activated, successor.serial);
      assert.deepEqual(
        (await intermediateStates(f.ctx)).map((i) => [i.serial, i.state]),
        [
          [original?.serial, 'revoked'],
          [successor.serial, 'active'],
        ],
      );
      const status = f.ledger.certificates.statusOf(original?.serial ?? '');
      assert.equal(status?.status, 'revoked');
      assert.equal(status?.reason, 'keyCompromise');
      // The ARL: issued by the root, signed by it, listing the intermediate with its reason (RFC 5280 §5.3.1).
      const der = new Uint8Array(readFileSync(result.arlPath));
      const arl = describeCrl(der);
      assert.equal(arl.issuer, 'O=keysmith, OU=example.org, CN=keysmith root CA');
      assert.deepEqual(arl.entries, [
        { serial: original?.serial, revokedAt: Math.floor(f.clock.now() / 1000) * 1000, reason: 'keyCompromise' },
      ]);
      const rootFile = join(f.dir, 'root-only.pem');
      writeFileSync(rootFile, readFileSync(caPaths(f.dir).rootCert));
      const verified = openssl(['crl', '-inform', 'DER', '-in', result.arlPath, '-noout', '-CAfile', rootFile, '-verify'], {});
      assert.equal(verified, '');
      // A revoked intermediate never signs again, whatever its schedule says.
      const loaded = await loadCertificateAuthority({
        dataDir: f.dir,
        trustDomain: TD,
        clock: f.clock,
        revoked: new Map([[original?.serial ?? '', f.clock.now()]]),
      });
      assert.equal(loaded.intermediate.serial, successor.serial);
    } finally {
      f.close();
    }
  });
});

describe('the renewal warning', () => {
  it('appears below the configured share of life left, with the command, and not while a successor is prepared', async () => {
    const f = await fixture('warning');
    try {
      const [active] = await intermediateStates(f.ctx);
      const life = (active?.notAfter ?? 0) - (active?.notBefore ?? 0);
      const warnings: string[] = [];
      f.clock.time = (active?.notBefore ?? 0) + Math.ceil(life * 0.75);
      await loadCertificateAuthority({
        dataDir: f.dir,
        trustDomain: TD,
        clock: f.clock,
        onWarning: (m) => warnings.push(m),
        renewWarningShare: 0.2,
      });
      assert.deepEqual([...warnings], [], '25% left, warning at 20%');
      f.clock.time = (active?.notBefore ?? 0) + Math.ceil(life * 0.9);
      await loadCertificateAuthority({
        dataDir: f.dir,
        trustDomain: TD,
        clock: f.clock,
        onWarning: (m) => warnings.push(m),
        renewWarningShare: 0.2,
      });
      assert.deepEqual(warnings, [
        `the intermediate CA ${active?.serial} has 10.0% of its life left (expires ${new Date(active?.notAfter ?? 0).toISOString()}): run \`keysmith ca rotate\` (docs/ca-lifecycle.md)`,
      ]);
      await prepareIntermediate(f.ctx, f.clock.now() + 24 * HOUR);
      warnings.length = 0;
      await loadCertificateAuthority({
        dataDir: f.dir,
        trustDomain: TD,
        clock: f.clock,
        onWarning: (m) => warnings.push(m),
        renewWarningShare: 0.2,
      });
      assert.deepEqual([...warnings], [], 'a rotation is under way');
    } finally {
      f.close();
    }
  });
});
