// The meeting: join, wait for keys, publish, and show the call.
//
// Order of events (DESIGN.md, issue "Web app": nothing leaves the browser
// before its keys are in place):
//   1. POST /api/join for a token (only the room ID and the name are sent);
//   2. connect with livekit-client, E2EE on (every track declares GCM);
//   3. security.start(): join the MLS group (after the lobby, for a joiner
//      without the link secret) and key the SFrame worker ("Securing the
//      meeting" meanwhile);
//   4. only then publish the microphone and camera chosen in the prejoin.
// The people list, the security code, the lobby, chat, raised hands and the
// recording banner all come from the MLS group (security.ts).

import {
  ConnectionQuality,
  ConnectionState,
  DisconnectReason,
  type LocalParticipant,
  type LocalTrack,
  type Participant,
  Room,
  RoomEvent,
  Track,
} from 'livekit-client';
import { ApiError, join, type JoinGrant } from './api';
import { chatPanel } from './chat';
import { cameraResolution, problemMessage } from './devices';
import { announce, h, icon, type IconName, isTyping, replace } from './dom';
import { copyText } from './home';
import { meetingLink, meetingPath } from './link';
import { displayName, kindLabel, kindOf, qualityLabel } from './participants';
import type { JoinChoice } from './prejoin';
import { type MeetingRecording, startRecording } from './recording';
import type { MeetingSecurity, SecurityEnd, SecurityInfo } from './security';
import { settingsDialog, shortcutSetting } from './settings';
import { type Layout, Stage } from './stage';

/** How a meeting ended, for the end screen. */
export interface MeetingEnd {
  title: string;
  detail: string;
}

export type SecurityFactory = (choice: JoinChoice) => MeetingSecurity;

/** Room options shared by every browser participant. */
function roomOptions(security: MeetingSecurity) {
  return {
    adaptiveStream: true,
    dynacast: true,
    // Conclave's SFU speaks the dual peer connection path of the signal protocol.
    singlePeerConnection: false,
    e2ee: { keyProvider: security.keyProvider, worker: security.worker },
    disconnectOnPageLeave: true,
    stopLocalTrackOnUnpublish: true,
    videoCaptureDefaults: { resolution: cameraResolution },
    publishDefaults: { simulcast: true, videoCodec: 'vp8' as const, backupCodec: false, dtx: true },
  };
}

interface ControlButton {
  el: HTMLButtonElement;
  set(on: boolean, enabled?: boolean): void;
}

function controlButton(id: string, label: string, shortcut: string, iconOn: IconName, iconOff: IconName, onClick: () => void): ControlButton {
  const el = h('button', { class: 'ctl', type: 'button', id, 'aria-keyshortcuts': shortcut, 'aria-pressed': 'false' });
  const text = h('span', { class: 'ctl-label' }, label);
  el.addEventListener('click', onClick);
  let shown = '';
  return {
    el,
    set(on, enabled = true) {
      const state = `${on}/${enabled}`;
      if (state === shown) return;
      shown = state;
      el.setAttribute('aria-pressed', String(on));
      el.classList.toggle('off', !on);
      el.disabled = !enabled;
      el.title = `${label}: ${on ? 'on' : 'off'} (${shortcut})`;
      replace(el, icon(on ? iconOn : iconOff), text);
    },
  };
}

