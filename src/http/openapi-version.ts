/**
 * The package's version (package.json `version`), read once: the OpenAPI
 * document's info.version is the version of the keysmith that serves it.
 */
import { readFileSync } from 'node:fs';

/** From dist/src/http/ (and src/http/ under a TypeScript runner: one level less) up to the repository root. */
const CANDIDATES = ['../../../package.json', '../../package.json'];

let cached: string | undefined;

export function packageVersion(): string {
  if (cached !== undefined) return cached;
  for (const candidate of CANDIDATES) {
    let text: string;
    try {
      text = readFileSync(new URL(candidate, import.meta.url), 'utf8');
    } catch {
      continue;
    }
    const parsed: unknown = JSON.parse(text);
    if (
      typeof parsed === 'object' &&
      parsed !== null &&
      'name' in parsed &&
      parsed.name === 'keysmith' &&
      'version' in parsed &&
      typeof parsed.version === 'string'
    ) {
      cached = parsed.version;
      return cached;
    }
  }
  throw new Error('keysmith: package.json (name keysmith) not found above dist/src/http: cannot tell the version');
}
