// Runs the web app's unit tests: node web/test/app/run.mjs
// Bundles web/test/app/*.test.ts with esbuild for Node and runs them with
// Node's test runner (Node 20 cannot run TypeScript itself). Type-checking is
// done by the build (tsc over src/) and by tsc over this folder.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const web = join(here, '..', '..');
const tsc = join(web, 'node_modules', 'typescript', 'bin', 'tsc');
const check = spawnSync(process.execPath, [tsc, '--noEmit', '-p', join(here, 'tsconfig.json')], { stdio: 'inherit' });
if (check.status !== 0) process.exit(check.status ?? 1);

const { build } = await import(join(web, 'node_modules', 'esbuild', 'lib', 'main.js'));
const out = mkdtempSync(join(tmpdir(), 'conclave-app-test-'));
try {
  const tests = readdirSync(here).filter((f) => f.endsWith('.test.ts')).map((f) => join(here, f));
  await build({ entryPoints: tests, bundle: true, platform: 'node', format: 'esm', target: 'node20', outdir: out, outExtension: { '.js': '.mjs' }, logLevel: 'warning' });
  const files = readdirSync(out).filter((f) => f.endsWith('.test.mjs')).map((f) => join(out, f));
  const r = spawnSync(process.execPath, ['--test', '--test-reporter=spec', ...files], { stdio: 'inherit' });
  process.exitCode = r.status ?? 1;
} finally {
  rmSync(out, { recursive: true, force: true });
}