export async function runMeeting(
  root: HTMLElement,
  choice: JoinChoice,
  makeSecurity: SecurityFactory,
  onEnd: (end: MeetingEnd) => void,
): Promise<void> {
  document.title = 'Meeting · Conclave';
  const abort = new AbortController();
  let ended = false;
  let secured = false;
  const pendingTracks: LocalTrack[] = [choice.microphone, choice.camera].filter((t): t is NonNullable<typeof t> => t !== undefined);

  // ---- shell
  const phase = h('span', { class: 'phase', id: 'phase', role: 'status', 'data-phase': 'joining' }, 'Joining…');
  const connection = h('div', { class: 'connection-banner', id: 'connection', role: 'alert', hidden: true });
  const banners = h('div', { class: 'banners', id: 'banners', 'aria-live': 'assertive' });
  const toast = h('div', { class: 'toast', role: 'status', id: 'toast' });
  const count = h('span', { class: 'count', id: 'participant-count' });
  const myQuality = h('span', { class: 'quality', role: 'img', id: 'my-quality' }, h('i'), h('i'), h('i'));
  const securingTitle = h('p', { id: 'securing-title' }, 'Securing the meeting…');
  const securingHint = h('p', { class: 'hint', id: 'securing-hint' }, 'Nothing is sent until the encryption keys are in place.');
  const securing = h('div', { class: 'securing', id: 'securing' }, h('div', { class: 'spinner', 'aria-hidden': 'true' }), securingTitle, securingHint);
  const peopleList = h('ul', { class: 'people', id: 'people-list' });
  const outsiderList = h('ul', { class: 'people people-outsiders', id: 'outsider-list' });
  const lobbyList = h('div', { id: 'panel-lobby' });
  const peopleHeading = h('h2', { id: 'people-heading' }, 'People');
  const peopleNote = h('p', { class: 'hint', id: 'people-note' });
  const phonesNote = h('p', { class: 'hint', id: 'phones-forbidden', hidden: true }, 'Desk phones cannot join this meeting.');
  const codeView = h('p', { class: 'security-code', id: 'people-security-code' });
  const securityBox = h(
    'section',
    { class: 'security-panel', id: 'security-panel', 'aria-labelledby': 'security-heading', hidden: true },
    h('h3', { id: 'security-heading' }, 'Security code'),
    codeView,
    h('p', { class: 'hint' }, 'Read this code aloud and ask the others to check that their screens show the same digits. If everyone sees the same code, the meeting reaches only the people listed here. It changes whenever someone joins or leaves.'),
  );
  const panel = h('aside', { class: 'panel', id: 'people-panel', 'aria-labelledby': 'people-heading', hidden: true }, securityBox, peopleHeading, peopleNote, phonesNote, lobbyList, peopleList, outsiderList);
  const lobbyBox = h('div', { class: 'lobby-requests', id: 'lobby-requests', 'aria-live': 'polite' });
  const audioStart = h('button', { class: 'btn primary start-audio', type: 'button', id: 'start-audio', hidden: true }, 'Click to hear the others');

  const fail = (title: string, detail: string): void => {
    if (ended) return;
    ended = true;
    abort.abort();
    cleanup();
    onEnd({ title, detail });
  };

  let grant: JoinGrant;
  replace(root, h('main', { class: 'meeting', id: 'main' }, h('header', { class: 'topbar' }, h('span', { class: 'brand' }, icon('lock'), 'Conclave'), phase), securing));
  try {
    grant = await join(choice.room, choice.name, abort.signal);
  } catch (e) {
    for (const t of pendingTracks) t.stop();
    onEnd({ title: 'Could not join', detail: e instanceof ApiError ? e.message : 'The server could not be reached.' });
    return;
  }

  const security = makeSecurity(choice);
  const chat = chatPanel((text) => {
    try {
      security.sendChat(text);
      return undefined;
    } catch (e) {
      return e instanceof Error ? e.message : 'The message could not be sent.';
    }
  });
  let unread = 0;
  let recording: MeetingRecording | undefined;
  const room = new Room(roomOptions(security));
  const stage = new Stage(room);
  const lp: LocalParticipant = room.localParticipant;

  // ---- controls
  const setMic = async (on: boolean): Promise<void> => {
    if (!secured) return;
    try {
      await lp.setMicrophoneEnabled(on, choice.devices.audioinput !== undefined ? { deviceId: choice.devices.audioinput } : undefined);
    } catch (e) {
      showToast(problemMessage('audioinput', e instanceof DOMException && e.name === 'NotAllowedError' ? 'denied' : 'failed'));
    }
    announce(lp.isMicrophoneEnabled ? 'Microphone on' : 'Microphone off');
    render();
  };
  const setCam = async (on: boolean): Promise<void> => {
    if (!secured) return;
    try {
      await lp.setCameraEnabled(on, { resolution: cameraResolution, ...(choice.devices.videoinput !== undefined ? { deviceId: choice.devices.videoinput } : {}) });
    } catch (e) {
      showToast(problemMessage('videoinput', e instanceof DOMException && e.name === 'NotAllowedError' ? 'denied' : 'failed'));
    }
    announce(lp.isCameraEnabled ? 'Camera on' : 'Camera off');
    render();
  };
  const setShare = async (on: boolean): Promise<void> => {
    if (!secured) return;
    try {
      await lp.setScreenShareEnabled(on, { audio: false, selfBrowserSurface: 'exclude', surfaceSwitching: 'include' });
    } catch (e) {
      // Cancelling the browser's picker is not an error worth showing.
      if (!(e instanceof DOMException && e.name === 'NotAllowedError')) showToast('Screen sharing could not start.');
    }
    announce(lp.isScreenShareEnabled ? 'Sharing your screen' : 'Screen sharing stopped');
    render();
  };
  const micBtn = controlButton('toggle-mic', 'Mic', 'M', 'mic', 'micOff', () => void setMic(!lp.isMicrophoneEnabled));
  const camBtn = controlButton('toggle-camera', 'Camera', 'V', 'cam', 'camOff', () => void setCam(!lp.isCameraEnabled));
  const shareBtn = controlButton('toggle-share', 'Share', 'S', 'screen', 'screen', () => void setShare(!lp.isScreenShareEnabled));
  const layoutBtn = controlButton('toggle-layout', 'Speaker view', 'L', 'speaker', 'grid', () => toggleLayout());
  const peopleBtn = controlButton('toggle-people', 'People', 'P', 'people', 'people', () => togglePanel());
  const handBtn = controlButton('toggle-hand', 'Raise hand', 'H', 'hand', 'hand', () => toggleHand());
  const chatBtn = controlButton('toggle-chat', 'Chat', 'C', 'chat', 'chat', () => toggleChat());
  const recordBtn = controlButton('toggle-record', 'Record', 'R', 'record', 'record', () => void toggleRecord());
  let handUp = false;
  const toggleHand = (): void => {
    if (!secured) return;
    handUp = !handUp;
    security.setHand(handUp);
    announce(handUp ? 'Hand raised' : 'Hand lowered');
    render();
  };
  const toggleChat = (): void => {
    chat.element.hidden = !chat.element.hidden;
    if (!chat.element.hidden) {
      unread = 0;
      chat.input.focus();
    }
    render();
  };
  const toggleRecord = async (): Promise<void> => {
    if (!secured) return;
    if (recording === undefined) {
      // Everyone is told before the first byte is recorded.
      try {
        security.setRecording(true);
      } catch (e) {
        showToast(e instanceof Error ? `Recording could not start: ${e.message}` : 'Recording could not start.');
        return;
      }
      try {
        recording = startRecording(room);
      } catch (e) {
        security.setRecording(false);
        showToast(e instanceof Error ? `Recording could not start: ${e.message}` : 'Recording could not start.');
      }
      render();
      return;
    }
    const r = recording;
    recording = undefined;
    const blob = await r.stop();
    security.setRecording(false);
    const a = h('a', { href: URL.createObjectURL(blob), download: `conclave-recording-${new Date().toISOString().replace(/[:.]/g, '-')}.webm` });
    a.click();
    window.setTimeout(() => URL.revokeObjectURL(a.href), 60_000);
    showToast('Recording stopped. The file was saved on this device only.');
    render();
  };
  const settingsBtn = h('button', { class: 'ctl', type: 'button', id: 'open-settings', title: 'Devices and details', 'aria-haspopup': 'dialog' }, icon('settings'), h('span', { class: 'ctl-label' }, 'Settings'));
  const inviteBtn = h('button', { class: 'ctl', type: 'button', id: 'copy-invite', title: 'Copy the meeting link' }, icon('link'), h('span', { class: 'ctl-label' }, 'Invite'));
  const leaveBtn = h('button', { class: 'ctl leave', type: 'button', id: 'leave', title: 'Leave the meeting' }, icon('leave'), h('span', { class: 'ctl-label' }, 'Leave'));

  const toggleLayout = (): void => {
    const next: Layout = stage.getLayout() === 'grid' ? 'speaker' : 'grid';
    stage.setLayout(next);
    announce(next === 'grid' ? 'Grid view' : 'Speaker view');
    render();
  };
  const togglePanel = (): void => {
    panel.hidden = !panel.hidden;
    render();
  };
  inviteBtn.addEventListener('click', async () => {
    if (choice.secret === undefined) {
      // Without the secret, those who open it wait in the lobby.
      showToast((await copyText(`${location.origin}${meetingPath(choice.room)}`)) ? 'Link copied. Whoever opens it waits in the lobby until someone lets them in.' : 'Copy the link from the address bar.');
      return;
    }
    showToast((await copyText(meetingLink(location.origin, choice.room, choice.secret))) ? 'Meeting link copied. Anyone with it can join.' : 'Copy the link from the address bar.');
  });
  leaveBtn.addEventListener('click', () => {
    void room.disconnect(true);
  });
  audioStart.addEventListener('click', () => {
    void room.startAudio().then(render);
  });

  // ---- settings and details dialog
  const shortcuts = shortcutSetting();
  const settings = settingsDialog(room, stage, choice, security, shortcuts);
  settingsBtn.addEventListener('click', () => settings.open());

  let toastTimer = 0;
  function showToast(msg: string): void {
    toast.textContent = msg;
    window.clearTimeout(toastTimer);
    toastTimer = window.setTimeout(() => (toast.textContent = ''), 6000);
  }

  // ---- rendering
  let frame = 0;
  function render(): void {
    if (frame !== 0) return;
    frame = requestAnimationFrame(() => {
      frame = 0;
      paint();
    });
  }

  function paint(): void {
    const info = security.info();
    if (info.phase === 'failed' && secured) {
      void room.disconnect(true);
      if (info.end !== undefined) fail(...endReason(disconnectReasonOf(info.end)));
      else fail('You left the encrypted meeting', info.failure ?? 'The encryption could not go on.');
      return;
    }
    securing.hidden = secured;
    securingTitle.textContent = info.phase === 'lobby' ? 'Waiting for someone in the meeting to let you in…' : 'Securing the meeting…';
    securingHint.textContent =
      info.phase === 'lobby'
        ? 'You opened the link without its secret part, so a member must admit you. You see and hear nothing until then, and nothing of yours is sent.'
        : 'Nothing is sent until the encryption keys are in place.';
    phase.dataset['phase'] = info.phase;
    replace(phase, info.phase === 'secured' ? icon('lock') : '', info.phase === 'secured' ? info.summary : info.phase === 'failed' ? 'Encryption failed' : info.phase === 'lobby' ? 'In the lobby' : 'Securing the meeting…');
    replace(banners, ...info.banners.map((b) => h('p', { class: 'banner', role: 'alert' }, b)));
    paintLobby(info);
    securityBox.hidden = info.securityCode === undefined;
    codeView.textContent = info.securityCode ?? '';
    codeView.dataset['epoch'] = info.epoch === undefined ? '' : String(info.epoch);
    unread += chat.render(info.chat, secured);
    if (!chat.element.hidden) unread = 0;
    handBtn.set(handUp, secured);
    chatBtn.set(!chat.element.hidden);
    chatBtn.el.dataset['unread'] = String(unread);
    chatBtn.el.setAttribute('aria-label', unread > 0 ? `Chat, ${unread} unread` : 'Chat');
    recordBtn.set(recording !== undefined, secured && typeof MediaRecorder !== 'undefined');
    micBtn.set(lp.isMicrophoneEnabled, secured);
    camBtn.set(lp.isCameraEnabled, secured);
    shareBtn.set(lp.isScreenShareEnabled, secured && navigator.mediaDevices?.getDisplayMedia !== undefined);
    layoutBtn.set(stage.getLayout() === 'speaker');
    peopleBtn.set(!panel.hidden);
    const n = info.roster?.length ?? 1 + room.remoteParticipants.size;
    count.textContent = `${n} ${n === 1 ? 'person' : 'people'}`;
    myQuality.dataset['quality'] = lp.connectionQuality;
    myQuality.setAttribute('aria-label', `Your ${qualityLabel[lp.connectionQuality].toLowerCase()}`);
    myQuality.title = qualityLabel[lp.connectionQuality];
    audioStart.hidden = room.canPlaybackAudio;
    stage.setMembers(info.roster === undefined ? undefined : new Map(info.roster.map((m) => [m.identity, { name: m.name, hand: m.hand, kind: m.kind }])));
    stage.sync();
    paintPeople(info);
    settings.refresh();
  }

  function paintLobby(info: SecurityInfo): void {
    const rows = info.lobby.map((w) => {
      const admit = h('button', { class: 'btn primary', type: 'button', 'data-action': 'admit' }, 'Let in');
      const refuse = h('button', { class: 'btn', type: 'button', 'data-action': 'refuse' }, 'Refuse');
      admit.addEventListener('click', () => security.admit(w.id));
      refuse.addEventListener('click', () => security.refuse(w.id));
      // A phone gateway in a meeting whose group forbids phones cannot be let in: no Let-in button.
      const what = w.forbidden ? 'refused: desk phones cannot join this meeting' : w.badProof ? 'is waiting to join with a wrong or old link' : 'is waiting to join';
      return h(
        'div',
        { class: 'row lobby-request', 'data-lobby-id': w.id, 'data-forbidden': String(w.forbidden) },
        h('span', { class: 'lobby-name' }, w.name),
        h('span', { class: `kind kind-${w.kind}` }, kindLabel[w.kind]),
        h('span', { class: 'hint' }, what),
        !w.forbidden && admit,
        refuse,
      );
    });
    const key = info.lobby.map((w) => `${w.id}${w.forbidden ? '!' : ''}`).join(',');
    if (lobbyBox.dataset['key'] !== key) {
      lobbyBox.dataset['key'] = key;
      if (rows.length > 0 && rows.length > Number(lobbyBox.dataset['count'] ?? '0')) announce(`${info.lobby[info.lobby.length - 1]?.name ?? 'Someone'} is waiting to join`);
      lobbyBox.dataset['count'] = String(rows.length);
      replace(lobbyBox, ...rows);
    }
  }

  function paintPeople(info: SecurityInfo): void {
    phonesNote.hidden = !info.phonesForbidden;
    const roster = info.roster;
    const all: Participant[] = [lp, ...room.remoteParticipants.values()];
    if (roster !== undefined) {
      peopleNote.textContent = 'Members of the encrypted meeting, as its keys prove them (not as the server says).';
      replace(
        peopleList,
        ...roster.map((m) =>
          h(
            'li',
            { 'data-identity': m.identity, 'data-kind': m.kind, 'data-hand': String(m.hand) },
            h('span', { class: 'person-name' }, m.name + (m.self ? ' (you)' : '')),
            m.kind !== 'browser' && h('span', { class: `kind kind-${m.kind}` }, kindLabel[m.kind]),
            m.hand && h('span', { class: 'hand', role: 'img', 'aria-label': 'hand raised', title: 'Hand raised' }, icon('hand')),
            m.recording && h('span', { class: 'kind kind-recorder' }, 'recording'),
            m.notConnected && h('span', { class: 'flag' }, 'not connected'),
          ),
        ),
      );
      replace(
        outsiderList,
        ...info.outsiders.map((o) =>
          h(
            'li',
            { 'data-identity': o.identity, 'data-outsider': o.inLobby ? 'lobby' : 'unexplained' },
            h('span', { class: 'person-name' }, o.name),
            h('span', { class: 'flag' }, o.inLobby ? 'in the lobby: sees and hears nothing' : 'connected to the server but not in the encrypted meeting: cannot see or hear it'),
          ),
        ),
      );
      return;
    }
    peopleNote.textContent = 'As reported by the server, until this browser is in the encrypted meeting.';
    replace(
      peopleList,
      ...all.map((p) =>
        h(
          'li',
          { 'data-identity': p.identity },
          h('span', { class: 'person-name' }, displayName(p) + (p.isLocal ? ' (you)' : '')),
          kindOf(p) !== 'browser' && h('span', { class: `kind kind-${kindOf(p)}` }, kindLabel[kindOf(p)]),
          !p.isMicrophoneEnabled && h('span', { class: 'person-state', role: 'img', 'aria-label': 'microphone off', title: 'Microphone off' }, icon('micOff')),
          !p.isCameraEnabled && h('span', { class: 'person-state', role: 'img', 'aria-label': 'camera off', title: 'Camera off' }, icon('camOff')),
          h('span', { class: 'quality', role: 'img', 'data-quality': p.connectionQuality, 'aria-label': qualityLabel[p.connectionQuality], title: qualityLabel[p.connectionQuality] }, h('i'), h('i'), h('i')),
        ),
      ),
    );
  }

  // ---- keyboard shortcuts
  const onKey = (ev: KeyboardEvent): void => {
    if (!shortcuts.get() || ev.ctrlKey || ev.metaKey || ev.altKey || isTyping(ev.target) || settings.isOpen()) return;
    const act: Record<string, () => void> = {
      m: () => void setMic(!lp.isMicrophoneEnabled),
      v: () => void setCam(!lp.isCameraEnabled),
      s: () => void setShare(!lp.isScreenShareEnabled),
      l: toggleLayout,
      p: togglePanel,
      h: toggleHand,
      c: toggleChat,
      r: () => void toggleRecord(),
      '?': () => settings.open(),
    };
    const f = act[ev.key.toLowerCase()];
    if (f !== undefined) {
      ev.preventDefault();
      f();
    }
  };
  document.addEventListener('keydown', onKey);

  // ---- room events
  const offSecurity = security.onChange(render);
  room
    .on(RoomEvent.ParticipantConnected, (p) => {
      announce(`${displayName(p)} joined`);
      render();
    })
    .on(RoomEvent.ParticipantDisconnected, (p) => {
      announce(`${displayName(p)} left`);
      render();
    })
    .on(RoomEvent.TrackSubscribed, render)
    .on(RoomEvent.TrackUnsubscribed, render)
    .on(RoomEvent.TrackMuted, render)
    .on(RoomEvent.TrackUnmuted, render)
    .on(RoomEvent.TrackPublished, render)
    .on(RoomEvent.TrackUnpublished, render)
    .on(RoomEvent.LocalTrackPublished, render)
    .on(RoomEvent.LocalTrackUnpublished, render)
    .on(RoomEvent.ActiveSpeakersChanged, render)
    .on(RoomEvent.ParticipantNameChanged, render)
    .on(RoomEvent.ParticipantMetadataChanged, render)
    .on(RoomEvent.AudioPlaybackStatusChanged, render)
    .on(RoomEvent.ActiveDeviceChanged, render)
    .on(RoomEvent.MediaDevicesChanged, () => settings.refresh(true))
    .on(RoomEvent.ConnectionQualityChanged, (q: ConnectionQuality, p: Participant) => {
      if (p.isLocal && q === ConnectionQuality.Poor) showToast('Your connection is poor: others may see you in lower quality.');
      render();
    })
    .on(RoomEvent.SignalReconnecting, () => showConnection('Connection interrupted. Reconnecting…'))
    .on(RoomEvent.Reconnecting, () => showConnection('Connection lost. Reconnecting…'))
    .on(RoomEvent.Reconnected, () => {
      showConnection(undefined);
      announce('Reconnected');
    })
    .on(RoomEvent.MediaDevicesError, (e: Error) => showToast(`A device failed: ${e.message}`))
    .on(RoomEvent.EncryptionError, () => render())
    .on(RoomEvent.Disconnected, (reason?: DisconnectReason) => {
      const [title, detail] = endReason(reason);
      fail(title, detail);
    });

  function showConnection(msg: string | undefined): void {
    connection.hidden = msg === undefined;
    connection.textContent = msg ?? '';
    root.dataset['connection'] = msg === undefined ? 'connected' : 'reconnecting';
  }

  function cleanup(): void {
    document.removeEventListener('keydown', onKey);
    offSecurity();
    window.clearTimeout(toastTimer);
    cancelAnimationFrame(frame);
    stage.close();
    settings.close();
    for (const t of pendingTracks) t.stop();
    for (const pub of lp.trackPublications.values()) pub.track?.stop();
    if (recording !== undefined) void recording.stop();
    recording = undefined;
    room.removeAllListeners();
    security.close();
  }

  // ---- layout
  replace(
    root,
    h(
      'main',
      { class: 'meeting', id: 'main' },
      h('header', { class: 'topbar' }, h('span', { class: 'brand' }, icon('lock'), 'Conclave'), phase, h('span', { class: 'spacer' }), myQuality, count),
      connection,
      banners,
      lobbyBox,
      h('div', { class: 'meeting-body' }, h('div', { class: 'stage-wrap' }, stage.element, securing, audioStart), panel, chat.element),
      h(
        'nav',
        { class: 'controls', 'aria-label': 'Meeting controls' },
        micBtn.el,
        camBtn.el,
        shareBtn.el,
        handBtn.el,
        chatBtn.el,
        layoutBtn.el,
        peopleBtn.el,
        recordBtn.el,
        inviteBtn,
        settingsBtn,
        leaveBtn,
      ),
      toast,
      stage.audioElements,
      settings.element,
    ),
  );
  root.dataset['connection'] = 'connecting';
  paint();

  // ---- connect, secure, publish
  try {
    await room.setE2EEEnabled(true);
    await room.connect(grant.url, grant.token, { autoSubscribe: true });
    root.dataset['connection'] = 'connected';
    render();
    await security.start(room, grant, abort.signal);
  } catch (e) {
    if (!ended) {
      void room.disconnect(true);
      const why = e instanceof Error && e.message !== '' ? `: ${e.message}` : '.';
      const info = security.info();
      if (info.phase === 'failed' && info.end !== undefined) fail(...endReason(disconnectReasonOf(info.end)));
      else if (info.phase === 'failed' && info.failure !== undefined) fail('You are not in the meeting', `Nothing was sent. ${info.failure}`);
      else if (info.phase === 'failed') fail('Could not secure the meeting', `Nothing was sent. The encryption could not start${why}`);
      else fail('Could not join', `The connection failed${why}`);
    }
    return;
  }
  if (ended || room.state !== ConnectionState.Connected) return;
  secured = true;
  announce('The meeting is secured.');
  for (const t of pendingTracks.splice(0)) {
    try {
      await lp.publishTrack(t, { source: t.kind === Track.Kind.Audio ? Track.Source.Microphone : Track.Source.Camera });
    } catch {
      t.stop();
      showToast(t.kind === Track.Kind.Audio ? 'Your microphone could not be published.' : 'Your camera could not be published.');
    }
  }
  if (choice.devices.audiooutput !== undefined) void stage.setSpeaker(choice.devices.audiooutput).catch(() => undefined);
  paint();
  // The prejoin's button is gone: give keyboard users a place to start.
  if (document.activeElement === null || document.activeElement === document.body) micBtn.el.focus();
}

