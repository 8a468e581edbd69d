// Test harness for the browser end-to-end tests: starts the real server
// (bin/conclave serve) and Go bots (bin/conclave bot) as child processes,
// and Debian's chromium through playwright-core with fake camera and
// microphone. Everything listens on and talks to 127.0.0.1 only.
//
// Prerequisite: `make build` (bin/conclave with the web bundle embedded).

import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const here = dirname(fileURLToPath(import.meta.url));
export const repo = join(here, '..', '..', '..');
export const bin = process.env.CONCLAVE_BIN ?? join(repo, 'bin', 'conclave');
export const chromiumPath = process.env.CHROMIUM ?? '/usr/bin/chromium';

export const chromiumArgs = [
  '--headless=new',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
  '--use-fake-device-for-media-stream',
];

/** requireTools fails (never skips) with a clear message when a prerequisite is missing. */
export function requireTools() {
  if (!existsSync(bin)) throw new Error(`${bin} is missing: run \`make build\` first`);
  if (!existsSync(chromiumPath)) throw new Error(`${chromiumPath} is missing: apt-get install chromium (or run make test, which installs it)`);
}

/**
 * waitFor polls check until it returns '' (done) or the deadline passes; any
 * other string says why it is not done yet and ends up in the failure.
 */
export async function waitFor(what, check, { timeoutMs = 20_000, intervalMs = 200 } = {}) {
  const deadline = Date.now() + timeoutMs;
  let why = 'not checked yet';
  for (;;) {
    try {
      why = await check();
    } catch (e) {
      why = `check threw: ${e instanceof Error ? e.message : e}`;
    }
    if (why === '') return;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}: ${why}`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

/** Owns child processes and removes temporary folders at the end of a test. */
export class Processes {
  #children = [];
  #dirs = [];

  tempDir(prefix) {
    const d = mkdtempSync(join(tmpdir(), prefix));
    this.#dirs.push(d);
    return d;
  }

  /** spawn starts a child whose stdout and stderr are kept for failure messages. */
  spawn(name, args) {
    const child = spawn(bin, args, { cwd: repo, stdio: ['ignore', 'pipe', 'pipe'] });
    const proc = { name, child, stdout: '', stderr: '', exited: undefined };
    child.stdout.setEncoding('utf8').on('data', (d) => (proc.stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d) => (proc.stderr += d));
    proc.exited = new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
    this.#children.push(proc);
    return proc;
  }

  async stopAll() {
    await Promise.all(
      this.#children.map(async (p) => {
        if (p.child.exitCode !== null || p.child.signalCode !== null) return;
        p.child.kill('SIGTERM');
        const t = setTimeout(() => p.child.kill('SIGKILL'), 10_000);
        await p.exited;
        clearTimeout(t);
      }),
    );
    for (const d of this.#dirs) rmSync(d, { recursive: true, force: true });
  }
}

/** tail returns the end of a process's output for error messages. */
export function tail(proc, n = 3000) {
  const s = `--- ${proc.name} stdout\n${proc.stdout}\n--- ${proc.name} stderr\n${proc.stderr}`;
  return s.length > n ? '…' + s.slice(-n) : s;
}

/** startServer runs `conclave serve` on a free loopback port and returns its base URL. */
export async function startServer(procs) {
  const data = procs.tempDir('conclave-e2e-data-');
  const server = procs.spawn('server', [
    'serve',
    '--listen', '127.0.0.1:0',
    '--data', data,
    '--udp-port', '0',
    '--tcp-port', '0',
    '--turn-port', '0',
    '--no-link',
    '--log-level', 'warn',
  ]);
  let url = '';
  await waitFor('the server to print its URL', () => {
    if (server.child.exitCode !== null) throw new Error(`server exited early\n${tail(server)}`);
    const m = /is running at (http:\/\/\S+)/.exec(server.stdout);
    if (m === null) return 'no URL printed yet';
    url = m[1].replace(/\/$/, '');
    return '';
  });
  return { url, proc: server };
}

/** newMeeting creates a room through the API and makes a link with a fresh secret, as the home page does. */
export async function newMeeting(base) {
  const res = await fetch(`${base}/api/meetings`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: '{}' });
  if (res.status !== 201) throw new Error(`POST /api/meetings: HTTP ${res.status}`);
  const { room } = await res.json();
  const secret = randomBytes(16).toString('base64url');
  return { room, secret, link: `${base}/m/${room}#${secret}` };
}

