import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { freePort, runProcess, type ProcessResult } from '../helpers/processes.js';
import { skipUnlessTool } from './harness.js';
import {
  assertChainVerifies,
  dnsNamesOf,
  ledgerLine,
  ocspStatus,
  serialOf,
  startKeysmith,
  writeChainFiles,
  type Keysmith,
} from './acme-harness.js';

/**
 * lego (Debian's) against `keysmith serve` on 127.0.0.1: LEGO_CA_CERTIFICATES
 * for the TLS connection, http-01 and tls-alpn-01 answered by lego's own
 * servers on loopback ports keysmith validates against, and revocation with
 * the account key (lego's way).
 */

let keysmith: Keysmith;
let http01Port: number;
let tlsAlpn01Port: number;

function lego(args: readonly string[]): Promise<ProcessResult> {
  return runProcess(
    'lego',
    ['--server', keysmith.directoryUrl, '--path', join(keysmith.dir, 'lego'), '--email', 'ops@example.test', '--accept-tos', ...args],
    {
      env: { PATH: process.env['PATH'], HOME: keysmith.dir, LEGO_CA_CERTIFICATES: keysmith.bundle },
      timeoutMs: 120_000,
      lifetimeMs: 150_000,
    },
  );
}

/** Orders `name` with the given challenge flags; checks the chain, the names, the ledger row and OCSP good; returns the files. */
async function obtain(name: string, challenge: readonly string[]): Promise<{ leaf: string; intermediate: string; serial: string }> {
  const result = await lego(['--domains', name, ...challenge, 'run']);
  assert.equal(result.code, 0, result.stdout + result.stderr);
  // lego writes the leaf and its issuer to NAME.crt (bundled by default), the issuer alone to NAME.issuer.crt.
  const chain = await readFile(join(keysmith.dir, 'lego', 'certificates', `${name}.crt`), 'utf8');
  const files = await writeChainFiles(keysmith.dir, `lego-${name}`, chain);
  await assertChainVerifies(keysmith, files);
  assert.deepEqual(await dnsNamesOf(files.leaf), [name]);
  const serial = await serialOf(files.leaf);
  assert.match(await ledgerLine(keysmith, name, serial), /\btls-server\s+valid\b/);
  assert.equal((await ocspStatus(keysmith, files)).status, 'good');
  return { ...files, serial };
}

async function revokeAndCheck(
  name: string,
  files: { leaf: string; intermediate: string; serial: string },
  reason: { code: number; text: string },
): Promise<void> {
  const result = await lego(['--domains', name, 'revoke', '--reason', String(reason.code), '--keep']);
  assert.equal(result.code, 0, result.stdout + result.stderr);
  const ocsp = await ocspStatus(keysmith, files);
  assert.equal(ocsp.status, 'revoked', ocsp.output);
  assert.match(ocsp.output, new RegExp(`Reason: ${reason.text}`));
  assert.match(await ledgerLine(keysmith, name, files.serial), /\btls-server\s+revoked\b/);
}

describe('lego against keysmith ACME (http-01, tls-alpn-01, revoke by account)', skipUnlessTool('lego'), () => {
  before(async () => {
    http01Port = await freePort();
    tlsAlpn01Port = await freePort();
    keysmith = await startKeysmith({ KEYSMITH_ACME_HTTP01_PORT: String(http01Port), KEYSMITH_ACME_TLSALPN01_PORT: String(tlsAlpn01Port) });
  });

  after(async () => {
    await keysmith?.stop();
  });

  it('http-01: registers, orders, validates, finalizes, downloads a verified chain, revokes with the account key, OCSP revoked', async () => {
    const name = 'x.example.test';
    const files = await obtain(name, ['--http', '--http.port', `127.0.0.1:${http01Port}`]);
    await revokeAndCheck(name, files, { code: 4, text: 'superseded' });
  });

  it('tls-alpn-01: the same account orders again, validated over acme-tls/1, then revokes', async () => {
    const name = 'y.example.test';
    const files = await obtain(name, ['--tls', '--tls.port', `127.0.0.1:${tlsAlpn01Port}`]);
    await revokeAndCheck(name, files, { code: 1, text: 'keyCompromise' });
  });

  it('a name outside the allowed suffixes is refused with rejectedIdentifier and nothing is issued', async () => {
    const result = await lego(['--domains', 'app.not-allowed.test', '--http', '--http.port', `127.0.0.1:${http01Port}`, 'run']);
    assert.notEqual(result.code, 0, result.stdout + result.stderr);
    assert.match(result.stdout + result.stderr, /rejectedIdentifier/);
    const listed = await keysmith.cli(['certs', 'list', '--dns', 'app.not-allowed.test']);
    assert.match(listed.stdout, /no certificates match/);
  });
});
