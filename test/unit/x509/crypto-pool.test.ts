import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { initCertificateAuthority } from '../../../src/ca/index.js';
import { planLeaf, TLS_SERVER_MAX_TTL_MS } from '../../../src/ca/profiles.js';
import { systemClock } from '../../../src/shared/clock.js';
import { DomainError, isDomainError } from '../../../src/shared/errors.js';
import { readSingle, Tag, tlv, DerReader, encodeOid } from '../../../src/pkix/index.js';
import {
  checkSubjectPublicKey,
  CryptoPool,
  describeCertificate,
  issuerFromCertificate,
  leafExpectation,
  LeafTemplate,
  parseCsr,
  type CertificateTemplate,
  type ParsedCsr,
} from '../../../src/x509/index.js';
import { infinitySpki, OIDS } from '../../helpers/hostile-keys.js';
import { keyPair, openssl, tempDir } from '../ca/helpers.js';
import { MemoryStore } from '../ca/memory-store.js';

/**
 * The crypto worker pool (src/x509/crypto-pool): the same answers as the
 * event-loop path for CSRs and leaves, its refusals, a worker lost mid-job,
 * back-pressure, and a shutdown that lets the process exit.
 */

const TD = 'example.org';
let dir: ReturnType<typeof tempDir>;
const templates: LeafTemplate[] = [];
let goodCsr = '';
let rsa1024Csr = '';

