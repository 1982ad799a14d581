import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { runProcess } from '../helpers/processes.js';
import { fixture, fixturePath } from './harness.js';

/*
 * A real OCSP response for server.pem (RFC 6960), signed by the test
 * intermediate with `openssl ocsp`, for `s_server -status_file`: shared by
 * the TLS 1.3 stapling tests and the TLS 1.2 client tests.
 */

/** Asks `openssl ocsp` for a request about server.pem, then answers it as a responder with an index that says good. */
export async function signGoodResponse(dir: string): Promise<Buffer> {
  const leaf = new X509Certificate(fixture('server.pem'));
  const index = join(dir, 'index.txt');
  // ca(1) index format: status, expiry (YYMMDDHHMMSSZ), revocation date, serial (hex), file, subject.
  await writeFile(index, `V\t991231235959Z\t\t${leaf.serialNumber.toUpperCase()}\tunknown\t/CN=localhost\n`);
  const request = join(dir, 'request.der');
  const response = join(dir, 'response.der');
  const ask = await runProcess('openssl', [
    'ocsp',
    '-issuer',
    fixturePath('intermediate.pem'),
    '-cert',
    fixturePath('server.pem'),
    '-no_nonce',
    '-reqout',
    request,
  ]);
  assert.equal(ask.code, 0, ask.stderr);
  const answer = await runProcess('openssl', [
    'ocsp',
    '-index',
    index,
    '-CA',
    fixturePath('intermediate.pem'),
    '-rsigner',
    fixturePath('intermediate.pem'),
    '-rkey',
    fixturePath('intermediate.key'),
    '-ndays',
    '1',
    '-reqin',
    request,
    '-respout',
    response,
  ]);
  assert.equal(answer.code, 0, answer.stderr);
  return readFile(response);
}
