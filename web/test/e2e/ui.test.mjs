// UI flows (issue 7, first part): home -> new meeting -> prejoin -> meeting
// -> leave; the message shown when the browser denies the camera and the
// microphone; the bundle hash the page computes equals the served one.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { joinFromPrejoin, launch, newMeeting, Processes, requireTools, screenshot, startServer, versionHash, waitFor, watchPage } from './harness.mjs';

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

test('home, new meeting, prejoin, meeting, leave', { timeout: 90_000 }, async () => {
  const context = await browser.newContext({ permissions: ['clipboard-read', 'clipboard-write'], viewport: { width: 1280, height: 720 } });
  const page = await context.newPage();
  const problems = watchPage(page);
  await page.goto(`${server.url}/`);

  await page.getByRole('button', { name: 'New meeting' }).click();
  const link = await page.locator('#meeting-link').inputValue();
  assert.match(link, new RegExp(`^${server.url}/m/[A-Za-z0-9_-]{22}#[A-Za-z0-9_-]{22}$`));
  await page.getByRole('button', { name: 'Copy link' }).click();
  assert.equal(await page.evaluate(() => navigator.clipboard.readText()), link);

  await page.getByRole('link', { name: 'Join now' }).click();
  await page.waitForURL(link);

  // Prejoin: the camera preview plays and the microphone meter is there.
  await waitFor('the camera preview to play', () =>
    page.evaluate(() => {
      const v = document.querySelector('.preview-video');
      return v instanceof HTMLVideoElement && !v.hidden && v.videoWidth > 0 ? '' : 'no decoded preview frames';
    }),
  );
  assert.equal(await page.getByRole('meter', { name: 'Microphone level' }).count(), 1);
  // The lists are filled once both devices are open, after the preview starts.
  await waitFor('the camera list', async () => ((await page.locator('#camera-select option').count()) >= 1 ? '' : 'no camera option'));
  assert.equal(await page.locator('#camera-problem').textContent(), '');
  await page.locator('#display-name').fill('Ada Lovelace');
  await screenshot(page, 'prejoin');

  // Names are text, never markup.
  const name = 'Ada <img src=x onerror=alert(1)>';
  await joinFromPrejoin(page, name);
  assert.equal(await page.locator('#stage .tile.camera .tile-name').textContent(), `${name} (you)`);
  assert.equal(await page.locator('#stage img, #people-list img').count(), 0);
  await waitFor('my own video in the meeting', async () => ((await page.locator('#stage .tile.camera[data-video="on"]').count()) === 1 ? '' : 'no own video tile'));
  assert.match((await page.locator('#phase').textContent()) ?? '', /Encrypted end to end/);
  // Alone in the meeting, the MLS group already has a security code, shown
  // with the people (P opens the panel, P closes it).
  await page.locator('body').press('p');
  assert.match((await page.locator('#people-security-code').textContent()) ?? '', /^\d{4}( \d{4}){4}$/);
  assert.equal(await page.locator('#people-list li').count(), 1);
  await page.locator('body').press('p');
  await screenshot(page, 'meeting-alone');

  // Keyboard: M toggles the microphone, V the camera.
  await page.locator('body').press('m');
  await page.locator('#toggle-mic[aria-pressed="false"]').waitFor();
  await page.locator('body').press('m');
  await page.locator('#toggle-mic[aria-pressed="true"]').waitFor();
  await page.locator('body').press('v');
  await page.locator('#stage .tile.camera[data-video="off"]').waitFor();
  await page.locator('body').press('v');
  await page.locator('#stage .tile.camera[data-video="on"]').waitFor();
  // L switches to the speaker layout.
  await page.locator('body').press('l');
  await page.locator('#stage.speaker').waitFor();

  await page.getByRole('button', { name: 'Leave' }).click();
  await page.locator('#end-title', { hasText: 'You left the meeting' }).waitFor();
  assert.deepEqual(problems, []);
  await context.close();
});

