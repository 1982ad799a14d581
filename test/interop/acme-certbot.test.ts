import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { freePort, runProcess, type ProcessResult } from '../helpers/processes.js';
import { skipUnlessTool } from './harness.js';
import {
  assertChainVerifies,
  createEab,
  dnsNamesOf,
  ledgerLine,
  ocspStatus,
  serialOf,
  startKeysmith,
  writeChainFiles,
  type Keysmith,
} from './acme-harness.js';

/**
 * certbot (Debian's) against `keysmith serve` on 127.0.0.1, the way an
 * operator points it at an internal CA: REQUESTS_CA_BUNDLE for the TLS
 * connection, External Account Binding required, standalone http-01 on a
 * loopback port keysmith is told to validate against. Revocation by the
 * certificate's own key (--key-path), certbot's way without an account.
 */

let keysmith: Keysmith;
let http01Port: number;

/** certbot with its state in the test's directory and the bundle as its trust store. */
function certbot(args: readonly string[]): Promise<ProcessResult> {
  const dir = join(keysmith.dir, 'certbot');
  return runProcess(
    'certbot',
    [
      ...args,
      '--server',
      keysmith.directoryUrl,
      '--config-dir',
      join(dir, 'config'),
      '--work-dir',
      join(dir, 'work'),
      '--logs-dir',
      join(dir, 'logs'),
      '--non-interactive',
    ],
    {
      env: { PATH: process.env['PATH'], HOME: keysmith.dir, REQUESTS_CA_BUNDLE: keysmith.bundle },
      timeoutMs: 120_000,
      lifetimeMs: 150_000,
    },
  );
}

/** certbot's own log tail, for assertion messages: its stderr often says only "see the logfile". */
async function certbotLog(): Promise<string> {
  const text = await readFile(join(keysmith.dir, 'certbot', 'logs', 'letsencrypt.log'), 'utf8').catch(() => '(no certbot log)');
  return text.slice(-6_000);
}

async function explain(result: ProcessResult): Promise<string> {
  return `${result.stdout}\n${result.stderr}\n--- letsencrypt.log (tail) ---\n${await certbotLog()}`;
}

describe('certbot against keysmith ACME (http-01, EAB, revoke by certificate key)', skipUnlessTool('certbot'), () => {
  before(async () => {
    http01Port = await freePort();
    keysmith = await startKeysmith({ KEYSMITH_ACME_HTTP01_PORT: String(http01Port), KEYSMITH_ACME_EAB_REQUIRED: 'true' });
  });

  after(async () => {
    await keysmith?.stop();
  });

  it('reads meta.externalAccountRequired from the directory and will not register without EAB', async () => {
    const result = await certbot(['register', '--agree-tos', '-m', 'nobody@example.test', '--no-eff-email']);
    assert.notEqual(result.code, 0, await explain(result));
    assert.match(result.stdout + result.stderr, /Server requires external account binding/);
  });

  it('registers with EAB, orders, validates http-01, finalizes, downloads a chain openssl verifies, revokes, and OCSP says revoked', async () => {
    const eab = await createEab(keysmith);
    const name = 'app.example.test';
    const issued = await certbot([
      'certonly',
      '--standalone',
      '--http-01-port',
      String(http01Port),
      '--http-01-address',
      '127.0.0.1',
      `--eab-kid=${eab.keyId}`,
      `--eab-hmac-key=${eab.hmacKey}`,
      '--agree-tos',
      '-m',
      'ops@example.test',
      '--no-eff-email',
      '--key-type',
      'ecdsa',
      '-d',
      name,
      '-d',
      `www.${name}`,
    ]);
    assert.equal(issued.code, 0, await explain(issued));

    const live = join(keysmith.dir, 'certbot', 'config', 'live', name);
    const fullchain = await readFile(join(live, 'fullchain.pem'), 'utf8');
    const files = await writeChainFiles(keysmith.dir, 'certbot', fullchain);
    await assertChainVerifies(keysmith, files);
    assert.deepEqual(await dnsNamesOf(files.leaf), [name, `www.${name}`]);
    const serial = await serialOf(files.leaf);
    // Issued through the Authority: the ledger holds it under the ACME profile, and OCSP knows it.
    assert.match(await ledgerLine(keysmith, name, serial), /\btls-server\s+valid\b/);
    assert.equal((await ocspStatus(keysmith, files)).status, 'good');

    const revoked = await certbot([
      'revoke',
      '--cert-path',
      join(live, 'cert.pem'),
      '--key-path',
      join(live, 'privkey.pem'),
      '--reason',
      'keycompromise',
      '--no-delete-after-revoke',
    ]);
    assert.equal(revoked.code, 0, await explain(revoked));
    // certbot signs revokeCert with the certificate's key (jwk), not the account's (RFC 8555 §7.6).
    assert.match(await certbotLog(), /using certificate key/);
    const ocsp = await ocspStatus(keysmith, files);
    assert.equal(ocsp.status, 'revoked', ocsp.output);
    assert.match(ocsp.output, /Reason: keyCompromise/);
    assert.match(await ledgerLine(keysmith, name, serial), /\btls-server\s+revoked\b/);

    // RFC 8555 §7.6: a second revocation is alreadyRevoked, which certbot reports as a failure.
    const again = await certbot([
      'revoke',
      '--cert-path',
      join(live, 'cert.pem'),
      '--key-path',
      join(live, 'privkey.pem'),
      '--no-delete-after-revoke',
    ]);
    assert.notEqual(again.code, 0, await explain(again));
    assert.match(again.stdout + again.stderr + (await certbotLog()), /alreadyRevoked|already revoked/i);
  });
});
