// The stage: one tile per participant camera (an avatar when there is no
// video) and one per screen share, in a grid or an active-speaker layout.
// Remote audio plays through hidden audio elements kept beside the stage.

import {
  type Participant,
  type RemoteAudioTrack,
  type Room,
  Track,
  type VideoTrack,
} from 'livekit-client';
import { h, icon, replace } from './dom';
import { displayName, initials, kindLabel, qualityLabel } from './participants';
import type { MemberKind } from './security';

export type Layout = 'grid' | 'speaker';

/** What the stage shows of a member of the encrypted meeting. */
export interface StageMember {
  name: string;
  hand: boolean;
  /** Shown beside the name unless 'browser', so a bot or a phone cannot pass for a person. */
  kind: MemberKind;
}

type Source = Track.Source.Camera | Track.Source.ScreenShare;

interface Tile {
  key: string;
  identity: string;
  source: Source;
  el: HTMLElement;
  video: HTMLVideoElement;
  avatar: HTMLElement;
  name: HTMLElement;
  micOff: HTMLElement;
  hand: HTMLElement;
  kind: HTMLElement;
  quality: HTMLElement;
  track: VideoTrack | undefined;
}

function tileKey(identity: string, source: Source): string {
  return `${source}:${identity}`;
}

export class Stage {
  readonly element: HTMLElement;
  private readonly audio: HTMLElement;
  private readonly tiles = new Map<string, Tile>();
  private readonly audioTracks = new Map<RemoteAudioTrack, HTMLMediaElement>();
  private layout: Layout = 'grid';
  private lastSpeaker: string | undefined;
  private readonly resize: ResizeObserver;
  private sinkId: string | undefined;
  /** The MLS roster by participant identity; undefined until known. */
  private members: ReadonlyMap<string, StageMember> | undefined;

  constructor(private readonly room: Room) {
    this.audio = h('div', { class: 'audio-sinks', 'aria-hidden': 'true' });
    this.element = h('section', { class: 'stage grid', id: 'stage', 'aria-label': 'Participants' });
    this.resize = new ResizeObserver(() => this.fit());
    this.resize.observe(this.element);
  }

  /** audioElements is the container of remote audio, to put somewhere in the page. */
  get audioElements(): HTMLElement {
    return this.audio;
  }

  setLayout(l: Layout): void {
    this.layout = l;
    this.element.classList.toggle('grid', l === 'grid');
    this.element.classList.toggle('speaker', l === 'speaker');
    this.sync();
  }

  getLayout(): Layout {
    return this.layout;
  }

  /** setSpeaker routes remote audio to a chosen output device. */
  async setSpeaker(deviceId: string): Promise<void> {
    this.sinkId = deviceId;
    await Promise.all(
      [...this.audioTracks.values()].map((el) => (el as HTMLMediaElement & { setSinkId?(id: string): Promise<void> }).setSinkId?.(deviceId)),
    );
  }

  /**
   * setMembers restricts the stage to members of the encrypted meeting
   * (the MLS roster), named as their credentials say: a participant the
   * server lists but the group lacks (a joiner in the lobby) gets no tile.
   */
  setMembers(members: ReadonlyMap<string, StageMember> | undefined): void {
    this.members = members;
  }

  /** sync reconciles tiles and audio with the room's participants and tracks. */
  sync(): void {
    const want = new Set<string>();
    const members = this.members;
    const participants: Participant[] = [this.room.localParticipant, ...[...this.room.remoteParticipants.values()].filter((p) => members === undefined || members.has(p.identity))];
    for (const p of participants) {
      want.add(this.syncTile(p, Track.Source.Camera));
      const share = p.getTrackPublication(Track.Source.ScreenShare);
      if (share?.videoTrack !== undefined && !share.isMuted) want.add(this.syncTile(p, Track.Source.ScreenShare));
    }
    for (const [key, t] of this.tiles) {
      if (!want.has(key)) {
        t.track?.detach(t.video);
        t.el.remove();
        this.tiles.delete(key);
      }
    }
    this.syncAudio(participants);
    this.arrange();
  }

  private syncTile(p: Participant, source: Source): string {
    const key = tileKey(p.identity, source);
    let t = this.tiles.get(key);
    if (t === undefined) {
      t = this.newTile(p.identity, source);
      this.tiles.set(key, t);
      this.element.appendChild(t.el);
    }
    const pub = p.getTrackPublication(source);
    const track = pub !== undefined && !pub.isMuted ? (pub.videoTrack as VideoTrack | undefined) : undefined;
    if (track !== t.track) {
      t.track?.detach(t.video);
      t.track = track;
      if (track !== undefined) track.attach(t.video);
    }
    const member = this.members?.get(p.identity);
    const shown = member?.name ?? displayName(p);
    const name = shown + (p.isLocal ? ' (you)' : '');
    t.hand.hidden = source !== Track.Source.Camera || member?.hand !== true;
    const kind = member === undefined || member.kind === 'browser' ? '' : kindLabel[member.kind];
    if (t.kind.textContent !== kind) t.kind.textContent = kind;
    t.kind.className = `kind kind-${member?.kind ?? 'browser'}`;
    t.kind.hidden = kind === '';
    const label = source === Track.Source.ScreenShare ? `${name}: screen` : name;
    if (t.name.textContent !== label) t.name.textContent = label;
    t.el.setAttribute('aria-label', label);
    replace(t.avatar, initials(shown));
    t.video.hidden = track === undefined;
    // Until the first frame is decoded the avatar covers the (black) video;
    // the video stays visible so that adaptive stream keeps it subscribed.
    t.avatar.hidden = track !== undefined && t.video.videoWidth > 0;
    t.el.dataset['video'] = track !== undefined ? 'on' : 'off';
    t.video.classList.toggle('mirrored', p.isLocal && source === Track.Source.Camera);
    const micMuted = !p.isMicrophoneEnabled;
    t.micOff.hidden = source !== Track.Source.Camera || !micMuted;
    t.el.classList.toggle('speaking', source === Track.Source.Camera && p.isSpeaking);
    t.quality.dataset['quality'] = p.connectionQuality;
    t.quality.title = qualityLabel[p.connectionQuality];
    t.quality.setAttribute('aria-label', qualityLabel[p.connectionQuality]);
    return key;
  }

