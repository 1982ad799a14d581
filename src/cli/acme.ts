/**
 * `keysmith acme eab create`: mints an External Account Binding key
 * (RFC 8555 §7.3.4) offline on the data directory, like `keysmith issue`
 * (safe while serve runs: one ledger transaction). The ACME server itself is
 * composed in compose.ts (composeAcme).
 */
import { createEabKey } from '../acme/index.js';
import { loadConfig } from '../config.js';
import { printConfigWarning, stringOption, type Command } from './args.js';
import { openCore } from './compose.js';

export const acmeEabCreateCommand: Command = {
  name: 'acme eab create',
  summary: 'create an ACME External Account Binding key: prints the key id and the base64url HMAC key',
  usage: 'keysmith acme eab create [--json]',
  options: { json: { type: 'boolean' } },
  async run(parsed) {
    const file = stringOption(parsed, 'config');
    const config = loadConfig({ env: process.env, onWarning: printConfigWarning, ...(file === undefined ? {} : { file }) });
    const core = await openCore(config, { ensureIdentities: false });
    try {
      const user = process.env['USER'] ?? 'operator';
      const { keyId, hmacKey } = await createEabKey(core.repositories.acme, core.clock, `cli:${user}`);
      // Shown once, to the operator who asked; never logged.
      if (parsed.values['json'] === true) {
        console.log(JSON.stringify({ keyId, hmacKey }));
      } else {
        console.log(`key id:   ${keyId}`);
        console.log(`hmac key: ${hmacKey}`);
        console.log(`\ncertbot: --eab-kid ${keyId} --eab-hmac-key <hmac key>   lego: --eab --kid ${keyId} --hmac <hmac key>`);
      }
    } finally {
      await core.close();
    }
    return 0;
  },
};