/** startBot runs `conclave bot` in the meeting; report() resolves to its JSON report. */
export function startBot(procs, link, name, duration, extraArgs = []) {
  const bot = procs.spawn(`bot ${name}`, ['bot', '--link', link, '--name', name, '--duration', duration, '--json', ...extraArgs]);
  return {
    proc: bot,
    async report() {
      const { code } = await bot.exited;
      if (code !== 0) throw new Error(`bot exited with ${code}\n${tail(bot)}`);
      try {
        return JSON.parse(bot.stdout.trim().split('\n').filter((l) => l.startsWith('{')).pop() ?? '');
      } catch {
        throw new Error(`bot printed no JSON report\n${tail(bot)}`);
      }
    },
  };
}

/** launch starts chromium; extraArgs adds flags (e.g. the fake media UI). */
export async function launch(extraArgs = ['--use-fake-ui-for-media-stream']) {
  return chromium.launch({ executablePath: chromiumPath, args: [...chromiumArgs, ...extraArgs] });
}

/**
 * watchPage records what a page reports that a test should fail on: CSP
 * violations, uncaught errors and failed same-origin requests.
 */
export function watchPage(page) {
  const problems = [];
  page.on('console', (msg) => {
    const text = msg.text();
    if (/Content Security Policy|Refused to (load|execute|connect|create|apply)/i.test(text)) problems.push(`CSP: ${text}`);
  });
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  return problems;
}

/** joinFromPrejoin fills the prejoin of the current page and joins. */
export async function joinFromPrejoin(page, name) {
  await page.locator('#display-name').fill(name);
  await page.locator('#join').click();
  await page.locator('#phase[data-phase="secured"]').waitFor({ timeout: 20_000 });
}

/** frameStats reads the SFrame worker counters the meeting's details panel shows. */
export async function frameStats(page) {
  return page.evaluate(() => {
    const d = document.getElementById('e2ee-stats')?.dataset ?? {};
    const n = (k) => Number(d[k] ?? 'NaN');
    return {
      encrypted: n('encrypted'),
      decrypted: n('decrypted'),
      decryptFailures: n('decryptFailures'),
      encryptDropped: n('encryptDropped'),
      // By reason: auth and replay are never expected.
      dropAuth: n('dropAuth'),
      dropReplay: n('dropReplay'),
      // Frames that came before their key (around an epoch change) and
      // waited for it, and those of them whose key never came: neither is a
      // decryption failure.
      held: n('held'),
      heldDropped: n('heldDropped'),
    };
  });
}

/** meetingState reads what the page shows from the MLS group: code, epoch, roster, banners, chat. */
export async function meetingState(page) {
  return page.evaluate(() => {
    const code = document.getElementById('people-security-code');
    return {
      code: code?.textContent ?? '',
      epoch: code?.dataset.epoch ?? '',
      roster: [...document.querySelectorAll('#people-list li')].map((li) => ({
        identity: li.dataset.identity ?? '',
        kind: li.dataset.kind ?? '',
        hand: li.dataset.hand === 'true',
        name: li.querySelector('.person-name')?.textContent ?? '',
      })),
      outsiders: [...document.querySelectorAll('#outsider-list li')].map((li) => li.dataset.outsider ?? ''),
      banners: [...document.querySelectorAll('#banners .banner')].map((b) => b.textContent ?? ''),
      chat: [...document.querySelectorAll('#chat-log .chat-msg')].map((m) => ({
        from: m.querySelector('.chat-from')?.textContent ?? '',
        text: m.querySelector('.chat-text')?.textContent ?? '',
      })),
      lobby: [...document.querySelectorAll('#lobby-requests .lobby-request')].map((r) => r.querySelector('.lobby-name')?.textContent ?? ''),
    };
  });
}

/** versionHash is the bundle hash the binary reports. */
export function versionHash() {
  const r = spawnSync(bin, ['version', '--json'], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`conclave version: ${r.stderr}`);
  return JSON.parse(r.stdout).bundle_sha256;
}

/** Where tests leave screenshots (git-ignored), for the README and for looking at. */
export const screenshotDir = join(here, '..', '..', 'test-results', 'screenshots');

/** screenshot saves a PNG of the page as test-results/screenshots/<name>.png. */
export async function screenshot(page, name) {
  mkdirSync(screenshotDir, { recursive: true });
  await page.screenshot({ path: join(screenshotDir, `${name}.png`) });
}
