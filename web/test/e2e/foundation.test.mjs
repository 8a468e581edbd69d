// Foundation (issue 3): the stock livekit-client in Chromium joins a meeting,
// publishes camera and microphone SFrame-encrypted, and a Go bot receives and
// decrypts its frames; the other way round, the page receives the bot's
// tracks and its SFrame worker decrypts them.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { frameStats, joinFromPrejoin, launch, newMeeting, Processes, requireTools, startBot, startServer, tail, waitFor, watchPage } from './harness.mjs';

const procs = new Processes();
let server;
let browser;

before(async () => {
  requireTools();
  server = await startServer(procs);
  browser = await launch();
});

after(async () => {
  await browser?.close();
  await procs.stopAll();
});

test('browser and Go bot exchange SFrame-encrypted media both ways', { timeout: 120_000 }, async () => {
  const meeting = await newMeeting(server.url);
  const bot = startBot(procs, meeting.link, 'bot-1', '30s');

  const page = await browser.newPage();
  const problems = watchPage(page);
  await page.goto(meeting.link);
  await joinFromPrejoin(page, 'Alice');

  // The page publishes both tracks, encrypted, and sees the bot's tile.
  await waitFor('the page to publish camera and microphone', () =>
    page.evaluate(() => {
      const mine = document.querySelector('#stage .tile.camera[data-video="on"]');
      const mic = document.querySelector('#toggle-mic[aria-pressed="true"]');
      return mine !== null && mic !== null ? '' : `own video tile: ${mine !== null}, mic on: ${mic !== null}`;
    }),
  );
  await waitFor('the bot to appear on the page', async () => {
    const n = await page.locator('#stage .tile.camera').count();
    return n >= 2 ? '' : `${n} camera tiles`;
  });

  // The page's SFrame worker encrypts its frames and decrypts the bot's.
  await waitFor(
    "the page's worker to encrypt its frames and decrypt the bot's",
    async () => {
      const s = await frameStats(page);
      return s.encrypted > 100 && s.decrypted > 100 ? '' : JSON.stringify(s);
    },
    { timeoutMs: 30_000 },
  );
  const pageStats = await frameStats(page);
  assert.equal(pageStats.decryptFailures, 0, `page decrypt failures: ${JSON.stringify(pageStats)}`);
  assert.equal(pageStats.encryptDropped, 0, `page dropped outgoing frames: ${JSON.stringify(pageStats)}`);

  // The bot ends after its duration and reports what it decrypted: the page's frames.
  const report = await bot.report();
  const summary = `${JSON.stringify(report)}\n${tail(bot.proc, 1500)}`;
  assert.ok(report.participants_seen >= 1, `bot saw no participant: ${summary}\n${tail(server.proc)}`);
  assert.ok(report.frames_received > 100, `bot received few frames: ${summary}`);
  assert.ok(report.frames_decrypted > 100, `bot decrypted few frames: ${summary}`);
  assert.equal(report.decrypt_failures, 0, `bot failed to decrypt: ${summary}`);
  assert.deepEqual(problems, []);
  await page.close();
});