test('screen share from one page is seen by another', { timeout: 90_000 }, async () => {
  const meeting = await newMeeting(server.url);
  const context = await browser.newContext({ viewport: { width: 1280, height: 720 } });
  const [alice, bob] = [await context.newPage(), await context.newPage()];
  const problems = [...watchPage(alice), ...watchPage(bob)];
  try {
    for (const [page, name] of [[alice, 'Alice'], [bob, 'Bob']]) {
      await page.goto(meeting.link);
      await joinFromPrejoin(page, name);
    }
    await alice.getByRole('button', { name: 'Share' }).click();
    await alice.locator('#toggle-share[aria-pressed="true"]').waitFor();
    // Bob decodes Alice's screen: a screen tile whose video has a size.
    await waitFor("Alice's screen on Bob's page", () =>
      bob.evaluate(() => {
        const v = document.querySelector('#stage .tile.screen video');
        return v instanceof HTMLVideoElement && v.videoWidth > 0 ? '' : v === null ? 'no screen tile' : 'screen tile without decoded frames';
      }),
      { timeoutMs: 30_000 },
    );
    assert.match((await bob.locator('#stage .tile.screen').getAttribute('aria-label')) ?? '', /^Alice: screen$/);
    await alice.getByRole('button', { name: 'Share' }).click();
    await alice.locator('#toggle-share[aria-pressed="false"]').waitFor();
    await waitFor("Alice's screen to leave Bob's page", async () => ((await bob.locator('#stage .tile.screen').count()) === 0 ? '' : 'screen tile still there'));
    assert.deepEqual(problems, []);
  } finally {
    await context.close();
  }
});

test('denied camera and microphone: the prejoin says how to allow them', { timeout: 60_000 }, async () => {
  // A browser without the fake media UI, told to deny permission prompts.
  const denying = await launch(['--deny-permission-prompts']);
  try {
    const page = await denying.newPage();
    const problems = watchPage(page);
    await page.goto(`${server.url}/m/AAAAAAAAAAAAAAAAAAAAAA#AAAAAAAAAAAAAAAAAAAAAA`);
    await page.locator('#camera-problem[data-problem="denied"]').waitFor();
    await page.locator('#mic-problem[data-problem="denied"]').waitFor();
    assert.match((await page.locator('#camera-problem').textContent()) ?? '', /blocked the camera.*allow/);
    assert.match((await page.locator('#mic-problem').textContent()) ?? '', /blocked the microphone/);
    // Joining without devices stays possible.
    assert.equal(await page.locator('#join').isEnabled(), true);
    assert.deepEqual(problems, []);
  } finally {
    await denying.close();
  }
});

test('no camera: the prejoin says so and keeps the microphone', { timeout: 60_000 }, async () => {
  const noCamera = await launch(['--use-fake-ui-for-media-stream', '--use-fake-device-for-media-stream=device-count=0']);
  try {
    const page = await noCamera.newPage();
    const problems = watchPage(page);
    await page.goto(`${server.url}/m/AAAAAAAAAAAAAAAAAAAAAA#AAAAAAAAAAAAAAAAAAAAAA`);
    await page.locator('#camera-problem[data-problem="missing"]').waitFor();
    assert.match((await page.locator('#camera-problem').textContent()) ?? '', /No camera was found/);
    assert.equal(await page.locator('#mic-problem').textContent(), '');
    assert.equal(await page.locator('#prejoin-mic').getAttribute('aria-pressed'), 'true');
    assert.deepEqual(problems, []);
  } finally {
    await noCamera.close();
  }
});

