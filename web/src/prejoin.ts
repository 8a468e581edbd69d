// Prejoin: check camera and microphone, pick devices, choose a name, then join.

import type { LocalAudioTrack, LocalVideoTrack } from 'livekit-client';
import {
  canChooseSpeaker,
  type DeviceKind,
  type DeviceProblem,
  listDevices,
  openCamera,
  openMicrophone,
  problemMessage,
} from './devices';
import { h, icon, replace } from './dom';
import { bundleFooter } from './footer';
import type { LinkSecret, RoomID } from './link';
import { levelMeter } from './meter';

/** What the prejoin hands to the meeting. Tracks are owned by the receiver from then on. */
export interface JoinChoice {
  room: RoomID;
  /** The link's secret; undefined when the link had none (the lobby). */
  secret: LinkSecret | undefined;
  name: string;
  camera: LocalVideoTrack | undefined;
  microphone: LocalAudioTrack | undefined;
  devices: Partial<Record<DeviceKind, string>>;
}

const nameKey = 'conclave.displayName';

function savedName(): string {
  try {
    return localStorage.getItem(nameKey) ?? '';
  } catch {
    return '';
  }
}

function saveName(name: string): void {
  try {
    localStorage.setItem(nameKey, name);
  } catch {
    // Storage may be disabled; the name is then asked for each time.
  }
}

