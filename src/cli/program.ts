import 'reflect-metadata';
import { ConfigError } from '../config/index.js';
import { DomainError } from '../shared/errors.js';
import { parseCommand, UsageError, type Command } from './args.js';
import { acmeEabCreateCommand, acmeEabListCommand, acmeEabRevokeCommand } from './acme.js';
import { alertsListCommand, alertsRunCommand } from './alerts-commands.js';
import { caRotateJwtCommand } from './ca-jwt.js';
import { caActivateCommand, caArlCommand, caRevokeIntermediateCommand, caRotateCommand, caStatusCommand } from './ca.js';
import { certsListCommand, initCommand, issueCommand, revokeCommand } from './commands.js';
import { entriesCreateCommand, entriesDeleteCommand, entriesListCommand } from './entries.js';
import { healthCommand } from './health.js';
import { renderHelp } from './help.js';
import { serveCommand } from './serve.js';
import { tokensCreateCommand, tokensListCommand, tokensRevokeCommand } from './tokens.js';
import { packageVersion } from './version.js';
import { backupCommand } from './backup.js';
import { pruneCommand } from './prune.js';
import { restoreCommand } from './restore.js';

export const COMMANDS: readonly Command[] = [
  serveCommand,
  initCommand,
  issueCommand,
  certsListCommand,
  revokeCommand,
  alertsListCommand,
  alertsRunCommand,
  acmeEabCreateCommand,
  acmeEabListCommand,
  acmeEabRevokeCommand,
  entriesCreateCommand,
  entriesListCommand,
  entriesDeleteCommand,
  tokensCreateCommand,
  tokensListCommand,
  tokensRevokeCommand,
  healthCommand,
  backupCommand,
  restoreCommand,
  pruneCommand,
  caRotateCommand,
  caActivateCommand,
  caStatusCommand,
  caRevokeIntermediateCommand,
  caArlCommand,
  caRotateJwtCommand,
];

function overview(): string {
  const width = Math.max(...COMMANDS.map((c) => c.name.length));
  return [
    'keysmith: an internal PKI that gives every workload a short-lived identity',
    '',
    'usage: keysmith <command> [options]   (every command takes --config FILE and --help)',
    '       keysmith --version',
    '',
    ...COMMANDS.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`),
    '',
    'configuration: KEYSMITH_* variables override the --config file; see the README.',
  ].join('\n');
}

/** Finds the command named by the first one or two words ("certs list"). */
function findCommand(argv: readonly string[]): { command: Command; rest: readonly string[] } | undefined {
  for (const command of COMMANDS) {
    const words = command.name.split(' ');
    if (words.every((w, i) => argv[i] === w)) return { command, rest: argv.slice(words.length) };
  }
  return undefined;
}

export async function main(argv: readonly string[]): Promise<number> {
  if (argv.length === 0 || argv[0] === '--help' || argv[0] === '-h' || argv[0] === 'help') {
    console.log(overview());
    return argv.length === 0 ? 2 : 0;
  }
  if (argv[0] === '--version' || argv[0] === '-V') {
    console.log(packageVersion());
    return 0;
  }
  const found = findCommand(argv);
  if (found === undefined) {
    console.error(`keysmith: unknown command '${argv.join(' ')}'\n\n${overview()}`);
    return 2;
  }
  const { command, rest } = found;
  try {
    const parsed = parseCommand(command, rest);
    if (parsed.values['help'] === true) {
      console.log(renderHelp(command));
      return 0;
    }
    return await command.run(parsed);
  } catch (err) {
    if (err instanceof UsageError) {
      console.error(`keysmith ${command.name}: ${err.message}\nusage: ${command.usage}`);
      return 2;
    }
    if (err instanceof ConfigError) {
      console.error(`keysmith: ${err.message}`);
      return 78; // EX_CONFIG
    }
    if (err instanceof DomainError) {
      console.error(`keysmith ${command.name}: ${err.detail}`);
      return 1;
    }
    console.error(`keysmith ${command.name}: ${err instanceof Error ? err.message : String(err)}`);
    return 1;
  }
}