test('switching the camera during the call', { timeout: 60_000 }, async () => {
  const twoCameras = await launch(['--use-fake-ui-for-media-stream', '--use-fake-device-for-media-stream=device-count=2']);
  try {
    const meeting = await newMeeting(server.url);
    const page = await twoCameras.newPage();
    const problems = watchPage(page);
    await page.goto(meeting.link);
    await joinFromPrejoin(page, 'Grace');
    const cameraLabel = () =>
      page.evaluate(() => {
        const v = document.querySelector('#stage .tile.camera video');
        const s = v instanceof HTMLVideoElement ? v.srcObject : null;
        return s instanceof MediaStream ? (s.getVideoTracks()[0]?.label ?? '') : '';
      });
    await waitFor('my camera in the meeting', async () => ((await cameraLabel()) !== '' ? '' : 'no local camera track'));
    const before = await cameraLabel();
    await page.locator('body').press('?');
    const select = page.getByLabel('Camera', { exact: true });
    await waitFor('two cameras listed', async () => ((await select.locator('option').count()) === 2 ? '' : 'not two cameras'));
    const other = await select.locator('option').evaluateAll((opts, cur) => opts.find((o) => o.textContent !== cur)?.getAttribute('value') ?? '', before);
    await select.selectOption(other);
    await waitFor('the other camera to be used', async () => {
      const now = await cameraLabel();
      return now !== '' && now !== before ? '' : `still ${now}`;
    });
    await page.keyboard.press('Escape');
    assert.deepEqual(problems, []);
  } finally {
    await twoCameras.close();
  }
});

test('join by pasting a link; a bad link is explained', { timeout: 30_000 }, async () => {
  const page = await browser.newPage();
  const problems = watchPage(page);
  await page.goto(`${server.url}/`);
  const input = page.getByLabel('Have a link? Paste it here');
  await input.fill('https://elsewhere.example/m/AAAAAAAAAAAAAAAAAAAAAA#AAAAAAAAAAAAAAAAAAAAAA');
  await page.getByRole('button', { name: 'Join', exact: true }).click();
  await page.getByRole('alert').filter({ hasText: 'another server' }).waitFor();
  await input.fill('not a link');
  await page.getByRole('button', { name: 'Join', exact: true }).click();
  await page.getByRole('alert').filter({ hasText: 'not a meeting link' }).waitFor();
  const link = `${server.url}/m/AAAAAAAAAAAAAAAAAAAAAA#AAAAAAAAAAAAAAAAAAAAAA`;
  await input.fill(link);
  await page.getByRole('button', { name: 'Join', exact: true }).click();
  await page.waitForURL(link);
  await page.getByRole('heading', { name: 'Ready to join?' }).waitFor();
  // A link without its secret leads to the lobby, and the prejoin says so.
  await page.goto(`${server.url}/m/AAAAAAAAAAAAAAAAAAAAAA`);
  await page.getByRole('heading', { name: 'Ready to join?' }).waitFor();
  await page.locator('#lobby-note', { hasText: 'wait in the lobby' }).waitFor();
  await page.getByRole('button', { name: 'Ask to join' }).waitFor();
  assert.deepEqual(problems, []);
  await page.close();
});

test('the page shows the bundle hash the server announces', { timeout: 30_000 }, async () => {
  const page = await browser.newPage();
  await page.goto(`${server.url}/`);
  const el = page.locator('#bundle-hash');
  await waitFor('the bundle hash', async () => ((await el.getAttribute('data-state')) === 'computing' ? 'computing' : ''));
  assert.equal(await el.getAttribute('data-state'), 'match');
  assert.equal(await el.getAttribute('data-hash'), versionHash());
  await page.close();
  // The MLS module is part of the bundle and served as WebAssembly (instantiateStreaming needs the type).
  const files = await (await fetch(`${server.url}/assets/files.json`)).json();
  assert.ok(files.includes('assets/session.wasm') && files.includes('assets/wasm_exec.js'), JSON.stringify(files));
  const wasm = await fetch(`${server.url}/assets/session.wasm`, { method: 'HEAD' });
  assert.equal(wasm.headers.get('content-type'), 'application/wasm');
});
