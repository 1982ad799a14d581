/**
 * What the offline commands share (`keysmith issue`, `revoke`, `tokens`,
 * `acme eab`, `entries`, `ca`, `backup`, `restore`, `prune`): the
 * configuration with its warnings on stderr, the core opened for one command
 * and closed after it, the actor the ledger records, and the one positional
 * argument most of them take.
 */
import { loadConfig, type Config } from '../config/index.js';
import { printConfigWarning, stringOption, UsageError, type ParsedCommand } from './args.js';
import { openCore, type Core } from './compose.js';

/** The configuration of `--config FILE` and KEYSMITH_* variables; unknown variables are warned about on stderr. */
export function configOf(parsed: ParsedCommand): Config {
  const file = stringOption(parsed, 'config');
  return loadConfig({ env: process.env, onWarning: printConfigWarning, ...(file === undefined ? {} : { file }) });
}

/** Opens the core for one command and closes the ledger after it, whatever `use` does. */
export async function withCore<T>(
  parsed: ParsedCommand,
  use: (core: Core) => Promise<T> | T,
  options: { readonly ensureIdentities?: boolean } = {},
): Promise<T> {
  const core = await openCore(configOf(parsed), { ensureIdentities: options.ensureIdentities ?? false });
  try {
    return await use(core);
  } finally {
    await core.close();
  }
}

/** Who acts, as the ledger records it: 'cli:<user>'. */
export function cliActor(): string {
  return `cli:${process.env['USER'] ?? 'operator'}`;
}

/** The one positional argument a command takes (a serial, an id, a file): `what` names it in the usage error. */
export function onePositional(parsed: ParsedCommand, what: string): string {
  const value = parsed.positionals[0];
  if (value === undefined || parsed.positionals.length !== 1) throw new UsageError(`give exactly one ${what}`);
  return value;
}
