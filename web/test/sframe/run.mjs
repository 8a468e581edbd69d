// Runs the SFrame TypeScript checks with one command:
//   node web/test/sframe/run.mjs
// 1. type-checks web/src/e2ee (page and worker configs), these tests and the
//    browser SFrame benchmark (web/bench/sframe) with tsc;
// 2. bundles web/test/sframe/*.test.ts with esbuild into a temporary folder;
// 3. runs them with Node's test runner. Exits non-zero on any failure.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const web = join(here, '..', '..');
const repo = join(web, '..');
const node = process.execPath;
const tsc = join(web, 'node_modules', 'typescript', 'bin', 'tsc');

function run(args, opts = {}) {
  const r = spawnSync(node, args, { stdio: 'inherit', cwd: repo, ...opts });
  if (r.status !== 0) process.exit(r.status ?? 1);
}

for (const cfg of ['src/e2ee/tsconfig.json', 'src/e2ee/tsconfig.worker.json', 'test/sframe/tsconfig.json', 'test/sframe/browser/tsconfig.json', 'bench/sframe/tsconfig.json']) {
  run([tsc, '--noEmit', '-p', join(web, cfg)]);
}

const { build } = await import(join(web, 'node_modules', 'esbuild', 'lib', 'main.js'));
const out = mkdtempSync(join(tmpdir(), 'conclave-sframe-'));
try {
  const tests = readdirSync(here).filter((f) => f.endsWith('.test.ts')).map((f) => join(here, f));
  await build({ entryPoints: tests, bundle: true, platform: 'node', format: 'esm', target: 'node20', outdir: out, outExtension: { '.js': '.mjs' }, logLevel: 'warning' });
  const files = readdirSync(out).filter((f) => f.endsWith('.test.mjs')).map((f) => join(out, f));
  run(['--test', '--test-reporter=spec', ...files]);
} finally {
  rmSync(out, { recursive: true, force: true });
}
