import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { runProcess } from '../helpers/processes.js';
import { HostileService } from './harness.js';

/**
 * The responder URL as relying parties write it: `openssl ocsp -url
 * https://host/ocsp/` (trailing slash) against `keysmith serve` gets a
 * signed answer it verifies, and the service stays up.
 */
describe('openssl ocsp against keysmith serve', () => {
  let service: HostileService;
  before(async () => {
    service = await HostileService.start();
  });
  after(async () => {
    await service.stop();
  });

  it('verifies the answer for the listener certificate asked at /ocsp/ with a trailing slash', async () => {
    const serverCert = join(service.paths.dataDir, 'server', 'cert.pem');
    // The listener's chain file is leaf then issuing intermediate.
    const chain = await readFile(serverCert, 'utf8');
    const blocks = chain.match(/-----BEGIN CERTIFICATE-----[^-]+-----END CERTIFICATE-----/g) ?? [];
    assert.ok(blocks.length >= 2, 'the listener chain names its issuer');
    const issuer = join(service.paths.dataDir, 'issuer.pem');
    await writeFile(issuer, `${blocks[1]}\n`);
    for (const url of [`https://127.0.0.1:${service.port}/ocsp/`, `https://127.0.0.1:${service.port}/ocsp`]) {
      const result = await runProcess(
        'openssl',
        ['ocsp', '-issuer', issuer, '-cert', serverCert, '-url', url, '-CAfile', service.paths.bundle],
        { lifetimeMs: 20_000 },
      );
      assert.equal(result.code, 0, `${url}\n${result.stdout}${result.stderr}`);
      assert.match(result.stderr + result.stdout, /Response verify OK/);
      assert.match(result.stdout, /cert\.pem: good/);
    }
    await service.assertHealthy('after the OCSP requests');
  });
});