/** The media connection's end that means the same as the key service's. */
function disconnectReasonOf(end: SecurityEnd): DisconnectReason {
  switch (end) {
    case 'replaced':
      return DisconnectReason.DUPLICATE_IDENTITY;
    case 'removed':
      return DisconnectReason.PARTICIPANT_REMOVED;
    case 'ended':
      return DisconnectReason.ROOM_DELETED;
    case 'shutdown':
      return DisconnectReason.SERVER_SHUTDOWN;
  }
}

function endReason(reason: DisconnectReason | undefined): [string, string] {
  switch (reason) {
    case DisconnectReason.CLIENT_INITIATED:
      return ['You left the meeting', ''];
    case DisconnectReason.DUPLICATE_IDENTITY:
      return ['You joined from another tab', 'This tab left the meeting.'];
    case DisconnectReason.SERVER_SHUTDOWN:
      return ['The server is restarting', 'Rejoin in a moment.'];
    case DisconnectReason.PARTICIPANT_REMOVED:
      return ['You were removed from the meeting', ''];
    case DisconnectReason.ROOM_DELETED:
      return ['The meeting was ended', ''];
    case DisconnectReason.JOIN_FAILURE:
      return ['Could not join', 'The server refused the connection.'];
    default:
      return ['You were disconnected', 'The connection to the server was lost.'];
  }
}