export function renderPrejoin(root: HTMLElement, room: RoomID, secret: LinkSecret | undefined, onJoin: (c: JoinChoice) => void): void {
  document.title = 'Join meeting · Conclave';
  let camera: LocalVideoTrack | undefined;
  let microphone: LocalAudioTrack | undefined;
  let wantCamera = true;
  let wantMic = true;
  const chosen: Partial<Record<DeviceKind, string>> = {};
  let closed = false;
  let busy = Promise.resolve();

  const video = h('video', { class: 'preview-video mirrored', muted: true, playsinline: true, autoplay: true, 'aria-label': 'Your camera preview' });
  video.muted = true;
  const previewOff = h('div', { class: 'preview-off', 'aria-hidden': 'true' }, 'Camera is off');
  const meter = levelMeter('Microphone level');
  const camProblem = h('p', { class: 'device-problem', id: 'camera-problem', role: 'alert' });
  const micProblem = h('p', { class: 'device-problem', id: 'mic-problem', role: 'alert' });

  const camToggle = h('button', { class: 'round', type: 'button', id: 'prejoin-camera', 'aria-pressed': 'true' });
  const micToggle = h('button', { class: 'round', type: 'button', id: 'prejoin-mic', 'aria-pressed': 'true' });

  const camSelect = h('select', { id: 'camera-select', class: 'select' });
  const micSelect = h('select', { id: 'mic-select', class: 'select' });
  const spkSelect = h('select', { id: 'speaker-select', class: 'select' });

  const nameInput = h('input', {
    id: 'display-name',
    class: 'text',
    type: 'text',
    maxlength: 64,
    autocomplete: 'name',
    required: true,
    value: savedName(),
  });
  const joinButton = h('button', { class: 'btn primary', type: 'submit', id: 'join' }, secret === undefined ? 'Ask to join' : 'Join meeting');

  const paint = (): void => {
    const camOn = camera !== undefined;
    camToggle.setAttribute('aria-pressed', String(wantCamera));
    replace(camToggle, icon(wantCamera ? 'cam' : 'camOff'), h('span', { class: 'sr-only' }, 'Camera'));
    camToggle.title = wantCamera ? 'Turn camera off' : 'Turn camera on';
    camToggle.classList.toggle('off', !wantCamera);
    micToggle.setAttribute('aria-pressed', String(wantMic));
    replace(micToggle, icon(wantMic ? 'mic' : 'micOff'), h('span', { class: 'sr-only' }, 'Microphone'));
    micToggle.title = wantMic ? 'Turn microphone off' : 'Turn microphone on';
    micToggle.classList.toggle('off', !wantMic);
    previewOff.hidden = camOn;
    video.hidden = !camOn;
    previewOff.textContent = wantCamera ? 'No camera' : 'Camera is off';
  };

  const showProblem = (el: HTMLElement, kind: 'audioinput' | 'videoinput', p: DeviceProblem | undefined): void => {
    el.textContent = p === undefined ? '' : problemMessage(kind, p);
    el.dataset['problem'] = p ?? '';
  };

  const fillSelect = async (sel: HTMLSelectElement, kind: DeviceKind, current: string | undefined): Promise<void> => {
    const opts = await listDevices(kind);
    replace(sel, ...opts.map((o) => h('option', { value: o.id, selected: o.id === current }, o.label)));
    if (opts.length === 0) sel.appendChild(h('option', { value: '' }, kind === 'audiooutput' ? 'System default' : 'None found'));
    sel.disabled = opts.length === 0;
  };

  const refreshLists = async (): Promise<void> => {
    await fillSelect(camSelect, 'videoinput', chosen.videoinput ?? (await camera?.getDeviceId()));
    await fillSelect(micSelect, 'audioinput', chosen.audioinput ?? (await microphone?.getDeviceId()));
    if (canChooseSpeaker()) await fillSelect(spkSelect, 'audiooutput', chosen.audiooutput);
  };

  const startCamera = async (): Promise<void> => {
    camera?.stop();
    camera = undefined;
    if (wantCamera) {
      const r = await openCamera(chosen.videoinput);
      if (closed) {
        if (r.ok) r.track.stop();
        return;
      }
      if (r.ok) {
        camera = r.track;
        camera.attach(video);
      }
      showProblem(camProblem, 'videoinput', r.ok ? undefined : r.problem);
    } else {
      showProblem(camProblem, 'videoinput', undefined);
    }
    paint();
  };

  const startMic = async (): Promise<void> => {
    microphone?.stop();
    microphone = undefined;
    meter.attach(undefined);
    if (wantMic) {
      const r = await openMicrophone(chosen.audioinput);
      if (closed) {
        if (r.ok) r.track.stop();
        return;
      }
      if (r.ok) {
        microphone = r.track;
        meter.attach(microphone.mediaStreamTrack);
      }
      showProblem(micProblem, 'audioinput', r.ok ? undefined : r.problem);
    } else {
      showProblem(micProblem, 'audioinput', undefined);
    }
    paint();
  };

  // Device operations run one at a time, in the order the user asked for them.
  const serial = (f: () => Promise<void>): void => {
    busy = busy.then(f).catch(() => undefined);
  };

  camToggle.addEventListener('click', () => {
    wantCamera = !wantCamera;
    paint();
    serial(startCamera);
  });
  micToggle.addEventListener('click', () => {
    wantMic = !wantMic;
    paint();
    serial(startMic);
  });
  camSelect.addEventListener('change', () => {
    chosen.videoinput = camSelect.value || undefined;
    if (wantCamera) serial(startCamera);
  });
  micSelect.addEventListener('change', () => {
    chosen.audioinput = micSelect.value || undefined;
    if (wantMic) serial(startMic);
  });
  spkSelect.addEventListener('change', () => {
    chosen.audiooutput = spkSelect.value || undefined;
  });
  const onDeviceChange = (): void => serial(refreshLists);
  navigator.mediaDevices?.addEventListener('devicechange', onDeviceChange);

  const form = h(
    'form',
    { class: 'prejoin-form', 'aria-label': 'Join settings' },
    h('label', { for: 'display-name' }, 'Your name'),
    nameInput,
    h('label', { for: 'camera-select' }, 'Camera'),
    camSelect,
    camProblem,
    h('label', { for: 'mic-select' }, 'Microphone'),
    micSelect,
    meter.element,
    micProblem,
    canChooseSpeaker() && h('label', { for: 'speaker-select' }, 'Speaker'),
    canChooseSpeaker() && spkSelect,
    joinButton,
  );
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const name = nameInput.value.trim();
    if (name === '') {
      nameInput.focus();
      return;
    }
    saveName(name);
    joinButton.disabled = true;
    serial(async () => {
      closed = true;
      meter.close();
      navigator.mediaDevices?.removeEventListener('devicechange', onDeviceChange);
      camera?.detach(video);
      onJoin({ room, secret, name, camera, microphone, devices: { ...chosen } });
    });
  });

  replace(
    root,
    h(
      'main',
      { class: 'prejoin', id: 'main' },
      h('h1', {}, 'Ready to join?'),
      secret === undefined &&
        h(
          'p',
          { class: 'lobby-note', id: 'lobby-note', role: 'note' },
          'This link has no secret part (after "#"), so you will wait in the lobby until someone in the meeting lets you in. They will see the name you choose here.',
        ),
      h(
        'div',
        { class: 'prejoin-body' },
        h('div', { class: 'preview' }, video, previewOff, h('div', { class: 'preview-controls' }, micToggle, camToggle)),
        form,
      ),
    ),
    bundleFooter(),
  );
  paint();
  nameInput.focus();
  serial(async () => {
    await startCamera();
    await startMic();
    await refreshLists();
  });
}
