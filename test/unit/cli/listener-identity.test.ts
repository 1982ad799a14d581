import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { openCore, type Core } from '../../../src/cli/compose.js';
import { issueIdentity, type IssuedIdentity } from '../../../src/cli/identities.js';
import {
  certificateNames,
  listenerHealthCheck,
  listenerNames,
  listenerRenewalReason,
  type ListenerNames,
} from '../../../src/cli/listener-identity.js';
import { loadConfig } from '../../../src/config/index.js';
import { normalizeSerial } from '../../../src/x509/index.js';
import { X509Certificate } from 'node:crypto';
import { FixedClock, tempDir } from '../ca/helpers.js';

/**
 * The listener certificate's rules (src/cli/listener-identity.ts) against a
 * real CA and a real SQLite ledger: the names it must carry, each reason to
 * re-issue it at start, and the /healthz check on it.
 */
const FIXTURES = fileURLToPath(new URL('../../../../test/fixtures/', import.meta.url));
const DAY_MS = 86_400_000;
const TTL_MS = 30 * DAY_MS;
const DEFAULT_NAMES: ListenerNames = { dnsNames: ['localhost'], ipAddresses: ['127.0.0.1', '::1'] };

describe('listenerNames', () => {
  it('is localhost, 127.0.0.1 and ::1 for a loopback listener without a public URL', () => {
    assert.deepEqual(listenerNames({ listen: { host: '127.0.0.1', port: 8443 }, publicUrl: undefined }), DEFAULT_NAMES);
  });

  it('adds the public URL host as a DNS name, lower-cased and without a trailing dot; a wildcard listen host adds nothing', () => {
    assert.deepEqual(listenerNames({ listen: { host: '0.0.0.0', port: 8443 }, publicUrl: 'https://CA.Example.COM.:9443/' }), {
      dnsNames: ['ca.example.com', 'localhost'],
      ipAddresses: ['127.0.0.1', '::1'],
    });
    assert.deepEqual(listenerNames({ listen: { host: '::', port: 8443 }, publicUrl: undefined }), DEFAULT_NAMES);
  });

  it('adds an IPv4 public URL host as an IP address', () => {
    assert.deepEqual(listenerNames({ listen: { host: '127.0.0.1', port: 8443 }, publicUrl: 'https://192.0.2.7:8443' }), {
      dnsNames: ['localhost'],
      ipAddresses: ['127.0.0.1', '192.0.2.7', '::1'],
    });
  });

  it('adds a bracketed IPv6 public URL host as an IP address in compressed form', () => {
    assert.deepEqual(listenerNames({ listen: { host: '127.0.0.1', port: 8443 }, publicUrl: 'https://[2001:DB8:0:0:0:0:0:1]:8443/' }), {
      dnsNames: ['localhost'],
      ipAddresses: ['127.0.0.1', '2001:db8::1', '::1'],
    });
  });

  it('adds a named listen host and an IPv6 listen address', () => {
    assert.deepEqual(listenerNames({ listen: { host: 'keysmith.internal', port: 8443 }, publicUrl: undefined }), {
      dnsNames: ['keysmith.internal', 'localhost'],
      ipAddresses: ['127.0.0.1', '::1'],
    });
    assert.deepEqual(listenerNames({ listen: { host: 'fd00::1:2', port: 8443 }, publicUrl: undefined }), {
      dnsNames: ['localhost'],
      ipAddresses: ['127.0.0.1', '::1', 'fd00::1:2'],
    });
  });
});

