// Builds the web app into dist/, which web/embed.go embeds in the binary.
//
//   node build.mjs            type-check, then bundle
//   node build.mjs --no-check bundle only
//
// Output names are stable (no content hashes in names): dist/index.html and
// dist/assets/{app.js,app.css,e2ee-worker.js,icon.svg,session.wasm,wasm_exec.js,files.json}. The build
// is deterministic: the same sources give the same bytes, hence the same
// bundle SHA-256 (defined in web/embed.go, printed at the end).
// Everything is same-origin and CSP-friendly: no inline scripts or styles, no
// eval, no external URLs.

import { build } from 'esbuild';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFile, mkdir, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { dirname, join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const src = join(here, 'src');
const dist = join(here, 'dist');
const assets = join(dist, 'assets');
const workerEntry = join(src, 'e2ee', 'worker.ts');

function fail(msg) {
  console.error(`build: ${msg}`);
  process.exit(1);
}

async function exists(p) {
  try {
    await stat(p);
    return true;
  } catch {
    return false;
  }
}

if (!process.argv.includes('--no-check')) {
  for (const project of ['tsconfig.json', join('src', 'e2ee', 'tsconfig.json'), join('src', 'e2ee', 'tsconfig.worker.json')]) {
    if (!(await exists(join(here, project)))) continue;
    const r = spawnSync(process.execPath, [join(here, 'node_modules', 'typescript', 'bin', 'tsc'), '--noEmit', '-p', project], {
      cwd: here,
      stdio: 'inherit',
    });
    if (r.status !== 0) fail(`type errors in ${project}`);
  }
}

if (!(await exists(workerEntry))) fail(`missing the SFrame worker ${relative(here, workerEntry)}`);

// Clean dist but keep its placeholder.
for (const name of await readdir(dist).catch(() => [])) {
  if (name !== '.keep') await rm(join(dist, name), { recursive: true, force: true });
}
await mkdir(assets, { recursive: true });

const common = {
  bundle: true,
  minify: true,
  sourcemap: false,
  target: ['chrome120', 'firefox128', 'safari17'],
  charset: 'utf8',
  legalComments: 'eof',
  logLevel: 'warning',
  define: { 'process.env.NODE_ENV': '"production"' },
};

await build({ ...common, entryPoints: { app: join(src, 'main.ts') }, outdir: assets, format: 'esm', platform: 'browser' });
// The worker is a classic script (src/e2ee/manager.ts starts it without type: 'module').
await build({ ...common, entryPoints: { 'e2ee-worker': workerEntry }, outdir: assets, format: 'iife', platform: 'browser' });
await build({ ...common, entryPoints: { app: join(src, 'app.css') }, outdir: assets });
await copyFile(join(src, 'index.html'), join(dist, 'index.html'));

// The MLS session (e2ee/session) compiled to WebAssembly, and Go's loader for
// it. -trimpath and -s -w keep paths and symbols out, so the bytes (and the
// bundle hash) depend only on the sources and the Go version.
function go(args, env = {}) {
  const r = spawnSync(process.env.GO ?? 'go', args, { cwd: join(here, '..'), env: { ...process.env, ...env }, encoding: 'utf8' });
  if (r.error) fail(`go ${args.join(' ')}: ${r.error.message} (is Go on PATH?)`);
  if (r.status !== 0) fail(`go ${args.join(' ')}:\n${r.stderr}`);
  return r.stdout.trim();
}
go(['build', '-trimpath', '-buildvcs=false', '-ldflags=-s -w', '-o', join(assets, 'session.wasm'), './e2ee/session/wasm'], { GOOS: 'js', GOARCH: 'wasm', CGO_ENABLED: '0' });
// Go 1.24 moved wasm_exec.js from misc/wasm to lib/wasm.
const goroot = go(['env', 'GOROOT']);
const wasmExec = [join(goroot, 'lib', 'wasm', 'wasm_exec.js'), join(goroot, 'misc', 'wasm', 'wasm_exec.js')];
let copied = false;
for (const p of wasmExec) {
  if (await exists(p)) {
    await copyFile(p, join(assets, 'wasm_exec.js'));
    copied = true;
    break;
  }
}
if (!copied) fail(`wasm_exec.js not found under ${goroot}`);
await copyFile(join(src, 'icon.svg'), join(assets, 'icon.svg'));

// The bundle must not reach for anything outside this origin.
for (const f of ['app.js', 'e2ee-worker.js', 'app.css']) {
  const text = await readFile(join(assets, f), 'utf8');
  for (const bad of [/\beval\(/, /new Function\(/, /@import\s+url\(/, /url\(\s*['"]?https?:/]) {
    if (bad.test(text)) fail(`${f} contains ${bad}`);
  }
}

// files.json lists every file of the bundle (itself included) so the page can
// recompute the bundle hash; see src/bundlehash.ts.
async function walk(dir) {
  const out = [];
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...(await walk(p)));
    else if (e.isFile()) out.push(relative(dist, p).split(sep).join('/'));
  }
  return out;
}
const manifestName = 'assets/files.json';
const files = (await walk(dist)).filter((p) => p !== '.keep');
files.push(manifestName);
const byteOrder = (a, b) => (Buffer.from(a) < Buffer.from(b) ? -1 : Buffer.from(a) > Buffer.from(b) ? 1 : 0);
const listed = [...new Set(files)].sort(byteOrder);
for (const p of listed) if (!/^[\x21-\x7e]+$/.test(p)) fail(`unsupported file name ${JSON.stringify(p)}`);
await writeFile(join(dist, manifestName), JSON.stringify(listed) + '\n');

// The bundle hash, as web/embed.go defines it.
let manifest = '';
for (const p of listed) {
  const sum = createHash('sha256').update(await readFile(join(dist, p))).digest('hex');
  manifest += `${sum}  ${p}\n`;
}
const hash = createHash('sha256').update(manifest).digest('hex');
let total = 0;
for (const p of listed) total += (await stat(join(dist, p))).size;
console.log(`web bundle: ${listed.length} files, ${total} bytes, sha256 ${hash}`);
