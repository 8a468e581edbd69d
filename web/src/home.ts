// Home page: make a new meeting link (the server picks the room ID, this
// browser the secret) or join one by pasting its link.

import { ApiError, createMeeting } from './api';
import { announce, h, icon, replace } from './dom';
import { meetingFragment, meetingLink, meetingPath, newSecret, parseLink } from './link';
import { bundleFooter } from './footer';

export function renderHome(root: HTMLElement): void {
  document.title = 'Conclave';
  const status = h('p', { class: 'form-error', role: 'alert', id: 'home-error' });
  const result = h('div', { class: 'new-link', hidden: true });

  // Whoever creates the meeting's group applies this choice from the link
  // ("~nophones"); from then on the group context holds it.
  const allowPhones = h('input', { type: 'checkbox', id: 'allow-phones', checked: true });
  const allowPhonesRow = h('label', { class: 'check', for: 'allow-phones' }, allowPhones, 'Allow desk phones to dial in');
  const newButton = h('button', { class: 'btn primary', type: 'button', id: 'new-meeting' }, icon('cam'), 'New meeting');
  newButton.addEventListener('click', async () => {
    newButton.disabled = true;
    status.textContent = '';
    try {
      const room = await createMeeting();
      const secret = newSecret();
      const opts = { forbidPhones: !allowPhones.checked };
      const link = meetingLink(location.origin, room, secret, opts);
      showLink(result, link, `${meetingPath(room)}#${meetingFragment(secret, opts)}`);
      announce('New meeting link ready.');
    } catch (e) {
      status.textContent = e instanceof ApiError ? e.message : 'The meeting could not be created.';
    } finally {
      newButton.disabled = false;
    }
  });

  const pasteInput = h('input', {
    id: 'join-link',
    type: 'text',
    inputmode: 'url',
    class: 'text',
    placeholder: `${location.origin}/m/…#…`,
    autocomplete: 'off',
    spellcheck: 'false',
    'aria-describedby': 'home-error',
    required: true,
  });
  const joinForm = h(
    'form',
    { class: 'join-form', 'aria-label': 'Join a meeting', novalidate: true },
    h('label', { for: 'join-link' }, 'Have a link? Paste it here'),
    h('div', { class: 'row' }, pasteInput, h('button', { class: 'btn', type: 'submit' }, 'Join')),
  );
  joinForm.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const parsed = parseLink(pasteInput.value, location.origin);
    if (pasteInput.value.trim() === '') {
      status.textContent = 'Paste a meeting link first.';
      pasteInput.focus();
      return;
    }
    if (!parsed.ok) {
      status.textContent =
        parsed.reason === 'other-server'
          ? 'This link is for another server. Open it directly in the address bar.'
          : parsed.reason === 'bad-secret'
            ? 'The part of the link after "#" is damaged. Ask for the link again.'
            : 'This is not a meeting link. A link looks like ' + `${location.origin}/m/…#…`;
      pasteInput.focus();
      return;
    }
    location.assign(new URL(pasteInput.value.trim(), location.origin).href);
  });

  replace(
    root,
    h(
      'main',
      { class: 'home', id: 'main' },
      h('h1', {}, h('span', { class: 'brand' }, icon('lock'), 'Conclave')),
      h(
        'p',
        { class: 'lead' },
        'Video meetings that the server cannot see or hear. Audio and video are encrypted in your browser; the key is in the link after "#", which your browser never sends to the server.',
      ),
      h('div', { class: 'home-actions' }, allowPhonesRow, newButton, result),
      joinForm,
      status,
    ),
    bundleFooter(),
  );
  newButton.focus();
}

function showLink(box: HTMLElement, link: string, path: string): void {
  const field = h('input', {
    id: 'meeting-link',
    class: 'text mono',
    type: 'text',
    readonly: true,
    value: link,
    'aria-label': 'Meeting link',
  });
  field.addEventListener('focus', () => field.select());
  const copied = h('span', { class: 'hint', role: 'status' });
  const copy = h('button', { class: 'btn', type: 'button', id: 'copy-link' }, icon('link'), 'Copy link');
  copy.addEventListener('click', async () => {
    copied.textContent = (await copyText(link, field)) ? 'Copied.' : 'Select the link and copy it (Ctrl+C).';
  });
  const joinNow = h('a', { class: 'btn primary', href: path, id: 'join-now' }, 'Join now');
  replace(
    box,
    h('label', { for: 'meeting-link' }, 'Share this link with the people you invite. Anyone who has it can join.'),
    h('div', { class: 'row' }, field, copy),
    copied,
    h('div', { class: 'row' }, joinNow),
  );
  box.hidden = false;
}

/** copyText copies to the clipboard, falling back to selecting the field. */
export async function copyText(text: string, field?: HTMLInputElement): Promise<boolean> {
  try {
    await navigator.clipboard.writeText(text);
    return true;
  } catch {
    field?.focus();
    field?.select();
    return false;
  }
}
