// Bundles the browser interop check into OUTDIR: page.js (the test page's
// script) and worker.js (the production SFrame worker, web/src/e2ee/worker.ts).
//   node web/test/sframe/browser/build.mjs OUTDIR
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const web = join(here, '..', '..', '..');
const out = process.argv[2];
if (!out) {
  console.error('usage: build.mjs OUTDIR');
  process.exit(2);
}
const { build } = await import(join(web, 'node_modules', 'esbuild', 'lib', 'main.js'));
const common = { bundle: true, format: 'iife', target: 'chrome120', logLevel: 'warning' };
await build({ ...common, entryPoints: [join(here, 'page.ts')], outfile: join(out, 'page.js') });
await build({ ...common, entryPoints: [join(web, 'src', 'e2ee', 'worker.ts')], outfile: join(out, 'worker.js') });
