import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { COMMANDS } from '../../../src/cli/program.js';
import { runProcess } from '../../helpers/processes.js';
import { MAIN } from './cli-fixtures.js';

/**
 * `keysmith --version`, and `--help` on every command in the program's list
 * (so a command added later is walked too): every option with its value
 * placeholder and its default where it has one, --config and --help, and one
 * example that calls that command.
 */

const keysmith = (args: readonly string[]) =>
  runProcess(process.execPath, [MAIN, ...args], { env: { PATH: process.env['PATH'], HOME: process.env['HOME'] }, timeoutMs: 30_000 });

function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

describe('keysmith --version and --help', () => {
  it('prints the package version with --version and -V, exit 0', async () => {
    const manifest: unknown = JSON.parse(await readFile(fileURLToPath(new URL('../../../../package.json', import.meta.url)), 'utf8'));
    assert.ok(typeof manifest === 'object' && manifest !== null && 'version' in manifest && typeof manifest.version === 'string');
    for (const flag of ['--version', '-V']) {
      const result = await keysmith([flag]);
      assert.equal(result.code, 0, result.stderr);
      assert.equal(result.stdout, `${manifest.version}\n`);
    }
  });

  it('knows more than the original thirteen commands, and each has an example', () => {
    assert.ok(COMMANDS.length >= 17, `${COMMANDS.length} commands`);
    for (const command of COMMANDS) assert.match(command.example, new RegExp(`^keysmith ${escape(command.name)}( |$)`), command.name);
  });

  for (const command of COMMANDS) {
    it(`keysmith ${command.name} --help lists every option, its defaults and an example`, async () => {
      const result = await keysmith([...command.name.split(' '), '--help']);
      assert.equal(result.code, 0, result.stderr);
      const help = result.stdout;
      assert.ok(help.startsWith(`${command.summary}\n\nusage: ${command.usage}\n\noptions:\n`), help);
      const options = {
        ...command.options,
        config: { type: 'string', value: 'FILE', short: 'c', help: 'settings file' },
        help: { type: 'boolean', short: 'h', help: 'show this help' },
      };
      for (const [name, spec] of Object.entries(options)) {
        const flag = `--${name}${spec.short === undefined ? '' : `, -${spec.short}`}${'value' in spec && spec.value !== undefined ? ` ${spec.value}` : ''}`;
        const line = help.split('\n').find((l) => l.startsWith(`  ${flag} `) || l.startsWith(`  ${flag}  `));
        assert.ok(line !== undefined, `--${name} is listed as '${flag}':\n${help}`);
        if ('default' in spec && spec.default !== undefined) assert.ok(line.endsWith(`(default: ${spec.default})`), line);
        else assert.ok(!line.includes('(default:'), line);
        assert.ok(line.trim().length > flag.length + 4, `--${name} has a help line`);
      }
      assert.ok(help.endsWith(`\nexample:\n  ${command.example}\n`), help);
    });
  }

  it('shows the defaults operators look for', async () => {
    const tokens = await keysmith(['tokens', 'create', '--help']);
    assert.match(tokens.stdout, /^ {2}--ttl DURATION\s+how long the token can be used, 1m to 7d \(default: 10m\)$/m);
    const revoke = await keysmith(['revoke', '--help']);
    assert.match(
      revoke.stdout,
      /^ {2}--reason REASON\s+RFC 5280 section 5\.3\.1 reason, as the HTTP API takes it: .+ \(default: unspecified\)$/m,
    );
    const list = await keysmith(['certs', 'list', '--help']);
    assert.match(list.stdout, /^ {2}--limit N\s+rows per page, 1 to 500 \(default: 100; 500 with --all\)$/m);
    assert.match(list.stdout, /^ {2}--config, -c FILE\s+settings file \(YAML or JSON\); KEYSMITH_\* variables override it$/m);
  });
});