describe('the listener certificate at start and in /healthz', () => {
  const dir = tempDir('listener-identity');
  const clock = new FixedClock(Date.parse('2026-03-01T00:00:00Z'));
  const withPublicName: ListenerNames = { dnsNames: ['ca.example.com', 'localhost'], ipAddresses: ['127.0.0.1', '2001:db8::1', '::1'] };
  let core: Core;
  let current: IssuedIdentity;
  let other: IssuedIdentity;

  const issue = (names: ListenerNames): Promise<IssuedIdentity> =>
    issueIdentity(core.authority, {
      profile: 'tls-server',
      dnsNames: names.dnsNames,
      ipAddresses: names.ipAddresses,
      ttlMs: TTL_MS,
      requester: 'system',
    });
  const reasonAt = (now: number, identity: IssuedIdentity, wanted: ListenerNames = withPublicName) =>
    listenerRenewalReason({
      certPem: identity.issued.chainPem,
      keyPem: identity.keyPem,
      wanted,
      now,
      statusOf: (serial) => core.repositories.certificates.statusOf(serial),
    });
  /** Two thirds into the certificate's own life (its notBefore may be set back for clock skew). */
  const twoThirdsOf = (identity: IssuedIdentity): number => {
    const cert = new X509Certificate(identity.issued.chainPem);
    const notBefore = Date.parse(cert.validFrom);
    const notAfter = Date.parse(cert.validTo);
    return notAfter - (notAfter - notBefore) / 3;
  };
  const healthOf = (identity: IssuedIdentity, now: number, isKnownRevoked = false, statusOf?: () => never) =>
    listenerHealthCheck({
      certPem: identity.issued.chainPem,
      now: () => now,
      statusOf: statusOf ?? ((serial) => core.repositories.certificates.statusOf(serial)),
      isKnownRevoked: () => isKnownRevoked,
    }).check();

  before(async () => {
    const config = loadConfig({ env: { KEYSMITH_DATA_DIR: dir.path, KEYSMITH_LISTEN: '127.0.0.1:18443', KEYSMITH_LOG_LEVEL: 'silent' } });
    core = await openCore(config, { clock, ensureIdentities: false });
    current = await issue(withPublicName);
    other = await issue(withPublicName);
  });

  after(async () => {
    await core.close();
    dir.remove();
  });

  it('reads back the names it was issued with, IPv6 in the same form as the configuration', () => {
    assert.deepEqual(certificateNames(new X509Certificate(current.issued.chainPem)), withPublicName);
  });

  it('keeps a certificate that matches its key, carries the configured names, is valid in the ledger and has more than a third of its life left', async () => {
    assert.equal(await reasonAt(clock.now(), current), undefined);
  });

  it('re-issues when the certificate or its key is missing', async () => {
    assert.equal(
      await listenerRenewalReason({
        certPem: undefined,
        keyPem: current.keyPem,
        wanted: withPublicName,
        now: clock.now(),
        statusOf: () => undefined,
      }),
      'missing',
    );
    assert.equal(
      await listenerRenewalReason({
        certPem: current.issued.chainPem,
        keyPem: undefined,
        wanted: withPublicName,
        now: clock.now(),
        statusOf: () => undefined,
      }),
      'missing',
    );
  });

  it('re-issues when the file is not a certificate', async () => {
    assert.equal(
      await listenerRenewalReason({
        certPem: 'not a certificate',
        keyPem: current.keyPem,
        wanted: withPublicName,
        now: clock.now(),
        statusOf: () => undefined,
      }),
      'unreadable',
    );
  });

  it('re-issues when the key on disk is not the certificate’s', async () => {
    const mixed = { issued: current.issued, keyPem: other.keyPem };
    assert.equal(await reasonAt(clock.now(), mixed), 'key-mismatch');
  });

  it('re-issues when a name was added to the configuration (KEYSMITH_PUBLIC_URL set)', async () => {
    const before = await issue(DEFAULT_NAMES);
    assert.equal(await reasonAt(clock.now(), before, withPublicName), 'names-changed');
  });

  it('re-issues when a name was removed from the configuration (KEYSMITH_PUBLIC_URL unset)', async () => {
    assert.equal(await reasonAt(clock.now(), current, DEFAULT_NAMES), 'names-changed');
  });

  it('re-issues a certificate the ledger never recorded (a fixture from another CA)', async () => {
    const certPem = readFileSync(`${FIXTURES}server.pem`, 'utf8');
    const keyPem = readFileSync(`${FIXTURES}server.key`, 'utf8');
    const wanted = certificateNames(new X509Certificate(certPem));
    const reason = await listenerRenewalReason({
      certPem,
      keyPem,
      wanted,
      now: clock.now(),
      statusOf: (serial) => core.repositories.certificates.statusOf(serial),
    });
    assert.equal(reason, 'not-in-ledger');
  });

  it('re-issues at two thirds of its life, not a minute before', async () => {
    const twoThirds = twoThirdsOf(current);
    assert.equal(await reasonAt(twoThirds - 60_000, current), undefined);
    assert.equal(await reasonAt(twoThirds, current), 'expiring');
  });

  it('/healthz: ok with more than a third of life left; expiring at two thirds; expired after notAfter; each detail names the reason', async () => {
    const serial = normalizeSerial(new X509Certificate(current.issued.chainPem).serialNumber);
    const notAfter = Date.parse(new X509Certificate(current.issued.chainPem).validTo);
    assert.deepEqual(await healthOf(current, twoThirdsOf(current) - 60_000), { ok: true });
    assert.deepEqual(await healthOf(current, twoThirdsOf(current)), {
      ok: false,
      detail: `expiring: the listener certificate ${serial} has a third or less of its life left (expires ${new Date(notAfter).toISOString()}); restart keysmith to issue a new one`,
    });
    assert.deepEqual(await healthOf(current, notAfter + 1_000), {
      ok: false,
      detail: `expired: the listener certificate ${serial} expired at ${new Date(notAfter).toISOString()}; restart keysmith to issue a new one`,
    });
  });

  it('/healthz: when the ledger cannot be asked, a revocation this node heard of still fails the check', async () => {
    const failing = (): never => {
      throw new Error('database unreachable');
    };
    assert.deepEqual(await healthOf(other, clock.now(), false, failing), { ok: true });
    const result = await healthOf(other, clock.now(), true, failing);
    assert.equal(result.ok, false);
    assert.match(result.detail ?? '', /^revoked: the listener certificate [0-9a-f]+ is revoked; restart keysmith to issue a new one$/);
  });

  it('re-issues a revoked certificate, and /healthz reports it revoked with the reason', async () => {
    const serial = current.issued.serial;
    await core.authority.revoke(serial, 'keyCompromise');
    assert.equal(await reasonAt(clock.now(), current), 'revoked');
    assert.deepEqual(await healthOf(current, clock.now()), {
      ok: false,
      detail: `revoked: the listener certificate ${serial} is revoked (keyCompromise); restart keysmith to issue a new one`,
    });
  });

  it('re-issues a certificate whose issuing intermediate was revoked (ca revoke-intermediate records it in the ledger)', async () => {
    assert.equal(await reasonAt(clock.now(), other), undefined);
    const intermediateSerial = normalizeSerial(new X509Certificate(core.authority.material.intermediate.certDer).serialNumber);
    await core.repositories.certificates.revoke(intermediateSerial, 'cACompromise', clock.now());
    assert.equal(await reasonAt(clock.now(), other), 'issuer-revoked');
  });
});
