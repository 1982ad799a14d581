import { join } from 'node:path';
import { initCertificateAuthority, type CaOpsContext } from '../../../src/ca/index.js';
import { openLedger, type Ledger } from '../../../src/ledger/index.js';
import { FixedClock, tempDir } from './helpers.js';

/** The trust domain of the CA fixtures. */
export const TD = 'example.org';

/** A freshly initialised CA directory with its real SQLite ledger, on a fixed clock, and the operator commands' context. */
export interface CaFixture {
  readonly dir: string;
  readonly ledger: Ledger;
  readonly clock: FixedClock;
  readonly ctx: CaOpsContext;
  close(): void;
}

/** `extra`: context fields some tests set (e.g. the ARL URL). */
export async function openCaFixture(name: string, extra: Partial<Pick<CaOpsContext, 'arlUrl'>> = {}): Promise<CaFixture> {
  const dir = tempDir(name);
  const ledger = openLedger({ path: join(dir.path, 'keysmith.db') });
  const clock = new FixedClock(Date.now());
  await initCertificateAuthority({ dataDir: dir.path, trustDomain: TD, store: ledger.certificates, clock });
  const ctx: CaOpsContext = { dataDir: dir.path, trustDomain: TD, clock, store: ledger.certificates, ...extra };
  return {
    dir: dir.path,
    ledger,
    clock,
    ctx,
    close: () => {
      ledger.close();
      dir.remove();
    },
  };
}