before(async () => {
  dir = tempDir('crypto-pool');
  // Two intermediates stand for the one before and the one after a CA rotation.
  for (const name of ['first', 'second']) {
    const { material } = await initCertificateAuthority({
      dataDir: join(dir.path, name),
      trustDomain: TD,
      store: new MemoryStore(),
      clock: systemClock,
    });
    templates.push(
      new LeafTemplate(issuerFromCertificate(material.intermediate.certDer, material.intermediate.key), material.intermediate.keyObject),
    );
  }
  for (const [name, args] of [
    ['good', ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256']],
    ['rsa1024', ['-newkey', 'rsa:1024']],
  ] as const) {
    const out = join(dir.path, `${name}.csr`);
    openssl([
      'req',
      '-new',
      ...args,
      '-nodes',
      '-keyout',
      join(dir.path, `${name}.key`),
      '-subj',
      `/CN=${name}.example.com`,
      '-addext',
      `subjectAltName=URI:spiffe://${TD}/${name}`,
      '-out',
      out,
    ]);
    if (name === 'good') goodCsr = readFileSync(out, 'utf8');
    else rsa1024Csr = readFileSync(out, 'utf8');
  }
});

after(() => dir.remove());

function template(index: number): LeafTemplate {
  const found = templates[index];
  assert.ok(found !== undefined);
  return found;
}

let serialCounter = 0x2000;
function svidTemplate(): CertificateTemplate {
  const checked = checkSubjectPublicKey(keyPair('p256').spki);
  const plan = planLeaf('svid', { publicKey: checked.spki, spiffeId: `spiffe://${TD}/pool`, requester: 'system' }, checked, {
    now: Date.now(),
    trustDomain: TD,
    issuerNotAfter: Date.now() + 365 * 86_400_000,
    maxTlsServerTtlMs: TLS_SERVER_MAX_TTL_MS,
  });
  serialCounter += 1;
  return { ...plan.template, serial: `${serialCounter.toString(16)}${'3c'.repeat(14)}` };
}

/** The TBSCertificate inside a DER certificate (RFC 5280 §4.1). */
function tbsOf(der: Uint8Array): Uint8Array {
  return DerReader.of(readSingle(der, Tag.sequence, 'Certificate').content).expect(Tag.sequence).bytes;
}

/** A PKCS#10 request carrying `spki` whatever it holds, with a signature that is never looked at if the key is refused. */
function csrWithKey(spki: Uint8Array): Uint8Array {
  const info = tlv(Tag.sequence, tlv(Tag.integer, Uint8Array.of(0)), tlv(Tag.sequence), spki, tlv(0xa0));
  return tlv(
    Tag.sequence,
    info,
    tlv(Tag.sequence, encodeOid('1.2.840.10045.4.3.2')),
    tlv(Tag.bitString, Uint8Array.of(0), tlv(Tag.sequence, tlv(Tag.integer, Uint8Array.of(1)), tlv(Tag.integer, Uint8Array.of(1)))),
  );
}

async function refusal(run: () => Promise<unknown>): Promise<{ kind: string; detail: string }> {
  try {
    await run();
  } catch (err) {
    assert.ok(isDomainError(err), `expected a DomainError, got ${String(err)}`);
    return { kind: err.kind, detail: err.detail };
  }
  assert.fail('expected a refusal');
}

describe('CryptoPool', () => {
  it('checks a CSR exactly as parseCsr does on the event loop', async () => {
    const pool = new CryptoPool({ workers: 2 });
    try {
      const inline: ParsedCsr = await parseCsr(goodCsr);
      const pooled = await pool.checkCsr(goodCsr);
      assert.deepEqual(pooled, inline);
      assert.deepEqual(pooled.uris, [`spiffe://${TD}/good`]);
      assert.equal(pool.size, 2);
    } finally {
      await pool.close();
    }
  });

  it('answers every job when more arrive, turn after turn, than a worker holds batches for (held back, then sent together)', async () => {
    const pool = new CryptoPool({ workers: 1 });
    try {
      const expected = await parseCsr(goodCsr);
      // One job per turn: the first two fill the worker's two batches, the rest wait on the event loop
      // and leave when a batch is answered; none may be lost or answered out of turn.
      const jobs: Promise<ParsedCsr>[] = [];
      for (let i = 0; i < 40; i++) {
        jobs.push(pool.checkCsr(goodCsr));
        await new Promise<void>((resolve) => setImmediate(resolve));
      }
      const answers = await Promise.all(jobs);
      assert.equal(answers.length, 40);
      for (const answer of answers) assert.deepEqual(answer, expected);
    } finally {
      await pool.close();
    }
  });

  it('refuses bad keys with our checks in the worker, with the same error as on the event loop', async () => {
    const pool = new CryptoPool({ workers: 1 });
    try {
      // The point at infinity would abort Node natively if node:crypto loaded it: the key policy must refuse it first.
      const infinity = csrWithKey(infinitySpki(OIDS.p256));
      const inlineInfinity = await refusal(() => parseCsr(infinity));
      assert.equal(inlineInfinity.kind, 'badCSR');
      assert.match(inlineInfinity.detail, /^P-256 public key is the point at infinity/);
      assert.deepEqual(await refusal(() => pool.checkCsr(infinity)), inlineInfinity);

      const inlineRsa = await refusal(() => parseCsr(rsa1024Csr));
      assert.equal(inlineRsa.kind, 'badCSR');
      assert.deepEqual(await refusal(() => pool.checkCsr(rsa1024Csr)), inlineRsa);

      const notDer = await refusal(() => parseCsr('-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----\n'));
      assert.deepEqual(
        await refusal(() => pool.checkCsr('-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----\n')),
        notDer,
      );
    } finally {
      await pool.close();
    }
  });

  it('signs a leaf whose TBS is the one encoded, that verifies with the issuer and passes the event loop check', async () => {
    const pool = new CryptoPool({ workers: 2 });
    try {
      const leaf = template(0);
      const encoded = leaf.encode(svidTemplate());
      assert.ok(encoded !== undefined);
      const pooled = await pool.signLeaf(leaf.signingKeys, encoded.tbs, leafExpectation(encoded));
      const inline = await leaf.sign(encoded);
      // ECDSA signatures are randomised: everything but the signature is the same bytes.
      assert.deepEqual(tbsOf(pooled), encoded.tbs);
      assert.deepEqual(tbsOf(pooled), tbsOf(inline));
      await leaf.check(pooled, encoded);
      assert.equal(describeCertificate(pooled).serial, encoded.template.serial);
    } finally {
      await pool.close();
    }
  });

  it('signs with the issuer each job names: after a rotation the new one, on the same workers', async () => {
    const pool = new CryptoPool({ workers: 1 });
    try {
      for (const index of [0, 1, 0]) {
        const leaf = template(index);
        const encoded = leaf.encode(svidTemplate());
        assert.ok(encoded !== undefined);
        const der = await pool.signLeaf(leaf.signingKeys, encoded.tbs, leafExpectation(encoded));
        await leaf.check(der, encoded);
        const other = template(1 - index);
        await assert.rejects(other.check(der, encoded), {
          message: `issued certificate ${encoded.template.serial} does not match its template: signature does not verify with the issuer key`,
        });
      }
    } finally {
      await pool.close();
    }
  });

  it('refuses a leaf whose signed fields differ from what it was asked to check (a plain Error, as on the event loop)', async () => {
    const pool = new CryptoPool({ workers: 1 });
    try {
      const leaf = template(0);
      const encoded = leaf.encode(svidTemplate());
      assert.ok(encoded !== undefined);
      const wrongSerial = { ...leafExpectation(encoded), serial: '7f' + encoded.template.serial.slice(2) };
      await assert.rejects(pool.signLeaf(leaf.signingKeys, encoded.tbs, wrongSerial), (err: unknown) => {
        assert.ok(err instanceof Error && !(err instanceof DomainError));
        assert.equal(err.message, `issued certificate ${wrongSerial.serial} does not match its template: serial`);
        return true;
      });
    } finally {
      await pool.close();
    }
  });

  it('fails the jobs of a worker that dies mid-job with busy, replaces it, and serves the next job', async () => {
    const pool = new CryptoPool({ workers: 1 });
    try {
      await pool.checkCsr(goodCsr);
      const jobs = Array.from({ length: 200 }, () => pool.checkCsr(goodCsr));
      // The jobs leave for the worker after this turn's I/O; stop it once they are in flight.
      await new Promise((resolve) => setImmediate(resolve));
      await pool.stopWorker(0);
      const outcomes = await Promise.allSettled(jobs);
      const rejected = outcomes.filter((o): o is PromiseRejectedResult => o.status === 'rejected');
      assert.ok(rejected.length > 0, 'some jobs were in flight when the worker stopped');
      for (const outcome of rejected) {
        assert.ok(isDomainError(outcome.reason, 'busy'));
        assert.match(outcome.reason.detail, /^a crypto worker stopped \(exit code 1\); retry$/);
        assert.equal(outcome.reason.retryAfterSeconds, 1);
      }
      assert.equal(pool.size, 1);
      assert.deepEqual(await pool.checkCsr(goodCsr), await parseCsr(goodCsr));
    } finally {
      await pool.close();
    }
  });

  it('refuses a job past the queue limit with busy and Retry-After 1, and serves the queued ones', async () => {
    const pool = new CryptoPool({ workers: 1, queueLimit: 2 });
    try {
      const first = pool.checkCsr(goodCsr);
      const second = pool.checkCsr(goodCsr);
      const third = await refusal(() => pool.checkCsr(goodCsr));
      assert.deepEqual(third, { kind: 'busy', detail: 'the crypto workers have 2 jobs queued; retry shortly' });
      await pool.checkCsr(goodCsr).then(
        () => assert.fail('still full'),
        (err: unknown) => assert.equal(isDomainError(err, 'busy') ? err.retryAfterSeconds : undefined, 1),
      );
      assert.equal((await first).commonName, 'good.example.com');
      assert.equal((await second).commonName, 'good.example.com');
      // Drained: room again.
      assert.equal((await pool.checkCsr(goodCsr)).commonName, 'good.example.com');
    } finally {
      await pool.close();
    }
  });

  it('after close, refuses jobs with busy', async () => {
    const pool = new CryptoPool({ workers: 1 });
    await pool.checkCsr(goodCsr);
    await pool.close();
    assert.deepEqual(await refusal(() => pool.checkCsr(goodCsr)), { kind: 'busy', detail: 'the crypto workers are shut down' });
  });

  it("reports a worker's uncaught error to onWorkerError (its message), replaces the worker, and serves the next job", async () => {
    let reported: (error: Error) => void = () => undefined;
    const report = new Promise<Error>((resolve) => {
      reported = resolve;
    });
    const pool = new CryptoPool({ workers: 1, onWorkerError: (error) => reported(error) });
    try {
      await pool.checkCsr(goodCsr);
      pool.failWorker(0, 'worker bug for the test');
      assert.equal((await report).message, 'worker bug for the test');
      // The in-flight jobs of a worker that exits fail with busy (the stopWorker test above); then the replacement serves.
      assert.equal(await servedAfterReplacement(pool), 'good.example.com');
      assert.equal(pool.size, 1);
    } finally {
      await pool.close();
    }
  });

  it('replaces a failed worker even when onWorkerError throws', async () => {
    let calls = 0;
    const pool = new CryptoPool({
      workers: 1,
      onWorkerError: () => {
        calls++;
        throw new Error('the reporter failed');
      },
    });
    try {
      await pool.checkCsr(goodCsr);
      pool.failWorker(0, 'worker bug for the test');
      assert.equal(await servedAfterReplacement(pool), 'good.example.com');
      assert.equal(calls, 1);
    } finally {
      await pool.close();
    }
  });

  it('lets the process exit: idle workers do not hold it, close ends them', () => {
    const poolModule = fileURLToPath(new URL('../../../src/x509/crypto-pool/pool.js', import.meta.url));
    for (const ending of ['await pool.close();', '']) {
      const script = `
        import { CryptoPool } from ${JSON.stringify(poolModule)};
        const pool = new CryptoPool({ workers: 2 });
        const parsed = await pool.checkCsr(${JSON.stringify(goodCsr)});
        console.log(parsed.commonName, pool.size);
        ${ending}
      `;
      const file = join(dir.path, 'exit.mjs');
      writeFileSync(file, script);
      const child = spawnSync(process.execPath, [file], { encoding: 'utf8', timeout: 20_000 });
      assert.equal(child.signal, null, `exited by itself (${ending || 'without close'})`);
      assert.equal(child.status, 0, child.stderr);
      assert.equal(child.stdout, 'good.example.com 2\n');
    }
  });
});

/** The common name of goodCsr once a job is served; until the replacement worker is up, jobs are refused with busy (and only that). */
async function servedAfterReplacement(pool: CryptoPool): Promise<string | null> {
  for (let attempt = 0; attempt < 100; attempt++) {
    try {
      return (await pool.checkCsr(goodCsr)).commonName;
    } catch (err) {
      assert.ok(isDomainError(err, 'busy'), String(err));
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return assert.fail('no replacement worker served a job within 100 tries');
}
