// Runs the browser SFrame benchmark (bench.ts) in headless Chromium and
// prints a Markdown table: SFrame encrypt and decrypt of the production
// worker's code against bare WebCrypto AES-128-GCM, per frame size.
//   node web/bench/sframe/run.mjs [--quick] [--json]
// --quick: one short round per size (a smoke run); --json: the raw result.
// Exits non-zero if the page fails, a frame does not round-trip, or a
// tampered frame is accepted. Chromium: $CONCLAVE_CHROMIUM or /usr/bin/chromium.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const web = join(here, '..', '..');
const quick = process.argv.includes('--quick');
const asJSON = process.argv.includes('--json');

const { build } = await import(join(web, 'node_modules', 'esbuild', 'lib', 'main.js'));
const out = mkdtempSync(join(tmpdir(), 'conclave-sframe-bench-'));
const page = `<!doctype html><meta charset="utf-8"><title>SFrame benchmark</title><link rel="icon" href="data:,"><script>
const w = new Worker('/bench.js');
w.onmessage = (e) => { window.__result = e.data; };
w.onerror = (e) => { window.__result = { rows: [], error: 'worker: ' + e.message }; };
w.postMessage({ quick: ${quick} });
</script>`;
let server;
try {
  await build({ entryPoints: [join(here, 'bench.ts')], bundle: true, format: 'iife', target: 'chrome120', logLevel: 'warning', outfile: join(out, 'bench.js') });
  const script = readFileSync(join(out, 'bench.js'));
  server = createServer((req, res) => {
    if (req.url === '/') {
      res.writeHead(200, { 'content-type': 'text/html' }).end(page);
    } else if (req.url === '/bench.js') {
      res.writeHead(200, { 'content-type': 'text/javascript' }).end(script);
    } else {
      res.writeHead(404).end();
    }
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${server.address().port}/`;
  // drive.mjs opens the page and prints {result, pageErrors} as one line.
  const drive = spawn(process.execPath, [join(web, 'test', 'sframe', 'browser', 'drive.mjs'), url], { stdio: ['ignore', 'pipe', 'inherit'] });
  let stdout = '';
  drive.stdout.on('data', (b) => (stdout += b));
  const code = await new Promise((resolve) => drive.on('close', resolve));
  if (code !== 0) fail(`the browser driver exited with ${code}`);
  const { result, pageErrors } = JSON.parse(stdout);
  if (pageErrors.length > 0) fail(`page errors: ${pageErrors.join('; ')}`);
  if (result.error) fail(result.error);
  if (result.rows.length === 0) fail('no results');
  process.stdout.write(asJSON ? JSON.stringify(result) + '\n' : table(result));
} catch (e) {
  console.error(`sframe bench: ${e instanceof Error ? e.message : e}`);
  process.exitCode = 1;
} finally {
  server?.close();
  rmSync(out, { recursive: true, force: true });
}

function fail(msg) {
  throw new Error(msg);
}

function table(result) {
  const lines = [
    `SFrame in a dedicated Worker of ${result.userAgent.match(/(Headless)?Chrome\/[\d.]+/)?.[0] ?? result.userAgent}, one frame at a time, best of ${result.rounds} round(s):`,
    '',
    '| frame | SFrame encrypt MB/s | AES-GCM seal MB/s | SFrame decrypt MB/s | AES-GCM open MB/s | SFrame encrypt / decrypt µs per frame |',
    '|---|---:|---:|---:|---:|---:|',
  ];
  const sizes = [...new Set(result.rows.map((r) => `${r.codec} ${r.bytes}`))];
  for (const size of sizes) {
    const row = (op) => result.rows.find((r) => `${r.codec} ${r.bytes}` === size && r.op === op);
    const mb = (op) => row(op).mbPerSecond.toFixed(1);
    const us = (op) => row(op).usPerFrame.toFixed(0);
    lines.push(`| ${size} B | ${mb('sframe encrypt')} | ${mb('aes-gcm seal')} | ${mb('sframe decrypt')} | ${mb('aes-gcm open')} | ${us('sframe encrypt')} / ${us('sframe decrypt')} |`);
  }
  return lines.join('\n') + '\n';
}
