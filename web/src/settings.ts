// The settings and details dialog of the meeting: device switching during the
// call, what protects the meeting and its security code, the SFrame worker's
// counters, keyboard shortcuts and the bundle hash.

import type { Room } from 'livekit-client';
import { canChooseSpeaker, listDevices } from './devices';
import { h, replace } from './dom';
import { bundleFooter } from './footer';
import type { JoinChoice } from './prejoin';
import type { MeetingSecurity } from './security';
import type { Stage } from './stage';

const shortcutsKey = 'conclave.singleKeyShortcuts';

/** Single-key shortcuts can be turned off (WCAG 2.1.4), e.g. for speech input users. */
export interface Toggle {
  get(): boolean;
  set(on: boolean): void;
}

/** shortcutSetting is the user's choice, kept in localStorage when the browser allows it. */
export function shortcutSetting(): Toggle {
  let on = true;
  try {
    on = localStorage.getItem(shortcutsKey) !== 'off';
  } catch {
    // Storage disabled: the choice lasts as long as this page.
  }
  return {
    get: () => on,
    set(v) {
      on = v;
      try {
        localStorage.setItem(shortcutsKey, v ? 'on' : 'off');
      } catch {
        // As above.
      }
    },
  };
}

export interface SettingsDialog {
  element: HTMLDialogElement;
  open(): void;
  isOpen(): boolean;
  refresh(devices?: boolean): void;
  close(): void;
}

/** settingsDialog: device switching during the call, encryption details, shortcuts. */
export function settingsDialog(room: Room, stage: Stage, choice: JoinChoice, security: MeetingSecurity, shortcuts: Toggle): SettingsDialog {
  const selects = {
    videoinput: h('select', { id: 'settings-camera', class: 'select' }),
    audioinput: h('select', { id: 'settings-mic', class: 'select' }),
    audiooutput: h('select', { id: 'settings-speaker', class: 'select' }),
  };
  const stats = h('dl', { class: 'stats', id: 'e2ee-stats' });
  const explanation = h('p', { id: 'security-explanation' });
  const code = h('div', { id: 'security-code', class: 'security-code', hidden: true });
  const rejectedTitle = h('h4', { id: 'rejections-title', hidden: true }, 'Refused by this browser');
  const rejected = h('ul', { id: 'e2ee-rejections', class: 'hint', 'aria-labelledby': 'rejections-title', hidden: true });
  const closeBtn = h('button', { class: 'btn', type: 'button' }, 'Close');
  const shortcutsBox = h('input', { type: 'checkbox', id: 'settings-shortcuts', checked: shortcuts.get() });
  shortcutsBox.addEventListener('change', () => shortcuts.set(shortcutsBox.checked));
  const dialog = h(
    'dialog',
    { class: 'dialog', id: 'settings', 'aria-labelledby': 'settings-title' },
    h('h2', { id: 'settings-title' }, 'Settings and details'),
    h('section', { 'aria-labelledby': 'devices-title' }, h('h3', { id: 'devices-title' }, 'Devices'),
      h('label', { for: 'settings-camera' }, 'Camera'), selects.videoinput,
      h('label', { for: 'settings-mic' }, 'Microphone'), selects.audioinput,
      canChooseSpeaker() && h('label', { for: 'settings-speaker' }, 'Speaker'), canChooseSpeaker() && selects.audiooutput),
    h('section', { 'aria-labelledby': 'enc-title' }, h('h3', { id: 'enc-title' }, 'Encryption'), explanation, code, stats, rejectedTitle, rejected),
    h('section', { 'aria-labelledby': 'keys-title' }, h('h3', { id: 'keys-title' }, 'Keyboard shortcuts'),
      h('label', { class: 'check', for: 'settings-shortcuts' }, shortcutsBox, 'Use single-key shortcuts'),
      h('dl', { class: 'shortcuts' },
        ...([['M', 'microphone on/off'], ['V', 'camera on/off'], ['S', 'share screen'], ['L', 'grid or speaker view'], ['P', 'people'], ['H', 'raise or lower your hand'], ['C', 'chat'], ['R', 'record (everyone is told)'], ['?', 'this panel'], ['Esc', 'close']] as const).flatMap(([k, d]) => [h('dt', {}, h('kbd', {}, k)), h('dd', {}, d)]))),
    bundleFooter(),
    h('div', { class: 'row end' }, closeBtn),
  );
  closeBtn.addEventListener('click', () => dialog.close());
  for (const kind of ['videoinput', 'audioinput', 'audiooutput'] as const) {
    selects[kind].addEventListener('change', async () => {
      const id = selects[kind].value;
      choice.devices[kind] = id;
      try {
        if (kind === 'audiooutput') await stage.setSpeaker(id);
        else await room.switchActiveDevice(kind, id);
      } catch {
        // The select is refreshed to the device actually in use.
      }
      fill(true);
    });
  }
  const fill = (devices: boolean): void => {
    if (devices) {
      for (const kind of ['videoinput', 'audioinput', 'audiooutput'] as const) {
        void listDevices(kind).then((opts) => {
          const current = room.getActiveDevice(kind) ?? choice.devices[kind];
          replace(selects[kind], ...opts.map((o) => h('option', { value: o.id, selected: o.id === current }, o.label)));
          selects[kind].disabled = opts.length === 0;
        });
      }
    }
    const info = security.info();
    explanation.textContent = info.explanation;
    code.hidden = info.securityCode === undefined;
    code.textContent = info.securityCode ?? '';
    // What the MLS session refused (for example a change the server tried to make to the group).
    rejected.hidden = rejectedTitle.hidden = info.rejections.length === 0;
    if (rejected.dataset['key'] !== info.rejections.join('\n')) {
      rejected.dataset['key'] = info.rejections.join('\n');
      replace(rejected, ...info.rejections.map((r) => h('li', {}, r)));
    }
    const s = security.stats();
    stats.hidden = s === undefined;
    if (s !== undefined) {
      replace(stats, h('dt', {}, 'Frames encrypted'), h('dd', {}, String(s.encrypted)), h('dt', {}, 'Frames decrypted'), h('dd', {}, String(s.decrypted)), h('dt', {}, 'Frames that failed to decrypt'), h('dd', {}, String(s.decryptFailures)));
      stats.dataset['encrypted'] = String(s.encrypted);
      stats.dataset['decrypted'] = String(s.decrypted);
      stats.dataset['decryptFailures'] = String(s.decryptFailures);
      stats.dataset['encryptDropped'] = String(s.encryptDropped);
      stats.dataset['held'] = String(s.held);
      stats.dataset['heldDropped'] = String(s.heldDropped);
      for (const [why, n] of Object.entries(s.decryptDropped)) stats.dataset[`drop${why.charAt(0).toUpperCase()}${why.slice(1)}`] = String(n);
    }
  };
  return {
    element: dialog,
    open() {
      fill(true);
      dialog.showModal();
    },
    isOpen: () => dialog.open,
    refresh(devices = false) {
      fill(devices && dialog.open);
    },
    close() {
      if (dialog.open) dialog.close();
    },
  };
}
