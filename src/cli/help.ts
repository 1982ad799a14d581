/**
 * What `keysmith <command> --help` prints: the summary, the usage line, every
 * option with its value placeholder, default and help line (the two every
 * command takes last), and one example.
 */
import type { Command, OptionSpec } from './args.js';

/** --config and --help: parseCommand adds them to every command. */
export const COMMON_OPTIONS: Readonly<Record<string, OptionSpec>> = {
  config: { type: 'string', short: 'c', value: 'FILE', help: 'settings file (YAML or JSON); KEYSMITH_* variables override it' },
  help: { type: 'boolean', short: 'h', help: 'show this help and exit' },
};

function optionLabel(name: string, spec: OptionSpec): string {
  const flag = spec.short === undefined ? `--${name}` : `--${name}, -${spec.short}`;
  const value = spec.value === undefined ? '' : ` ${spec.value}`;
  return `${flag}${value}${spec.multiple === true ? ' (repeatable)' : ''}`;
}

export function renderHelp(command: Command): string {
  const options = [...Object.entries(command.options), ...Object.entries(COMMON_OPTIONS)];
  const labels = options.map(([name, spec]) => optionLabel(name, spec));
  const width = Math.max(...labels.map((label) => label.length));
  const lines = options.map(([, spec], i) => {
    const help = spec.default === undefined ? spec.help : `${spec.help} (default: ${spec.default})`;
    return `  ${(labels[i] ?? '').padEnd(width)}  ${help}`;
  });
  return [command.summary, '', `usage: ${command.usage}`, '', 'options:', ...lines, '', 'example:', `  ${command.example}`].join('\n');
}
