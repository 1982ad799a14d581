import { writeSync } from 'node:fs';
import { openLedger } from '../../../src/ledger/index.js';
import { makeRecord } from './ledger-fixtures.js';

/**
 * Child process for crash-safety.test.ts: records certificates one per
 * transaction, as fast as it can, and prints each serial only after its
 * commit returned. The parent SIGKILLs it mid-burst. It stops by itself after
 * a bound so a lost parent cannot leave it running.
 *
 * usage: node crash-writer.js <ledger path> <first serial, hex>
 */

const MAX_ROWS = 200_000;
const MAX_RUNTIME_MS = 20_000;

/** Blocking write to stdout: the line is in the pipe before the next commit starts. */
function printLine(line: string): void {
  const bytes = Buffer.from(`${line}\n`, 'utf8');
  let offset = 0;
  while (offset < bytes.length) {
    try {
      offset += writeSync(1, bytes, offset);
    } catch (error) {
      // stdout may be a non-blocking pipe: wait for the parent to read.
      if (error instanceof Error && 'code' in error && error.code === 'EAGAIN') continue;
      throw error;
    }
  }
}

const [path, firstSerial] = process.argv.slice(2);
if (path === undefined || firstSerial === undefined) {
  process.stderr.write('usage: crash-writer <ledger path> <first serial, hex>\n');
  process.exit(2);
}

const ledger = openLedger({ path });
const started = Date.now();
let serial = BigInt(`0x${firstSerial}`);
for (let i = 0; i < MAX_ROWS && Date.now() - started < MAX_RUNTIME_MS; i += 1) {
  const record = makeRecord({ serial: serial.toString(16) });
  ledger.certificates.recordIssued(record);
  printLine(record.serial);
  serial += 1n;
}
ledger.close();
