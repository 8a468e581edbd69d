// Opens URL in headless Chromium (playwright-core), waits for the page to
// publish window.__result (deadline 90 s), prints it as one JSON line and
// exits 0; exits 1 on timeout or page error.
//   node web/test/sframe/browser/drive.mjs URL
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const web = join(here, '..', '..', '..');
const { chromium } = await import(join(web, 'node_modules', 'playwright-core', 'index.mjs'));

const url = process.argv[2];
const executablePath = process.env.CONCLAVE_CHROMIUM ?? '/usr/bin/chromium';
const browser = await chromium.launch({
  executablePath,
  args: [
    '--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
    '--disable-component-update', '--disable-sync', '--no-first-run',
    '--use-fake-ui-for-media-stream', '--use-fake-device-for-media-stream',
  ],
});
let code = 0;
try {
  const page = await browser.newPage();
  const pageErrors = [];
  page.on('pageerror', (e) => pageErrors.push(String(e)));
  page.on('console', (m) => {
    if (m.type() === 'error') pageErrors.push(m.text());
  });
  await page.goto(url);
  await page.waitForFunction(() => 'window' in globalThis && window.__result !== undefined, null, { timeout: 90_000 });
  const result = await page.evaluate(() => window.__result);
  process.stdout.write(JSON.stringify({ result, pageErrors }) + '\n');
} catch (e) {
  console.error(`drive: ${e}`);
  code = 1;
} finally {
  await browser.close();
}
process.exit(code);
