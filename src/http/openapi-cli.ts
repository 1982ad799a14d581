/**
 * Writes openapi/openapi.json from the routes' schemas:
 *   node dist/src/http/openapi-cli.js           regenerate (deliberately)
 *   node dist/src/http/openapi-cli.js --check   exit 1 when the committed file is stale
 */
import { readFile, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { generateOpenApi } from './openapi-generate.js';

/** From dist/src/http/ up to the repository root. */
const TARGET = fileURLToPath(new URL('../../../openapi/openapi.json', import.meta.url));

async function main(args: readonly string[]): Promise<number> {
  const generated = await generateOpenApi();
  if (args.includes('--check')) {
    const committed = await readFile(TARGET, 'utf8').catch(() => '');
    if (committed === generated) return 0;
    console.error(`${TARGET} is out of date: run node dist/src/http/openapi-cli.js and commit the result`);
    return 1;
  }
  await writeFile(TARGET, generated);
  console.log(`wrote ${TARGET}`);
  return 0;
}

process.exitCode = await main(process.argv.slice(2));
