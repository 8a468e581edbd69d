// The seam between the meeting view and the end-to-end encryption that keys
// it (security-mls.ts: the MLS group of docs/e2ee-protocol.md). The meeting
// view publishes nothing until start() resolves, and everything it says about
// who is in the meeting, the security code, the lobby, chat, raised hands and
// recordings comes from here: from the MLS group, never from the server.

import type { BaseKeyProvider, Room } from 'livekit-client';
import type { JoinGrant } from './api';

/** Kinds of members, as the roster labels them. */
export type MemberKind = 'browser' | 'bot' | 'phone' | 'recorder' | 'unknown';

/** An authenticated member of the meeting (a leaf of the MLS tree). */
export interface RosterMember {
  /** The livekit participant identity this member speaks as. */
  identity: string;
  name: string;
  kind: MemberKind;
  self: boolean;
  hand: boolean;
  recording: boolean;
  /** In the group but without a connection to the media server for a while. */
  notConnected: boolean;
}

/** A participant the media server lists that is not in the MLS group. */
export interface Outsider {
  identity: string;
  name: string;
  /** Waiting in the lobby (as opposed to unexplained). */
  inLobby: boolean;
}

/** A joiner waiting for a member to let it in. */
export interface LobbyRequest {
  /** Opaque id to pass to admit or refuse. */
  id: string;
  name: string;
  kind: MemberKind;
  /** It came with a link whose secret did not match (old or wrong link). */
  badProof: boolean;
  /** The group cannot admit it (a phone gateway in a meeting that forbids phones): refuse only. */
  forbidden: boolean;
}

export interface ChatMessage {
  id: number;
  from: string;
  kind: MemberKind;
  self: boolean;
  text: string;
  /** ms since 1970, this browser's clock at arrival. */
  at: number;
}

/** Counters of the SFrame worker, for the details panel and the tests. */
export interface FrameStats {
  /** Frames this browser encrypted and sent. */
  encrypted: number;
  /** Frames received and decrypted. */
  decrypted: number;
  /** Outgoing frames dropped rather than sent (no key yet, malformed). */
  encryptDropped: number;
  /** Incoming frames that failed to decrypt (none reaches the decoder). */
  decryptFailures: number;
  /** The same, by reason (auth, replay, counterRange, malformed, other). */
  decryptDropped: Record<string, number>;
  /** Incoming frames that came before their key and waited for it (a new
   * epoch's first frames overtaking its commit); not failures. */
  held: number;
  /** Of those, the ones whose key did not come in time (dropped). */
  heldDropped: number;
}

export type SecurityPhase =
  /** Keys are not in place yet: nothing may be published. */
  | 'securing'
  /** This browser waits in the lobby for a member to admit it. */
  | 'lobby'
  /** Media keys are in place. */
  | 'secured'
  /** Keying failed, or this browser was refused or removed: the meeting cannot go on. */
  | 'failed';

/** Final ends of the key service that mean the same as an end of the media
 * connection, and are shown the same way: this browser was replaced by a
 * newer connection of the same identity, removed by an admin, the meeting
 * was ended, or the server is shutting down. */
export type SecurityEnd = 'replaced' | 'removed' | 'ended' | 'shutdown';

export interface SecurityInfo {
  phase: SecurityPhase;
  /** Why the phase is 'failed', for the end screen. */
  failure: string | undefined;
  /** Set with phase 'failed' when the cause is one of SecurityEnd. */
  end?: SecurityEnd | undefined;
  /** One line saying what protects the meeting, shown to every user. */
  summary: string;
  /** Longer honest explanation for the details panel. */
  explanation: string;
  /** The MLS epoch (changes when anyone joins or leaves). */
  epoch: number | undefined;
  /** The code members compare aloud; undefined before joining. */
  securityCode: string | undefined;
  /** The authenticated roster (the MLS tree); undefined before joining. */
  roster: RosterMember[] | undefined;
  /** Media-server participants that are not in the group. */
  outsiders: Outsider[];
  /** Joiners waiting in the lobby. */
  lobby: LobbyRequest[];
  chat: ChatMessage[];
  /** The MLS group's context forbids phone gateways (never from the link: from the group). */
  phonesForbidden: boolean;
  /** Non-dismissable warnings (a phone gateway or a recording is present). */
  banners: string[];
  /** What the group refused (a server attack, a bad message), newest last. */
  rejections: string[];
}

export interface MeetingSecurity {
  /** What livekit-client's e2ee option needs (the SFrame worker and its key provider). */
  readonly keyProvider: BaseKeyProvider;
  readonly worker: Worker;
  /**
   * start joins the MLS group once the room is connected; the returned
   * promise resolves when this browser's media keys are in place (after the
   * lobby, for a joiner without the link secret).
   */
  start(room: Room, grant: JoinGrant, signal: AbortSignal): Promise<void>;
  info(): SecurityInfo;
  /** onChange calls fn whenever info() or stats() may have changed; returns an unsubscribe function. */
  onChange(fn: () => void): () => void;
  /** stats returns the worker's latest counters, if it reports them. */
  stats(): FrameStats | undefined;
  admit(id: string): void;
  refuse(id: string): void;
  /** sendChat sends an end-to-end encrypted message; it throws if it cannot. */
  sendChat(text: string): void;
  /** setHand raises or lowers this member's hand for everyone. */
  setHand(on: boolean): void;
  /** setRecording announces to every member that this member records (or stopped). */
  setRecording(on: boolean): void;
  /** close stops the worker and forgets all key material. */
  close(): void;
}
