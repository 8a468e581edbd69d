// E2EE meetings in the browser (issues 6 and 7): pages join the meeting's MLS
// group over /e2ee through the session compiled to WebAssembly and key their
// SFrame worker from it. Two pages and a Go bot agree on the security code,
// exchange media and chat both ways; chat payloads that look like markup or
// file links stay text; a raised hand and a recording reach every member; a
// page without the link secret waits in the lobby, receives nothing, and gets
// in when a member lets it in (or is turned away).

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import {
  frameStats,
  joinFromPrejoin,
  launch,
  meetingState,
  newMeeting,
  Processes,
  requireTools,
  screenshot,
  startBot,
  startServer,
  tail,
  waitFor,
  watchPage,
} from './harness.mjs';

const procs = new Processes();
let server;
let browser;

before(async () => {
  requireTools();
  server = await startServer(procs);
  browser = await launch(['--use-fake-ui-for-media-stream', '--autoplay-policy=no-user-gesture-required']);
});

after(async () => {
  await browser?.close();
  await procs.stopAll();
});

async function openPage(url, { width = 1280, height = 720 } = {}) {
  const context = await browser.newContext({ viewport: { width, height }, acceptDownloads: true });
  const page = await context.newPage();
  const problems = watchPage(page);
  const dialogs = [];
  page.on('dialog', (d) => {
    dialogs.push(d.message());
    void d.dismiss();
  });
  await page.goto(url);
  return { page, context, problems, dialogs };
}

/** audibleTracks measures the level of each remote audio element for a moment; returns how many are not silent. */
async function audibleTracks(page) {
  return page.evaluate(async () => {
    const els = [...document.querySelectorAll('.audio-sinks audio')].filter((el) => el.srcObject instanceof MediaStream);
    const ctx = new AudioContext();
    await ctx.resume();
    const analysers = els.map((el) => {
      const a = ctx.createAnalyser();
      ctx.createMediaStreamSource(el.srcObject).connect(a);
      return a;
    });
    const peak = analysers.map(() => 0);
    const buf = new Float32Array(2048);
    for (let i = 0; i < 10; i++) {
      await new Promise((r) => setTimeout(r, 50));
      analysers.forEach((a, j) => {
        a.getFloatTimeDomainData(buf);
        for (const x of buf) peak[j] = Math.max(peak[j], Math.abs(x));
      });
    }
    await ctx.close();
    return peak.filter((p) => p > 0.001).length;
  });
}

/** Payloads that must render as inert text, never as markup or a link. */
const payloads = ['<img src=x onerror=alert(1)>', '\\\\host\\share\\payload.exe', 'file:///etc/passwd', 'see https://example.org <b>bold</b>'];

