import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, existsSync, readFileSync, renameSync, statSync, unlinkSync } from 'node:fs';
import { X509Certificate } from 'node:crypto';
import { join } from 'node:path';
import { caPaths, initCertificateAuthority, loadCertificateAuthority } from '../../../src/ca/index.js';
import { FixedClock, openssl, opensslText, tempDir } from './helpers.js';
import { MemoryStore } from './memory-store.js';

const TRUST_DOMAIN = 'example.org';
const YEAR_MS = 365 * 24 * 3_600_000;

function modeOf(path: string): number {
  return statSync(path).mode & 0o777;
}

describe('initCertificateAuthority', () => {
  it('creates root and intermediate with 0700 directory and 0600 keys, and records both in the ledger', async () => {
    const dir = tempDir('ca-create');
    try {
      const store = new MemoryStore();
      const clock = new FixedClock(Date.now());
      const { material, created, warnings } = await initCertificateAuthority({
        dataDir: dir.path,
        trustDomain: TRUST_DOMAIN,
        store,
        clock,
      });
      assert.equal(created, true);
      assert.deepEqual(warnings, []);
      const paths = caPaths(dir.path);
      assert.equal(modeOf(paths.dir), 0o700);
      assert.equal(modeOf(paths.rootKey), 0o600);
      assert.equal(modeOf(paths.intermediateKey), 0o600);
      assert.equal(modeOf(paths.rootCert), 0o644);
      assert.match(readFileSync(paths.intermediateKey, 'utf8'), /^-----BEGIN PRIVATE KEY-----/);
      assert.equal(material.trustDomain, TRUST_DOMAIN);

      const root = new X509Certificate(material.root.certDer);
      const intermediate = new X509Certificate(material.intermediate.certDer);
      assert.ok(root.ca && intermediate.ca);
      assert.ok(intermediate.checkIssued(root) && intermediate.verify(root.publicKey));
      // 10 and 5 years, from a notBefore 60 s in the past.
      const rootLife = Date.parse(root.validTo) - Date.parse(root.validFrom);
      const intermediateLife = Date.parse(intermediate.validTo) - Date.parse(intermediate.validFrom);
      assert.ok(Math.abs(rootLife - 10 * YEAR_MS) < 4 * 24 * 3_600_000, `root lifetime ${rootLife}`);
      assert.ok(Math.abs(intermediateLife - 5 * YEAR_MS) < 3 * 24 * 3_600_000, `intermediate lifetime ${intermediateLife}`);
      assert.ok(Date.parse(root.validFrom) <= clock.now() - 59_000);

      const rootText = opensslText(material.root.certPem, dir.path);
      assert.match(rootText, /Basic Constraints: critical\s+CA:TRUE, pathlen:1/);
      assert.match(rootText, /Key Usage: critical\s+Certificate Sign, CRL Sign/);
      assert.match(rootText, /Signature Algorithm: ecdsa-with-SHA256/);
      const intermediateText = opensslText(material.intermediate.certPem, dir.path);
      assert.match(intermediateText, /Basic Constraints: critical\s+CA:TRUE, pathlen:0/);
      assert.match(intermediateText, /Name Constraints: critical\s+Permitted:\s+URI:example\.org\n/);
      assert.doesNotMatch(intermediateText, /DNS:/);
      assert.match(intermediateText, /Subject Key Identifier/);
      assert.match(intermediateText, /Authority Key Identifier/);

      const records = [...store.records.values()];
      assert.deepEqual(records.map((r) => [r.profile, r.requester, r.status]).sort(), [
        ['intermediate', 'system', 'valid'],
        ['root', 'system', 'valid'],
      ]);
      const intermediateRecord = records.find((r) => r.profile === 'intermediate');
      assert.equal(intermediateRecord?.serial, intermediate.serialNumber.toLowerCase());
      assert.equal(intermediateRecord?.spiffeId, null);
    } finally {
      dir.remove();
    }
  });

  it('loads the existing CA on the next start without new ledger rows', async () => {
    const dir = tempDir('ca-reload');
    try {
      const store = new MemoryStore();
      const clock = new FixedClock(Date.now());
      const first = await initCertificateAuthority({ dataDir: dir.path, trustDomain: TRUST_DOMAIN, store, clock });
      const second = await initCertificateAuthority({ dataDir: dir.path, trustDomain: TRUST_DOMAIN, store, clock, algorithm: 'P-384' });
      assert.equal(second.created, false);
      assert.deepEqual(second.material.intermediate.certDer, first.material.intermediate.certDer);
      assert.equal(store.records.size, 2);
      assert.deepEqual(second.warnings, ['the CA keys are P-256; the P-384 setting applies only when a CA is created']);
    } finally {
      dir.remove();
    }
  });

  it('records CA certificates the ledger lacks, with a warning', async () => {
    const dir = tempDir('ca-repair');
    try {
      const clock = new FixedClock(Date.now());
      await initCertificateAuthority({ dataDir: dir.path, trustDomain: TRUST_DOMAIN, store: new MemoryStore(), clock });
      const fresh = new MemoryStore();
      const { warnings } = await initCertificateAuthority({ dataDir: dir.path, trustDomain: TRUST_DOMAIN, store: fresh, clock });
      assert.equal(fresh.records.size, 2);
      assert.equal(warnings.length, 2);
      assert.match(warnings[0] ?? '', /root certificate [0-9a-f]+ was missing from the ledger/);
    } finally {
      dir.remove();
    }
  });

  it('makes P-384 keys and ecdsa-with-SHA384 signatures when asked', async () => {
    const dir = tempDir('ca-p384');
    try {
      const { material } = await initCertificateAuthority({
        dataDir: dir.path,
        trustDomain: TRUST_DOMAIN,
        algorithm: 'P-384',
        store: new MemoryStore(),
        clock: new FixedClock(Date.now()),
      });
      const text = opensslText(material.intermediate.certPem, dir.path);
      assert.match(text, /Signature Algorithm: ecdsa-with-SHA384/);
      assert.match(text, /NIST CURVE: P-384/);
      assert.equal(material.intermediate.keyObject.asymmetricKeyDetails?.namedCurve, 'secp384r1');
    } finally {
      dir.remove();
    }
  });

  it('tightens group/other-readable key files and directories and warns', async () => {
    const dir = tempDir('ca-modes');
    try {
      const clock = new FixedClock(Date.now());
      const store = new MemoryStore();
      await initCertificateAuthority({ dataDir: dir.path, trustDomain: TRUST_DOMAIN, store, clock });
      const paths = caPaths(dir.path);
      chmodSync(paths.intermediateKey, 0o644);
      chmodSync(paths.rootKey, 0o640);
      chmodSync(paths.dir, 0o755);
      const { warnings } = await initCertificateAuthority({ dataDir: dir.path, trustDomain: TRUST_DOMAIN, store, clock });
      assert.equal(modeOf(paths.intermediateKey), 0o600);
      assert.equal(modeOf(paths.rootKey), 0o600);
      assert.equal(modeOf(paths.dir), 0o700);
      assert.equal(warnings.length, 3);
      assert.ok(warnings.some((w) => w.includes('intermediate.key.pem had mode 0644')));
      assert.ok(warnings.some((w) => w.includes('root.key.pem had mode 0640')));
    } finally {
      dir.remove();
    }
  });

  it('refuses a CA made for another trust domain', async () => {
    const dir = tempDir('ca-domain');
    try {
      const clock = new FixedClock(Date.now());
      await initCertificateAuthority({ dataDir: dir.path, trustDomain: TRUST_DOMAIN, store: new MemoryStore(), clock });
      await assert.rejects(
        initCertificateAuthority({ dataDir: dir.path, trustDomain: 'other.org', store: new MemoryStore(), clock }),
        /made for trust domain example\.org, the configuration says other\.org/,
      );
    } finally {
      dir.remove();
    }
  });

  it('refuses a malformed trust domain before touching the disk', async () => {
    const dir = tempDir('ca-bad-domain');
    try {
      await assert.rejects(
        initCertificateAuthority({
          dataDir: dir.path,
          trustDomain: 'Example.org',
          store: new MemoryStore(),
          clock: new FixedClock(Date.now()),
        }),
        /lowercase/,
      );
      assert.equal(existsSync(caPaths(dir.path).dir), false);
    } finally {
      dir.remove();
    }
  });
});

