// Entry point: route "/" to the home page and "/m/<room>#<secret>" to the
// prejoin and the meeting. The fragment secret is read here and handed to the
// meeting's key derivation; it is never sent anywhere.

import { LogLevel, setLogLevel } from 'livekit-client';
import { h, replace } from './dom';
import { renderHome } from './home';
import { parseLink } from './link';
import { type MeetingEnd, runMeeting } from './meeting';
import { renderNoSecret, renderPrejoin } from './prejoin';
import { interimSecurity } from './security-interim';

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
  if (parsed.secret === undefined) {
    // The lobby (knocking without the secret) comes with MLS admission.
    renderNoSecret(root);
    return;
  }
  renderPrejoin(root, parsed.room, parsed.secret, (choice) => {
    void runMeeting(root, choice, interimSecurity, (end) => renderEnd(root, end));
  });
}

// livekit-client logs to the console only; keep it to problems.
setLogLevel(LogLevel.warn);

const root = document.getElementById('app');
if (root !== null) route(root);