test('three pages and a bot: one security code, media and chat both ways, hands and the recording banner', { timeout: 180_000 }, async () => {
  const meeting = await newMeeting(server.url);
  const a = await openPage(meeting.link);
  await joinFromPrejoin(a.page, 'Alice');
  const b = await openPage(meeting.link);
  await joinFromPrejoin(b.page, 'Bob');
  const c = await openPage(meeting.link, { width: 390, height: 844 }); // a phone-sized screen
  await joinFromPrejoin(c.page, 'Carol');
  const bot = startBot(procs, meeting.link, 'bot-1', '50s', ['--chat', 'hello from the bot']);
  const pages = [
    ['Alice', a],
    ['Bob', b],
    ['Carol', c],
  ];

  // Every member sees the same four-member roster and the same code.
  let stable;
  await waitFor(
    'every page to show the bot in the roster and one security code',
    async () => {
      const states = await Promise.all(pages.map(([, p]) => meetingState(p.page)));
      const sizes = states.map((s) => s.roster.length);
      if (sizes.some((n) => n !== 4)) return `rosters ${sizes}\n${tail(bot.proc, 800)}`;
      const codes = states.map((s) => `${s.code}@${s.epoch}`);
      if (!/^\d{4}( \d{4}){4}$/.test(states[0].code) || new Set(codes).size !== 1) return `codes ${codes}`;
      stable = states[0];
      return '';
    },
    { timeoutMs: 40_000 },
  );
  assert.deepEqual(stable.roster.map((m) => m.kind).sort(), ['bot', 'browser', 'browser', 'browser']);
  assert.deepEqual(stable.outsiders, []);

  // Media both ways under MLS keys: each page decrypts the others' frames,
  // plays every other page's video and hears every other page's audio (the
  // bot's frames are test payloads, neither pictures nor sound).
  for (const [name, p] of pages) {
    await waitFor(
      `${name}'s worker to decrypt the others' frames`,
      async () => {
        const s = await frameStats(p.page);
        return s.encrypted > 100 && s.decrypted > 300 ? '' : JSON.stringify(s);
      },
      { timeoutMs: 40_000 },
    );
    const s = await frameStats(p.page);
    assert.equal(s.dropAuth, 0, `${name}: frames failing authentication ${JSON.stringify(s)}`);
    assert.equal(s.encryptDropped, 0, `${name}: dropped outgoing frames ${JSON.stringify(s)}`);
    await waitFor(`four tiles on ${name}’s page, the three browsers’ playing`, () =>
      p.page.evaluate(() => {
        const tiles = document.querySelectorAll('#stage .tile.camera').length;
        const v = [...document.querySelectorAll('#stage .tile.camera video')].filter((x) => x instanceof HTMLVideoElement && x.videoWidth > 0);
        return tiles === 4 && v.length >= 3 ? '' : `${tiles} tiles, ${v.length} playing`;
      }),
      { timeoutMs: 30_000 },
    );
    await waitFor(`${name} to hear the two other pages`, async () => {
      const n = await audibleTracks(p.page);
      return n >= 2 ? '' : `${n} audible tracks`;
    });
  }
  // The bot's tile says it is a bot (its credential's kind), and the names are the credentials'.
  assert.equal(await a.page.locator('#stage .tile.camera', { hasText: 'bot-1' }).locator('.kind').textContent(), 'bot');
  await screenshot(a.page, 'grid-four');
  await screenshot(c.page, 'grid-four-phone');

  // Chat from the bot reaches both pages; chat from Alice reaches Bob and the bot, as text.
  await waitFor('the bot’s chat on both pages', async () => {
    const [sa, sb] = await Promise.all([meetingState(a.page), meetingState(b.page)]);
    const has = (s) => s.chat.some((m) => m.from === 'bot-1' && m.text === 'hello from the bot');
    return has(sa) && has(sb) ? '' : `Alice ${JSON.stringify(sa.chat)} Bob ${JSON.stringify(sb.chat)}`;
  });
  await a.page.locator('#toggle-chat').click();
  for (const text of payloads) {
    await a.page.locator('#chat-input').fill(text);
    await a.page.locator('#chat-send').click();
  }
  await b.page.locator('#toggle-chat').click();
  await waitFor('Alice’s messages on Bob’s page', async () => {
    const got = (await meetingState(b.page)).chat.filter((m) => m.from === 'Alice').map((m) => m.text);
    return JSON.stringify(got) === JSON.stringify(payloads) ? '' : JSON.stringify(got);
  });
  const markup = await b.page.evaluate(() => ({
    elements: [...document.querySelectorAll('#chat-log img, #chat-log a, #chat-log b, #chat-log script, #chat-log iframe')].length,
    links: [...document.querySelectorAll('a[href^="file:"], a[href^="\\\\"]')].length,
  }));
  assert.deepEqual(markup, { elements: 0, links: 0 }, 'chat rendered markup or links');
  await screenshot(b.page, 'chat');

  // A raised hand shows on the other page.
  await a.page.locator('#toggle-hand').click();
  await waitFor('Alice’s raised hand on Bob’s page', async () => {
    const r = (await meetingState(b.page)).roster.find((m) => m.name === 'Alice');
    return r?.hand ? '' : JSON.stringify(r);
  });

  // Recording is announced to every member before it starts, and the banner stays while it runs.
  await a.page.locator('#toggle-record').click();
  await waitFor('the recording banner on both pages', async () => {
    const [sa, sb] = await Promise.all([meetingState(a.page), meetingState(b.page)]);
    return sa.banners.includes('You are recording this meeting.') && sb.banners.includes('Alice is recording this meeting.') ? '' : `${sa.banners} | ${sb.banners}`;
  });
  assert.equal(await b.page.locator('#banners button').count(), 0, 'the banner cannot be dismissed');
  await screenshot(b.page, 'recording-banner');
  const download = a.page.waitForEvent('download');
  await a.page.locator('#toggle-record').click();
  assert.match((await download).suggestedFilename(), /^conclave-recording-.*\.webm$/);
  await waitFor('the banner to go when the recording stops', async () => ((await meetingState(b.page)).banners.length === 0 ? '' : 'banner still shown'));

  // The people panel with the security code and its explanation.
  await a.page.locator('#toggle-people').click();
  await a.page.locator('#security-panel').waitFor();
  await screenshot(a.page, 'security-code');

  // The bot ends: it saw the same code and epoch, decrypted both pages, and got Alice's chat verbatim.
  const report = await bot.report();
  const summary = JSON.stringify({ ...report, tracks: undefined });
  assert.equal(report.security_code, stable.code, `bot code vs pages: ${summary}`);
  assert.equal(report.epoch, stable.epoch, summary);
  assert.ok(report.frames_decrypted > 200, `bot decrypted few frames: ${summary}`);
  assert.ok(report.frames_not_bot_payload > 200, `bot got few browser frames: ${summary}`);
  assert.ok(report.decrypt_failures <= report.frames_decrypted / 20, `bot decrypt failures: ${summary}`);
  assert.deepEqual(
    (report.chat ?? []).filter((m) => m.from === 'Alice').map((m) => m.text),
    payloads,
  );

  // The bot left: it disappears from every roster and the code changes.
  await waitFor('the bot to leave every roster with a new code', async () => {
    const [sa, sb] = await Promise.all([meetingState(a.page), meetingState(b.page)]);
    if (sa.roster.length !== 3 || sb.roster.length !== 3) return `rosters ${sa.roster.length} ${sb.roster.length}`;
    return sa.code !== stable.code && sa.code === sb.code ? '' : `codes ${sa.code} ${sb.code} (was ${stable.code})`;
  });
  // So does a page that leaves.
  const beforeLeave = (await meetingState(a.page)).code;
  await c.page.getByRole('button', { name: 'Leave' }).click();
  await waitFor('Carol to leave every roster with a new code', async () => {
    const [sa, sb] = await Promise.all([meetingState(a.page), meetingState(b.page)]);
    if (sa.roster.length !== 2 || sb.roster.length !== 2) return `rosters ${sa.roster.length} ${sb.roster.length}`;
    return sa.code !== beforeLeave && sa.code === sb.code ? '' : `codes ${sa.code} ${sb.code} (was ${beforeLeave})`;
  }, { timeoutMs: 30_000 });

  for (const p of [a, b, c]) {
    assert.deepEqual(p.problems, []);
    assert.deepEqual(p.dialogs, [], 'a chat message ran script');
    await p.context.close();
  }
});

