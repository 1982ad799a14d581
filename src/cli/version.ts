/**
 * `keysmith --version`: the version of the package this file was built in.
 * The built file sits at dist/src/cli/version.js and the source at
 * src/cli/version.ts, so the package.json is found by walking up from this
 * file to the first package.json named "keysmith", not by a fixed number of
 * `..` (which would differ between the two and break if the layout moved).
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const PACKAGE_NAME = 'keysmith';

export function packageVersion(from: string = dirname(fileURLToPath(import.meta.url))): string {
  for (let dir = from; ; dir = dirname(dir)) {
    const manifest = readManifest(join(dir, 'package.json'));
    if (manifest !== undefined && manifest.name === PACKAGE_NAME && typeof manifest.version === 'string') return manifest.version;
    if (dirname(dir) === dir) throw new Error(`no package.json of ${PACKAGE_NAME} above ${from}`);
  }
}

function readManifest(path: string): { name?: unknown; version?: unknown } | undefined {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
  const parsed: unknown = JSON.parse(text);
  return typeof parsed === 'object' && parsed !== null ? parsed : undefined;
}
