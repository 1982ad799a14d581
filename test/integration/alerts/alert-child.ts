// A keysmith process reduced to its alert machinery, for the multi-process
// and SIGKILL tests: the real composition (cli/alerts.ts) over a ledger file,
// configured by KEYSMITH_ALERTS_* variables, with the clock pinned by
// ALERT_CHILD_NOW. Modes (argv[2]):
//   run       one manual run; prints "enqueued N", then "delivered {...}"
//   start     the start-up path of `serve`: catch-up or pending deliveries; prints "started"
//   slot MS   one scheduled tick for that slot; prints "outcome ran|skipped:<reason>"
import { writeSync } from 'node:fs';
import { composeAlerts, alertLogger } from '../../../src/cli/alerts.js';
import { loadConfig } from '../../../src/config/index.js';
import { openLedger } from '../../../src/ledger/index.js';

function say(line: string): void {
  // Synchronous: the line is out before anything that follows (the parent may SIGKILL at any point).
  writeSync(1, `${line}\n`);
}

const now = Number(process.env['ALERT_CHILD_NOW']);
const ledgerPath = process.env['ALERT_CHILD_LEDGER'] ?? '';
if (!Number.isSafeInteger(now) || ledgerPath === '') throw new Error('ALERT_CHILD_NOW and ALERT_CHILD_LEDGER are required');
const config = loadConfig({ env: process.env });
const ledger = openLedger({ path: ledgerPath });
const alerts = composeAlerts({
  config,
  ledger,
  clock: { now: () => now },
  logger: alertLogger('warn', 'stderr'),
  random: () => 0.5,
  schedule: { leasePatienceMs: 5_000, leaseRetryMs: 50 },
});
const [mode, arg] = process.argv.slice(2);
try {
  if (mode === 'run') {
    const outcome = await alerts.runner.run({ reason: 'manual' });
    if (outcome.status !== 'ran') throw new Error(`run skipped: ${outcome.reason}`);
    say(`enqueued ${outcome.enqueued.length}`);
    say(`delivered ${JSON.stringify(await outcome.delivered)}`);
  } else if (mode === 'start') {
    await alerts.start();
    say('started');
  } else if (mode === 'slot') {
    const schedule = alerts.schedule;
    if (schedule === undefined) throw new Error('slot mode needs a schedule');
    const outcome = await schedule.runSlot(Number(arg));
    say(`outcome ${outcome.status === 'ran' ? 'ran' : `skipped:${outcome.reason}`}`);
  } else {
    throw new Error(`unknown mode ${String(mode)}`);
  }
} finally {
  await alerts.stop();
  ledger.close();
}