describe('loadCertificateAuthority', () => {
  it('writes encrypted PKCS#8 keys with a passphrase and refuses to load without it or with a wrong one', async () => {
    const dir = tempDir('ca-passphrase');
    try {
      const clock = new FixedClock(Date.now());
      const passphrase = 'correct horse battery staple';
      await initCertificateAuthority({ dataDir: dir.path, trustDomain: TRUST_DOMAIN, passphrase, store: new MemoryStore(), clock });
      const paths = caPaths(dir.path);
      for (const key of [paths.rootKey, paths.intermediateKey]) {
        assert.match(readFileSync(key, 'utf8'), /^-----BEGIN ENCRYPTED PRIVATE KEY-----/);
        // openssl reads it with the passphrase: standard PKCS#8 (PBES2, AES-256-CBC).
        assert.match(openssl(['pkcs8', '-in', key, '-passin', `pass:${passphrase}`, '-topk8', '-nocrypt']), /BEGIN PRIVATE KEY/);
      }
      await assert.rejects(loadCertificateAuthority({ dataDir: dir.path, trustDomain: TRUST_DOMAIN }), (err: unknown) => {
        assert.ok(err instanceof Error && !('kind' in err));
        assert.match(err.message, /intermediate\.key\.pem is encrypted: set KEYSMITH_CA_PASSPHRASE/);
        return true;
      });
      await assert.rejects(
        loadCertificateAuthority({ dataDir: dir.path, trustDomain: TRUST_DOMAIN, passphrase: 'wrong passphrase' }),
        /cannot decrypt the CA key .*intermediate\.key\.pem: is KEYSMITH_CA_PASSPHRASE the passphrase it was created with\?/,
      );
      const material = await loadCertificateAuthority({ dataDir: dir.path, trustDomain: TRUST_DOMAIN, passphrase });
      assert.equal(material.intermediate.key.extractable, false);
      assert.deepEqual(material.intermediate.key.usages, ['sign']);
    } finally {
      dir.remove();
    }
  });

  it('warns when a passphrase is set but the keys are stored in the clear', async () => {
    const dir = tempDir('ca-clear');
    try {
      await initCertificateAuthority({
        dataDir: dir.path,
        trustDomain: TRUST_DOMAIN,
        store: new MemoryStore(),
        clock: new FixedClock(Date.now()),
      });
      const warnings: string[] = [];
      await loadCertificateAuthority({
        dataDir: dir.path,
        trustDomain: TRUST_DOMAIN,
        passphrase: 'a passphrase',
        onWarning: (w) => warnings.push(w),
      });
      assert.equal(warnings.length, 1);
      assert.match(warnings[0] ?? '', /stored unencrypted although KEYSMITH_CA_PASSPHRASE is set/);
    } finally {
      dir.remove();
    }
  });

  it('loads with the root key moved offline, and refuses a CA missing its intermediate', async () => {
    const dir = tempDir('ca-offline-root');
    try {
      await initCertificateAuthority({
        dataDir: dir.path,
        trustDomain: TRUST_DOMAIN,
        store: new MemoryStore(),
        clock: new FixedClock(Date.now()),
      });
      const paths = caPaths(dir.path);
      unlinkSync(paths.rootKey);
      await loadCertificateAuthority({ dataDir: dir.path, trustDomain: TRUST_DOMAIN });
      renameSync(paths.intermediateCert, join(dir.path, 'elsewhere.pem'));
      await assert.rejects(
        loadCertificateAuthority({ dataDir: dir.path, trustDomain: TRUST_DOMAIN }),
        /incomplete: .*intermediate\.cert\.pem is missing/,
      );
    } finally {
      dir.remove();
    }
  });

  it('refuses an intermediate key that does not match its certificate', async () => {
    const one = tempDir('ca-one');
    const two = tempDir('ca-two');
    try {
      const clock = new FixedClock(Date.now());
      await initCertificateAuthority({ dataDir: one.path, trustDomain: TRUST_DOMAIN, store: new MemoryStore(), clock });
      await initCertificateAuthority({ dataDir: two.path, trustDomain: TRUST_DOMAIN, store: new MemoryStore(), clock });
      renameSync(caPaths(two.path).intermediateKey, caPaths(one.path).intermediateKey);
      await assert.rejects(loadCertificateAuthority({ dataDir: one.path, trustDomain: TRUST_DOMAIN }), /intermediate key does not belong/);
    } finally {
      one.remove();
      two.remove();
    }
  });

  it('says there is no CA when the directory is absent', async () => {
    const dir = tempDir('ca-none');
    try {
      await assert.rejects(loadCertificateAuthority({ dataDir: dir.path, trustDomain: TRUST_DOMAIN }), /no CA in /);
    } finally {
      dir.remove();
    }
  });
});
