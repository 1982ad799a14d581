/**
 * Makes a fleet-sized keysmith data directory (see fleet-ledger.ts):
 *
 *   npx tsc -p tsconfig.json && node dist/bench/ledger/make.js DATA_DIR [ROWS]
 *
 * ROWS defaults to 1,000,000 (about two minutes and 1.5-2 GB on this machine).
 * DATA_DIR must be new or empty; `KEYSMITH_DATA_DIR=DATA_DIR keysmith serve` then starts on it.
 */
import { existsSync, readdirSync } from 'node:fs';
import { makeFleetLedger } from './fleet-ledger.js';

async function main(): Promise<void> {
  const [dataDir, rowsText] = process.argv.slice(2);
  if (dataDir === undefined) throw new Error('usage: node dist/bench/ledger/make.js DATA_DIR [ROWS]');
  if (existsSync(dataDir) && readdirSync(dataDir).length > 0) throw new Error(`${dataDir} is not empty`);
  const rows = rowsText === undefined ? 1_000_000 : Number(rowsText);
  if (!Number.isInteger(rows) || rows < 1000 || rows > 20_000_000) throw new Error('ROWS is an integer from 1,000 to 20,000,000');
  const report = await makeFleetLedger({ dataDir, rows, log: (line) => console.log(line) });
  console.log(
    `made ${report.rows} rows in ${report.seconds.toFixed(1)} s (${JSON.stringify(report.byProfile)}, ${report.revoked} revoked) in ${report.databasePath}`,
  );
}

await main();
