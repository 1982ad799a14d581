// Issues certificates in a loop and prints each serial once Authority.issue
// has returned it, i.e. once the certificate could have reached a client.
// The parent test kills this process with SIGKILL mid-burst.
//
// usage: issue-burst-child.js [concurrency]: that many issuers at once (default 1). With
// more than one, rows signed together share a group commit, and on SQLite the commit
// worker's thread is committing while the kill comes, as under `keysmith serve` at full rate.
import 'reflect-metadata';
import { generateKeyPairSync } from 'node:crypto';
import { writeSync } from 'node:fs';
import { loadConfig } from '../../src/config/index.js';
import { openCore } from '../../src/cli/compose.js';

const MAX_ISSUED = 100_000;
const concurrency = Number(process.argv[2] ?? '1');
if (!Number.isInteger(concurrency) || concurrency < 1 || concurrency > 256) throw new Error('concurrency is an integer from 1 to 256');

const config = loadConfig({ env: process.env });
const core = await openCore(config, { ensureIdentities: false });
const publicKey = generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ type: 'spki', format: 'der' });
writeSync(1, 'ready\n');
let next = 0;
async function issuer(): Promise<void> {
  while (next < MAX_ISSUED) {
    const i = next++;
    const issued = await core.authority.issue(
      { publicKey, spiffeId: `spiffe://${config.trustDomain}/burst/${i}`, requester: 'test:burst' },
      'svid',
    );
    // A synchronous write: the line is out of this process before this issuer starts its next one.
    writeSync(1, `${issued.serial}\n`);
  }
}
await Promise.all(Array.from({ length: concurrency }, () => issuer()));
