// Meetings that forbid desk phones (issue 9, docs/e2ee-protocol.md "Phones
// forbidden"): Home's "Allow desk phones to dial in" unticked makes a link
// ending in "~nophones"; the page that creates the meeting's MLS group puts
// the phones-forbidden extension in its group context, and the People panel
// says so from the group. A Go bot knocking as a phone gateway is shown as
// refused, with no Let-in button, and never gets into the meeting. A link
// without the suffix makes a meeting where the panel says nothing of phones.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { joinFromPrejoin, launch, meetingState, newMeeting, Processes, requireTools, startServer, tail, waitFor, watchPage } from './harness.mjs';

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

async function openPage(url) {
  const context = await browser.newContext({ viewport: { width: 1280, height: 720 } });
  const page = await context.newPage();
  const problems = watchPage(page);
  await page.goto(url);
  return { page, context, problems };
}

test('a no-phones meeting from Home: the panel says phones cannot join, and a phone gateway is refused', { timeout: 120_000 }, async () => {
  const home = await openPage(`${server.url}/`);
  const allow = home.page.getByRole('checkbox', { name: 'Allow desk phones to dial in' });
  assert.equal(await allow.isChecked(), true, 'phones are allowed by default');
  await allow.uncheck();
  await home.page.locator('#new-meeting').click();
  const link = await home.page.locator('#meeting-link').inputValue();
  assert.match(link, /\/m\/[A-Za-z0-9_-]{22}#[A-Za-z0-9_-]{22}~nophones$/);

  // This page is the first member: it creates the group, forbidding phones.
  await home.page.locator('#join-now').click();
  await joinFromPrejoin(home.page, 'Alice');
  const a = home;
  await a.page.locator('#toggle-people').click();
  await a.page.locator('#phones-forbidden').waitFor({ state: 'visible' });
  assert.equal(await a.page.locator('#phones-forbidden').textContent(), 'Desk phones cannot join this meeting.');

  // A Go bot knocks as a phone gateway: Alice sees it refused, with no Let-in.
  const gw = procs.spawn('phone gateway', ['bot', '--link', link, '--name', 'Phone caller +15550100', '--phone-gateway', '+15550100 via gw-test', '--duration', '30s', '--json']);
  await waitFor('Alice to see the phone gateway knocking', async () => {
    const s = await meetingState(a.page);
    return s.lobby.includes('Phone caller +15550100') ? '' : `lobby ${JSON.stringify(s.lobby)}\n${tail(gw, 800)}`;
  });
  const request = a.page.locator('#lobby-requests .lobby-request', { hasText: 'Phone caller +15550100' });
  await waitFor('the request to be marked forbidden', async () => ((await request.getAttribute('data-forbidden')) === 'true' ? '' : 'not yet'));
  assert.equal(await request.locator('[data-action="admit"]').count(), 0, 'a Let-in button for a phone in a no-phones meeting');
  assert.match((await request.textContent()) ?? '', /refused: desk phones cannot join this meeting/);
  await request.locator('[data-action="refuse"]').click();
  const { code } = await gw.exited;
  assert.notEqual(code, 0, `the phone gateway bot got in\n${tail(gw)}`);
  // Refused in the lobby, it never joined: no report of a meeting it was in.
  assert.equal(gw.stdout.trim(), '', tail(gw));
  const s = await meetingState(a.page);
  assert.deepEqual(
    s.roster.map((m) => m.kind),
    ['browser'],
    'the roster holds only Alice',
  );
  assert.deepEqual(s.banners, [], 'no phone banner');
  assert.deepEqual(a.problems, []);
  await a.context.close();
});

test('a link without the suffix: the group allows phones and the panel says nothing of them', { timeout: 60_000 }, async () => {
  const meeting = await newMeeting(server.url);
  const a = await openPage(meeting.link);
  await joinFromPrejoin(a.page, 'Alice');
  await a.page.locator('#toggle-people').click();
  await a.page.locator('#people-security-code').waitFor({ state: 'visible' });
  assert.equal(await a.page.locator('#phones-forbidden').isVisible(), false);
  // The suffix on a link to a meeting whose group exists changes nothing: the group decides.
  const b = await openPage(`${meeting.link}~nophones`);
  await joinFromPrejoin(b.page, 'Bob');
  await b.page.locator('#toggle-people').click();
  await waitFor('Bob in the roster', async () => ((await meetingState(b.page)).roster.length === 2 ? '' : 'not yet'));
  assert.equal(await b.page.locator('#phones-forbidden').isVisible(), false);
  for (const p of [a, b]) {
    assert.deepEqual(p.problems, []);
    await p.context.close();
  }
});
