// Entry point: route "/" to the home page and "/m/<room>#<secret>" to the
// prejoin and the meeting. The fragment secret is read here and handed to the
// meeting's MLS session, which proves admission with it; it is never sent
// anywhere. A link without it leads to the lobby.

import { LogLevel, setLogLevel } from 'livekit-client';
import { h, replace } from './dom';
import { renderHome } from './home';
import { parseLink } from './link';
import { type MeetingEnd, runMeeting } from './meeting';
import { renderPrejoin } from './prejoin';
import { mlsSecurity } from './security-mls';

function renderEnd(root: HTMLElement, end: MeetingEnd): void {
  document.title = `${end.title} · Conclave`;
  const rejoin = h('button', { class: 'btn primary', type: 'button', id: 'rejoin' }, 'Rejoin');
  rejoin.addEventListener('click', () => location.reload());
  replace(
    root,
    h(
      'main',
      { class: 'notice', id: 'main' },
      h('h1', { id: 'end-title' }, end.title),
      end.detail !== '' && h('p', {}, end.detail),
      h('div', { class: 'row' }, rejoin, h('a', { class: 'btn', href: '/' }, 'Home')),
    ),
  );
  rejoin.focus();
}

function renderNotFound(root: HTMLElement, message: string): void {
  replace(root, h('main', { class: 'notice', id: 'main' }, h('h1', {}, 'Not a meeting link'), h('p', {}, message), h('p', {}, h('a', { href: '/' }, 'Go to the home page'))));
}

function route(root: HTMLElement): void {
  if (location.pathname === '/' || location.pathname === '/index.html') {
    renderHome(root);
    return;
  }
  const parsed = parseLink(location.href, location.origin);
  if (!parsed.ok) {
    renderNotFound(root, parsed.reason === 'bad-secret' ? 'The part of the link after "#" is damaged. Ask for the link again.' : 'This address is not a meeting link.');
    return;
  }
  // Without the secret the prejoin says so, and the meeting waits in the
  // lobby until a member admits this browser.
  renderPrejoin(root, parsed.room, parsed.secret, (choice) => {
    const security = (c: typeof choice) => mlsSecurity({ room: c.room, secret: c.secret, name: c.name, forbidPhones: parsed.forbidPhones });
    void runMeeting(root, choice, security, (end) => renderEnd(root, end));
  });
}

// livekit-client logs to the console only; keep it to problems.
setLogLevel(LogLevel.warn);

const root = document.getElementById('app');
if (root !== null) route(root);
