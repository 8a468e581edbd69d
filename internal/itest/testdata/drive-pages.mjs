// Drives two Chromium pages for internal/itest's TestBrowserTripwire: both
// open the meeting link of the test's in-process server, join with
// Chromium's fake camera and microphone, one sends a chat message, the other
// must show it, and both keep publishing for a while. The Go test watches
// every byte the server handles meanwhile.
//
// Environment: CONCLAVE_LINK (the meeting link, with its #secret),
// CONCLAVE_CHAT (the chat text, holding the test's marker), CONCLAVE_PUBLISH_MS
// (how long both pages keep publishing after the chat arrived).
// Prints one JSON line {"chatDelivered":true,"stats":[...],"timings":{...}}
// and exits 0, or
// prints the failure and exits 1. Uses web/test/e2e/harness.mjs (Chromium's
// launch arguments and page helpers) and web/node_modules.

import { existsSync } from 'node:fs';
import { chromiumPath, frameStats, joinFromPrejoin, launch, meetingState, waitFor, watchPage } from '../../../web/test/e2e/harness.mjs';

const link = process.env.CONCLAVE_LINK ?? '';
const chat = process.env.CONCLAVE_CHAT ?? '';
const publishMs = Number(process.env.CONCLAVE_PUBLISH_MS ?? '8000');
if (link === '' || chat === '' || !(publishMs > 0)) throw new Error('set CONCLAVE_LINK, CONCLAVE_CHAT and CONCLAVE_PUBLISH_MS');
if (!existsSync(chromiumPath)) throw new Error(`${chromiumPath} is missing: apt-get install chromium`);

const t0 = Date.now();
const timings = {};
const browser = await launch(['--use-fake-ui-for-media-stream', '--autoplay-policy=no-user-gesture-required']);
try {
  const open = async () => {
    const context = await browser.newContext({ viewport: { width: 1280, height: 720 } });
    const page = await context.newPage();
    const problems = watchPage(page);
    await page.goto(link);
    return { page, problems };
  };
  const a = await open();
  await joinFromPrejoin(a.page, 'Alice');
  const b = await open();
  await joinFromPrejoin(b.page, 'Bob');
  const pages = [a, b];
  timings.joinedMs = Date.now() - t0;

  // Both pages encrypt their own frames and decrypt the other's.
  await waitFor(
    'both pages to send and decrypt frames',
    async () => {
      const s = await Promise.all(pages.map((p) => frameStats(p.page)));
      return s.every((x) => x.encrypted > 50 && x.decrypted > 50) ? '' : JSON.stringify(s);
    },
    { timeoutMs: 30_000 },
  );

  await a.page.locator('#toggle-chat').click();
  await a.page.locator('#chat-input').fill(chat);
  await a.page.locator('#chat-send').click();
  await waitFor('Alice’s chat on Bob’s page', async () => {
    const got = (await meetingState(b.page)).chat;
    return got.some((m) => m.from === 'Alice' && m.text === chat) ? '' : JSON.stringify(got);
  });

  timings.chatMs = Date.now() - t0;

  // Keep publishing: wait until publishMs has passed and both pages have
  // sent frames all along.
  const until = Date.now() + publishMs;
  const before = await Promise.all(pages.map((p) => frameStats(p.page)));
  await waitFor(
    `${publishMs} ms more of media`,
    async () => {
      const s = await Promise.all(pages.map((p) => frameStats(p.page)));
      const grew = s.every((x, i) => x.encrypted > before[i].encrypted + 100 && x.decrypted > before[i].decrypted + 100);
      if (!grew) return JSON.stringify(s);
      return Date.now() >= until ? '' : 'still publishing';
    },
    { timeoutMs: publishMs + 15_000, intervalMs: 250 },
  );
  const stats = await Promise.all(pages.map((p) => frameStats(p.page)));
  const problems = pages.flatMap((p) => p.problems);
  if (problems.length > 0) throw new Error(`page problems: ${problems.join('; ')}`);
  timings.doneMs = Date.now() - t0;
  console.log(JSON.stringify({ chatDelivered: true, stats, timings }));
} finally {
  await browser.close();
}
