// Runs every compiled test file under dist/test with Node's built-in runner.
// Node 20's `--test` takes no globs, so the file list is gathered here.
//
// Two passes: everything but test/hostile, test/cluster and test/browser two
// files at a time, then those suites one file at a time. Hostile tests run
// `keysmith serve` as a child and bound its /healthz latency under attack;
// another test file running beside them on a 2-core machine would measure
// that file, not the attack. The cluster test runs three nodes, PostgreSQL
// and HAProxy and holds a revocation to one second: it wants the machine too.
//
//   node scripts/run-tests.mjs [FILTER]          every file whose path contains FILTER
//   KEYSMITH_TEST_BACKEND=postgres node scripts/run-tests.mjs e2e
//       the end-to-end suite with every `keysmith` child on PostgreSQL
//       (a fresh database per data directory: test/helpers/test-backend.ts)
import { readdirSync, statSync } from 'node:fs';
import { join, sep } from 'node:path';
import { spawnSync } from 'node:child_process';
import { startCluster } from './pg-cluster.mjs';

function collect(dir) {
  const found = [];
  for (const name of readdirSync(dir).sort()) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) found.push(...collect(path));
    else if (name.endsWith('.test.js')) found.push(path);
  }
  return found;
}

// One argument filters the files under dist/test by a substring of their path;
// several (or one ending in .test.js) are the files to run, e.g. a list from grep.
const args = process.argv.slice(2);
const isFileList = args.length > 1 || (args[0] ?? '').endsWith('.test.js');
const filter = isFileList ? undefined : args[0];
const files = isFileList ? [...new Set(args)] : collect('dist/test').filter((f) => !filter || f.includes(filter));
if (files.length === 0) {
  console.error('no test files found under dist/test');
  process.exit(1);
}
const aloneDirs = ['hostile', 'cluster', 'browser'].map((name) => join('dist', 'test', name) + sep);
const runsAlone = (f) => aloneDirs.some((dir) => f.startsWith(dir));
const passes = [
  { files: files.filter((f) => !runsAlone(f)), concurrency: 2 },
  { files: files.filter(runsAlone), concurrency: 1 },
];
const backend = process.env.KEYSMITH_TEST_BACKEND ?? 'sqlite';
if (backend !== 'sqlite' && backend !== 'postgres') {
  console.error(`KEYSMITH_TEST_BACKEND: expected sqlite or postgres, got '${backend}'`);
  process.exit(2);
}
console.log(`# keysmith children run on ${backend}`);
// The PostgreSQL backend's tests need a server they may create databases on:
// KEYSMITH_TEST_DATABASE_URL names one, or a throw-away cluster starts here
// (scripts/pg-cluster.mjs) and is removed when the tests end.
let cluster;
if (!process.env.KEYSMITH_TEST_DATABASE_URL) {
  cluster = await startCluster();
  process.env.KEYSMITH_TEST_DATABASE_URL = cluster.url;
  console.log(`# throw-away PostgreSQL cluster at ${cluster.url}`);
}
let status = 0;
try {
  for (const pass of passes) {
    if (pass.files.length === 0) continue;
    const result = spawnSync(process.execPath, ['--test', `--test-concurrency=${pass.concurrency}`, ...pass.files], { stdio: 'inherit' });
    if (result.status !== 0) status = result.status ?? 1;
  }
} finally {
  cluster?.stop();
}
process.exit(status);
