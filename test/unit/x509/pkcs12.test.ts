import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, createPrivateKey, createPublicKey, X509Certificate, type KeyObject } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createSecureContext } from 'node:tls';
import { fileURLToPath } from 'node:url';
import { AuthenticatedSafe, PFX, SafeContents } from '@peculiar/asn1-pfx';
import { EncryptedPrivateKeyInfo } from '@peculiar/asn1-pkcs8';
import { AsnConvert, OctetString } from '@peculiar/asn1-schema';
import { encodePkcs12, PKCS12_ITERATIONS, splitPemChain, type Pkcs12Identity } from '../../../src/x509/index.js';
import { hasCommand, runProcess } from '../../helpers/processes.js';

/**
 * The PKCS#12 writer, judged by the readers that matter: OpenSSL 3 (`openssl
 * pkcs12`, which node:tls and curl use), node:tls itself (what playwright's
 * clientCertificates load), and NSS's pk12util (what Chromium on Linux and
 * Firefox import with) when it is installed.
 */
const FIXTURES = fileURLToPath(new URL('../../../../test/fixtures/', import.meta.url));
const LOW_ITERATIONS = 2048;
const PASSPHRASE = 'correct horse battery';

let work: string;
let identity: Pkcs12Identity;
let chain: Uint8Array[];

/** Salts and IVs 0x01..., 0x02..., in draw order, so a test can find each one in the file. */
function countingRandom(): (length: number) => Uint8Array {
  let draw = 0;
  return (length) => new Uint8Array(length).fill(++draw);
}

async function writeP12(name: string, bytes: Uint8Array): Promise<string> {
  const path = join(work, name);
  await writeFile(path, bytes);
  return path;
}

async function passFile(passphrase: string): Promise<string> {
  const path = join(work, `pass-${createHash('sha256').update(passphrase).digest('hex').slice(0, 8)}.txt`);
  await writeFile(path, `${passphrase}\n`);
  return path;
}

function spkiOf(key: string | KeyObject): string {
  return (typeof key === 'string' ? createPublicKey(key) : key).export({ type: 'spki', format: 'der' }).toString('hex');
}

before(async () => {
  work = await mkdtemp(join(tmpdir(), 'keysmith-pkcs12-'));
  chain = splitPemChain(await readFile(join(FIXTURES, 'client-chain.pem'), 'utf8'));
  const privateKey = createPrivateKey(await readFile(join(FIXTURES, 'client.key'))).export({ type: 'pkcs8', format: 'der' });
  identity = { privateKey, certificates: chain, friendlyName: 'spiffe://keysmith.local/workload/test', passphrase: PASSPHRASE };
});
after(async () => {
  await rm(work, { recursive: true, force: true });
});

