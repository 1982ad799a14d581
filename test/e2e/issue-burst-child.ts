// Issues certificates in a loop and prints each serial once Authority.issue
// has returned it, i.e. once the certificate could have reached a client.
// The parent test kills this process with SIGKILL mid-burst.
import 'reflect-metadata';
import { generateKeyPairSync } from 'node:crypto';
import { writeSync } from 'node:fs';
import { loadConfig } from '../../src/config.js';
import { openCore } from '../../src/cli/compose.js';

const config = loadConfig({ env: process.env });
const core = await openCore(config, { ensureIdentities: false });
const publicKey = generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ type: 'spki', format: 'der' });
writeSync(1, 'ready\n');
for (let i = 0; i < 100_000; i++) {
  const issued = await core.authority.issue({ publicKey, spiffeId: `spiffe://${config.trustDomain}/burst/${i}`, requester: 'test:burst' }, 'svid');
  // A synchronous write: the line is out of this process before the next issue starts.
  writeSync(1, `${issued.serial}\n`);
}
