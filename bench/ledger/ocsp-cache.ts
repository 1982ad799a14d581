/**
 * Memory per cached OCSP response, to size `ocspCacheSize`:
 *
 *   npx tsc -p tsconfig.json && node --expose-gc dist/bench/ledger/ocsp-cache.js DATA_DIR [N]
 *
 * DATA_DIR is a data directory made by make.js (it is opened, not changed). N
 * (default 20,000) certificates of its ledger are asked about once by POST and
 * once by GET (two request keys per entry, as clients of both kinds give), each
 * answer signed by the real delegated responder and kept by the real
 * LedgerSource; the heap is measured after a full GC before and after.
 */
import { openCore } from '../../src/cli/compose.js';
import { openRevocation } from '../../src/cli/issuer-revocation.js';
import { loadConfig } from '../../src/config/index.js';
import { requestForCertificate } from '../../src/ocsp/index.js';

function heapAfterGc(): number {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (gc === undefined) throw new Error('run with node --expose-gc');
  gc();
  gc();
  return process.memoryUsage().heapUsed;
}

async function main(): Promise<void> {
  const [dataDir, countText] = process.argv.slice(2);
  if (dataDir === undefined) throw new Error('usage: node --expose-gc dist/bench/ledger/ocsp-cache.js DATA_DIR [N]');
  const count = Number(countText ?? 20_000);
  const config = loadConfig({
    env: { KEYSMITH_DATA_DIR: dataDir, KEYSMITH_LOG_LEVEL: 'warn', KEYSMITH_OCSP_CACHE_SIZE: String(count * 2) },
  });
  const core = await openCore(config, { ensureIdentities: false });
  const revocation = await openRevocation(core);
  try {
    const issuer = core.authority.material.intermediate.certDer;
    let cursor: string | null = null;
    const ders: Uint8Array[] = [];
    do {
      const page = await core.repositories.certificates.list({ limit: 500, ...(cursor === null ? {} : { cursor }) });
      for (const c of page.items) if (c.profile !== 'root' && c.profile !== 'intermediate') ders.push(requestForCertificate(c.der, issuer));
      cursor = page.nextCursor;
    } while (cursor !== null && ders.length < count);
    const bodies = ders.slice(0, count);
    const paths = bodies.map((der) => encodeURIComponent(Buffer.from(der).toString('base64')));
    const before = heapAfterGc();
    const started = performance.now();
    for (let i = 0; i < bodies.length; i += 1) {
      const body = bodies[i];
      const path = paths[i];
      if (body === undefined || path === undefined) continue;
      void revocation.port.responder.answer(body);
      void revocation.port.responder.answerGet(path);
    }
    const seconds = (performance.now() - started) / 1000;
    const after = heapAfterGc();
    const cached = revocation.source.size;
    console.log(
      `ocsp cache: ${cached} responses cached (${bodies.length} certificates, POST and GET each) in ${seconds.toFixed(1)} s; ` +
        `heap +${((after - before) / 1e6).toFixed(1)} MB = ${((after - before) / cached).toFixed(0)} B per cached response`,
    );
  } finally {
    revocation.stop();
    await core.close();
  }
}

await main();