test('the lobby: without the secret a page waits, receives nothing, and gets in when a member lets it in', { timeout: 120_000 }, async () => {
  const meeting = await newMeeting(server.url);
  const a = await openPage(meeting.link);
  await joinFromPrejoin(a.page, 'Alice');

  const k = await openPage(`${server.url}/m/${meeting.room}`);
  await k.page.locator('#lobby-note').waitFor();
  await k.page.locator('#display-name').fill('Kim Knocker');
  await k.page.getByRole('button', { name: 'Ask to join' }).click();
  await k.page.locator('#phase[data-phase="lobby"]').waitFor({ timeout: 20_000 });
  await waitFor('Alice to see the knocker in the lobby', async () => {
    const s = await meetingState(a.page);
    return s.lobby.includes('Kim Knocker') ? '' : JSON.stringify(s.lobby);
  });
  await screenshot(k.page, 'lobby-waiting');
  await screenshot(a.page, 'lobby-request');

  // While Alice sends a few hundred frames, the knocker receives none: not
  // even ciphertext reaches its worker, and no remote video plays.
  const before = (await frameStats(a.page)).encrypted;
  await waitFor('Alice to send frames while the knocker waits', async () => {
    const s = await frameStats(a.page);
    return s.encrypted > before + 200 ? '' : `${s.encrypted - before} frames sent`;
  });
  const waiting = await frameStats(k.page);
  assert.equal(waiting.decrypted, 0, `knocker decrypted frames before admission: ${JSON.stringify(waiting)}`);
  assert.equal(waiting.decryptFailures, 0, `knocker received frames before admission: ${JSON.stringify(waiting)}`);
  // Frames without a key are held, not failures: none may have come either.
  assert.equal(waiting.held, 0, `knocker received frames before admission: ${JSON.stringify(waiting)}`);
  assert.equal(waiting.encrypted, 0, 'knocker sent frames before admission');
  assert.equal(await k.page.locator('#stage .tile.camera[data-video="on"]').count(), 0);
  assert.equal((await meetingState(a.page)).outsiders.includes('lobby'), true, 'Alice sees the knocker as waiting, not as a member');

  await a.page.locator('#lobby-requests [data-action="admit"]').click();
  await k.page.locator('#phase[data-phase="secured"]').waitFor({ timeout: 20_000 });
  await waitFor('the admitted page to decrypt Alice and Alice to decrypt it', async () => {
    const [sk, sa] = await Promise.all([frameStats(k.page), frameStats(a.page)]);
    return sk.decrypted > 100 && sk.encrypted > 50 && sa.decrypted > 100 ? '' : `knocker ${JSON.stringify(sk)} Alice ${JSON.stringify(sa)}`;
  }, { timeoutMs: 30_000 });
  await waitFor('one code on both pages', async () => {
    const [sa, sk] = await Promise.all([meetingState(a.page), meetingState(k.page)]);
    return sa.roster.length === 2 && sa.code !== '' && sa.code === sk.code ? '' : `${sa.code} / ${sk.code}`;
  });

  // A second knocker is refused: it is told so and never gets in.
  const r = await openPage(`${server.url}/m/${meeting.room}`);
  await r.page.locator('#display-name').fill('Rex Refused');
  await r.page.getByRole('button', { name: 'Ask to join' }).click();
  await waitFor('Alice to see the second knocker', async () => ((await meetingState(a.page)).lobby.includes('Rex Refused') ? '' : 'not yet'));
  await a.page.locator('#lobby-requests .lobby-request', { hasText: 'Rex Refused' }).locator('[data-action="refuse"]').click();
  await r.page.locator('#end-title', { hasText: 'You are not in the meeting' }).waitFor({ timeout: 20_000 });
  assert.match((await r.page.locator('#main').textContent()) ?? '', /did not let you in/);
  assert.equal((await meetingState(a.page)).roster.length, 2);

  for (const p of [a, k, r]) {
    assert.deepEqual(p.problems, []);
    await p.context.close();
  }
});
