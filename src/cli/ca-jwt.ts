/**
 * `keysmith ca rotate-jwt`: prepares a new JWT-SVID key. It is published in
 * the SPIFFE bundle at once (running nodes read ca/jwt-keys.json every
 * jwtKeyCheckInterval), signs after the overlap, and the key it replaces stays
 * published until the last token it signed has expired (docs/jwt-key-rotation.md).
 * Works on the files of ca/ only: safe while serve runs.
 */
import { join } from 'node:path';
import { prepareJwtKey, type JwtKeyState } from '../ca/index.js';
import { loadConfig } from '../config/index.js';
import { MAX_JWT_TTL_MS } from '../svid/index.js';
import { systemClock } from '../shared/clock.js';
import { durationOption, printConfigWarning, stringOption, type Command } from './args.js';
import { explainFileError } from './file-errors.js';
import { isoTime } from '../shared/iso-time.js';

/** Below this the bundle's refresh hint (300 s) may not have reached relying parties before the key signs. */
const REFRESH_HINT_MS = 300_000;

export const caRotateJwtCommand: Command = {
  name: 'ca rotate-jwt',
  summary: 'prepare a new JWT-SVID key: published now, signing after the overlap (safe while serve runs)',
  usage: 'keysmith ca rotate-jwt [--activate-after DURATION] [--json]',
  options: {
    'activate-after': {
      type: 'string',
      value: 'DURATION',
      default: 'jwtRotationOverlap (24h)',
      help: 'how long the new key is published before it signs (e.g. 30m, 24h)',
    },
    json: { type: 'boolean', default: 'false', help: 'print the key schedule as one JSON document' },
  },
  example: 'keysmith ca rotate-jwt --config keysmith.yaml --activate-after 24h',
  async run(parsed) {
    const file = stringOption(parsed, 'config');
    const config = loadConfig({ env: process.env, onWarning: printConfigWarning, ...(file === undefined ? {} : { file }) });
    const activateAfterMs = durationOption(parsed, 'activate-after') ?? config.jwtRotationOverlap;
    const now = systemClock.now();
    const result = await prepareJwtKey({
      dataDir: config.dataDir,
      now,
      activateAfterMs,
      retainMs: MAX_JWT_TTL_MS,
      onWarning: (message) => console.error(`warning: ${message}`),
      ...(config.caPassphrase === undefined ? {} : { passphrase: config.caPassphrase }),
    }).catch((err: unknown) => {
      throw explainFileError(err, 'the JWT-SVID key files', join(config.dataDir, 'ca'));
    });
    if (activateAfterMs < REFRESH_HINT_MS) {
      console.error(
        `warning: the new key signs in less than the bundle refresh hint (5m): relying parties that fetched the bundle earlier may not know it yet`,
      );
    }
    if (parsed.values['json'] === true) {
      console.log(
        JSON.stringify({ prepared: result.prepared.kid, keys: result.states.map(stateJson), removed_files: result.removedFiles }),
      );
      return 0;
    }
    console.log(`prepared the JWT-SVID key ${result.prepared.kid}: published now, signing from ${isoTime(result.prepared.activateAt)}`);
    for (const state of result.states) console.log(`  ${describe(state)}`);
    for (const name of result.removedFiles) console.log(`removed ${name} (no longer published)`);
    console.log('running nodes publish it within jwtKeyCheckInterval; on several nodes, copy ca/ to every node before it signs');
    return 0;
  },
};

function describe(state: JwtKeyState): string {
  switch (state.phase) {
    case 'prepared':
      return `${state.kid}  prepared  signs from ${isoTime(state.activateAt)}`;
    case 'active':
      return `${state.kid}  active    signing`;
    case 'retired':
      return `${state.kid}  retired   published until ${isoTime(state.dropAt ?? 0)}`;
    case 'dropped':
      return `${state.kid}  dropped`;
    default: {
      const unreachable: never = state.phase;
      return unreachable;
    }
  }
}

function stateJson(state: JwtKeyState): Record<string, string | null> {
  return {
    kid: state.kid,
    phase: state.phase,
    activate_at: isoTime(state.activateAt),
    published_until: state.dropAt === undefined ? null : isoTime(state.dropAt),
  };
}