describe('encodePkcs12', () => {
  it('is read by openssl pkcs12: the key belongs to the leaf, the chain follows, names and key ids pair them', async () => {
    const path = await writeP12('fixture.p12', encodePkcs12(identity, { iterations: LOW_ITERATIONS }));
    const info = await runProcess('openssl', ['pkcs12', '-in', path, '-passin', `file:${await passFile(PASSPHRASE)}`, '-info', '-nodes']);
    assert.equal(info.code, 0, info.stderr);
    assert.match(info.stderr, /MAC: sha256, Iteration 2048\nMAC length: 32, salt length: 16\n/);
    assert.match(
      info.stderr,
      /PKCS7 Encrypted data: PBES2, PBKDF2, AES-256-CBC, Iteration 2048, PRF hmacWithSHA256\nCertificate bag\nCertificate bag\n/,
    );
    assert.match(info.stderr, /Shrouded Keybag: PBES2, PBKDF2, AES-256-CBC, Iteration 2048, PRF hmacWithSHA256/);
    const certificates = [...info.stdout.matchAll(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g)].map((m) => m[0]);
    assert.deepEqual(
      certificates.map((pem) => new X509Certificate(pem).fingerprint256),
      chain.map((der) => new X509Certificate(der).fingerprint256),
    );
    const keyPem = /-----BEGIN PRIVATE KEY-----[\s\S]+?-----END PRIVATE KEY-----/.exec(info.stdout)?.[0];
    assert.ok(keyPem !== undefined, info.stdout);
    assert.equal(spkiOf(keyPem), spkiOf(new X509Certificate(chain[0] ?? new Uint8Array()).publicKey));
    // Leaf and key bag: the same friendlyName and localKeyID; the intermediate has neither (nor has the PKCS#8 key itself).
    const localKeyId = createHash('sha256')
      .update(chain[0] ?? new Uint8Array())
      .digest('hex')
      .toUpperCase()
      .replace(/(..)(?!$)/g, '$1 ');
    const attributeBlocks = info.stdout.split(/Bag Attributes|Key Attributes/).slice(1);
    assert.equal(attributeBlocks.length, 4, info.stdout);
    for (const block of [attributeBlocks[0], attributeBlocks[2]]) {
      assert.match(block ?? '', new RegExp(`localKeyID: ${localKeyId} \\n`));
      assert.match(block ?? '', /friendlyName: spiffe:\/\/keysmith\.local\/workload\/test\n/);
    }
    assert.match(attributeBlocks[1] ?? '', /^: <No Attributes>\n/);
    assert.match(attributeBlocks[3] ?? '', /^: <No Attributes>\n/);
  });

  it('fails the MAC check under a wrong passphrase (openssl and node:tls)', async () => {
    const bytes = encodePkcs12(identity, { iterations: LOW_ITERATIONS });
    const path = await writeP12('wrong.p12', bytes);
    const info = await runProcess('openssl', ['pkcs12', '-in', path, '-passin', `file:${await passFile('horse battery')}`, '-noout']);
    assert.equal(info.code, 1);
    assert.match(info.stderr, /Mac verify error: invalid password\?/);
    assert.throws(() => createSecureContext({ pfx: Buffer.from(bytes), passphrase: 'horse battery' }), /mac verify failure/);
  });

  it('loads in node:tls as pfx with its passphrase, at the default 600,000 iterations', (t) => {
    assert.equal(PKCS12_ITERATIONS, 600_000);
    const bytes = encodePkcs12(identity);
    const started = process.hrtime.bigint();
    const context = createSecureContext({ pfx: Buffer.from(bytes), passphrase: PASSPHRASE });
    t.diagnostic(`node:tls loaded a ${PKCS12_ITERATIONS}-iteration file in ${Number(process.hrtime.bigint() - started) / 1e6} ms`);
    assert.ok(context.context !== undefined);
    const pfx = AsnConvert.parse(bytes, PFX);
    assert.equal(pfx.macData.iterations, 600_000);
  });

  it('takes a non-ASCII passphrase as OpenSSL does: UTF-8 for PBES2, BMPString for the MAC', async () => {
    const passphrase = 'grüße \u{1F511}';
    const path = await writeP12('unicode.p12', encodePkcs12({ ...identity, passphrase }, { iterations: LOW_ITERATIONS }));
    const info = await runProcess('openssl', ['pkcs12', '-in', path, '-passin', `file:${await passFile(passphrase)}`, '-nodes']);
    assert.equal(info.code, 0, info.stderr);
    assert.match(info.stdout, /-----BEGIN PRIVATE KEY-----/);
  });

  it('is deterministic given its randomness, which lands where RFC 7292 and RFC 8018 put it', () => {
    const first = encodePkcs12(identity, { iterations: LOW_ITERATIONS, random: countingRandom() });
    const second = encodePkcs12(identity, { iterations: LOW_ITERATIONS, random: countingRandom() });
    assert.deepEqual(first, second);
    // Pinned: any change to the encoding shows here (the fixture key and chain are committed files).
    assert.equal(createHash('sha256').update(first).digest('hex'), PINNED_SHA256);

    const pfx = AsnConvert.parse(first, PFX);
    assert.equal(pfx.version, 3);
    assert.equal(pfx.authSafe.contentType, '1.2.840.113549.1.7.1');
    assert.equal(Buffer.from(pfx.macData.macSalt.buffer).toString('hex'), '05'.repeat(16)); // fifth draw
    const safe = AsnConvert.parse(AsnConvert.parse(pfx.authSafe.content, OctetString).buffer, AuthenticatedSafe);
    assert.deepEqual(
      Array.from(safe, (info) => info.contentType),
      ['1.2.840.113549.1.7.6', '1.2.840.113549.1.7.1'],
    );
    const keyContents = AsnConvert.parse(AsnConvert.parse(safe[1]?.content ?? new ArrayBuffer(0), OctetString).buffer, SafeContents);
    assert.equal(keyContents.length, 1);
    assert.equal(keyContents[0]?.bagId, '1.2.840.113549.1.12.10.1.2');
    const shrouded = AsnConvert.parse(keyContents[0]?.bagValue ?? new ArrayBuffer(0), EncryptedPrivateKeyInfo);
    assert.equal(shrouded.encryptionAlgorithm.algorithm, '1.2.840.113549.1.5.13');
    const parameters = Buffer.from(shrouded.encryptionAlgorithm.parameters ?? new ArrayBuffer(0)).toString('hex');
    // PBES2-params: PBKDF2 { salt = first draw, 2048, hmacWithSHA256 NULL }, aes256-CBC { IV = second draw }.
    assert.equal(
      parameters,
      '3052' +
        '303106092a864886f70d01050c' +
        `30240410${'01'.repeat(16)}02020800300c06082a864886f70d0209` +
        '0500' +
        `301d060960864801650304012a0410${'02'.repeat(16)}`,
    );
  });

  it("refuses an empty passphrase, a key that is not the leaf's, and no certificate", async () => {
    assert.throws(() => encodePkcs12({ ...identity, passphrase: '' }), /needs a passphrase/);
    const other = createPrivateKey(await readFile(join(FIXTURES, 'intermediate.key'))).export({ type: 'pkcs8', format: 'der' });
    assert.throws(() => encodePkcs12({ ...identity, privateKey: other }), /does not belong to the certificate/);
    assert.throws(() => encodePkcs12({ ...identity, certificates: [] }), /needs its certificate/);
  });

  it(
    'imports into an NSS database with pk12util (Chromium on Linux, Firefox), key and certificate paired',
    { skip: !hasCommand('pk12util') && 'pk12util is not installed (Debian: libnss3-tools)' },
    async () => {
      const db = join(work, 'nssdb');
      await mkdir(db);
      const path = await writeP12('nss.p12', encodePkcs12(identity, { iterations: LOW_ITERATIONS }));
      const made = await runProcess('certutil', ['-N', '-d', `sql:${db}`, '--empty-password']);
      assert.equal(made.code, 0, made.stderr);
      const imported = await runProcess('pk12util', ['-d', `sql:${db}`, '-i', path, '-w', await passFile(PASSPHRASE)]);
      assert.equal(imported.code, 0, imported.stderr + imported.stdout);
      assert.match(imported.stdout, /PKCS12 IMPORT SUCCESSFUL/);
      const keys = await runProcess('certutil', ['-K', '-d', `sql:${db}`]);
      assert.match(keys.stdout, /ec {7}[0-9a-f]{40} {3}spiffe:\/\/keysmith\.local\/workload\/test\n/);
    },
  );
});

const PINNED_SHA256 = '60d4b4c8312e62a5100daddccef200bae58c7aef1d2bfdf9755038d2fad93eb6';