  private newTile(identity: string, source: Source): Tile {
    const video = h('video', { autoplay: true, playsinline: true, muted: true });
    video.muted = true; // audio plays through the audio elements
    video.addEventListener('resize', () => this.sync());
    const avatar = h('div', { class: 'avatar', 'aria-hidden': 'true' });
    const name = h('span', { class: 'tile-name' });
    const micOff = h('span', { class: 'tile-mic-off', title: 'Microphone off', role: 'img', 'aria-label': 'Microphone off' }, icon('micOff'));
    const quality = h('span', { class: 'quality', role: 'img' }, h('i'), h('i'), h('i'));
    const hand = h('span', { class: 'hand', title: 'Hand raised', role: 'img', 'aria-label': 'Hand raised', hidden: true }, icon('hand'));
    const kind = h('span', { class: 'kind', hidden: true });
    const el = h(
      'figure',
      { class: `tile ${source === Track.Source.ScreenShare ? 'screen' : 'camera'}`, 'data-identity': identity, 'data-source': source },
      video,
      avatar,
      h('figcaption', {}, micOff, name, kind, hand, quality),
    );
    return { key: tileKey(identity, source), identity, source, el, video, avatar, name, micOff, hand, kind, quality, track: undefined };
  }

  private syncAudio(participants: Participant[]): void {
    const live = new Set<RemoteAudioTrack>();
    for (const p of participants) {
      if (p.isLocal) continue;
      for (const pub of p.audioTrackPublications.values()) {
        const track = pub.audioTrack as RemoteAudioTrack | undefined;
        if (track === undefined || !pub.isSubscribed) continue;
        live.add(track);
        if (!this.audioTracks.has(track)) {
          const el = track.attach();
          if (this.sinkId !== undefined) void (el as HTMLMediaElement & { setSinkId?(id: string): Promise<void> }).setSinkId?.(this.sinkId);
          this.audio.appendChild(el);
          this.audioTracks.set(track, el);
        }
      }
    }
    for (const [track, el] of this.audioTracks) {
      if (!live.has(track)) {
        track.detach(el);
        el.remove();
        this.audioTracks.delete(track);
      }
    }
  }

  /** featured picks the tile of the speaker layout: a screen share, else the latest remote speaker. */
  private featured(): Tile | undefined {
    for (const t of this.tiles.values()) if (t.source === Track.Source.ScreenShare) return t;
    const speaker = this.room.activeSpeakers.find((p) => !p.isLocal);
    if (speaker !== undefined) this.lastSpeaker = speaker.identity;
    const last = this.lastSpeaker !== undefined ? this.tiles.get(tileKey(this.lastSpeaker, Track.Source.Camera)) : undefined;
    if (last !== undefined) return last;
    for (const t of this.tiles.values()) if (t.identity !== this.room.localParticipant.identity) return t;
    return this.tiles.values().next().value;
  }

  private arrange(): void {
    const feature = this.layout === 'speaker' ? this.featured() : undefined;
    for (const t of this.tiles.values()) t.el.classList.toggle('featured', t === feature);
    this.element.dataset['count'] = String(this.tiles.size);
    this.fit();
  }

  /** fit sizes the grid so that n 16:9 tiles are as large as the stage allows. */
  private fit(): void {
    if (this.layout !== 'grid') return;
    const n = this.tiles.size;
    const gap = 8;
    const w = this.element.clientWidth - 2 * gap;
    const hgt = this.element.clientHeight - 2 * gap;
    if (n === 0 || w <= 0 || hgt <= 0) return;
    let best = 1;
    let bestWidth = 0;
    for (let cols = 1; cols <= n; cols++) {
      const rows = Math.ceil(n / cols);
      const tileWidth = Math.min((w - (cols - 1) * gap) / cols, (((hgt - (rows - 1) * gap) / rows) * 16) / 9);
      if (tileWidth > bestWidth) {
        bestWidth = tileWidth;
        best = cols;
      }
    }
    this.element.style.setProperty('--cols', String(best));
    this.element.style.setProperty('--tile-w', `${Math.max(80, Math.floor(bestWidth))}px`);
  }

  close(): void {
    this.resize.disconnect();
    for (const t of this.tiles.values()) t.track?.detach(t.video);
    for (const [track, el] of this.audioTracks) {
      track.detach(el);
      el.remove();
    }
    this.tiles.clear();
    this.audioTracks.clear();
  }
}
