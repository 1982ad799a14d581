/**
 * The configuration of a keysmith run inside a test process: `dataDir`, a
 * free port on 127.0.0.1, no log output and no alert schedule (a test that
 * wants alerts runs them itself); `env` adds or overrides variables.
 */
import { loadConfig, type Config } from '../../src/config/index.js';
import { freePort } from './processes.js';

export async function inProcessConfig(dataDir: string, env: Readonly<Record<string, string>> = {}): Promise<Config> {
  return loadConfig({
    env: {
      KEYSMITH_DATA_DIR: dataDir,
      KEYSMITH_LISTEN: `127.0.0.1:${await freePort()}`,
      KEYSMITH_LOG_LEVEL: 'silent',
      KEYSMITH_ALERTS_SCHEDULE: 'off',
      ...env,
    },
  });
}
