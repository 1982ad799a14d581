import { fileURLToPath } from 'node:url';

/** The repository root, from dist/test/hostile/fuzz/paths.js. */
const ROOT = fileURLToPath(new URL('../../../../', import.meta.url));

/** Committed seed inputs (valid CSRs, account keys): the fuzzer's starting points. */
export const CORPUS_DIR = `${ROOT}test/hostile/fixtures/corpus`;

/** Inputs that crashed or wedged the service: replayed by test/hostile/fuzz-regressions.test.ts. */
export const CRASHES_DIR = `${ROOT}test/hostile/fixtures/crashes`;
