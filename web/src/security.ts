// The seam between the meeting view and the end-to-end encryption that keys
// it. The meeting view publishes nothing until ready() resolves, shows the
// security code only when there is one, and shows the roster only when it is
// authenticated. Today's implementation is the interim link-secret keying
// (security-interim.ts); the "E2EE meetings" issue replaces it with MLS
// (roster, security code, lobby, chat) behind this same interface.

import type { BaseKeyProvider, Room } from 'livekit-client';

/** Kinds of members, as the roster labels them. */
export type MemberKind = 'browser' | 'bot' | 'phone' | 'recorder';

/** An authenticated member of the meeting (from the MLS roster). */
export interface RosterMember {
  /** The livekit participant identity this member speaks as. */
  identity: string;
  name: string;
  kind: MemberKind;
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
}

export type SecurityPhase =
  /** Keys are not in place yet: nothing may be published. */
  | 'securing'
  /** Media keys are in place. */
  | 'secured'
  /** Keying failed; the meeting cannot go on. */
  | 'failed';

export interface SecurityInfo {
  phase: SecurityPhase;
  /** One line saying what protects the meeting, shown to every user. */
  summary: string;
  /** Longer honest explanation for the details panel. */
  explanation: string;
  /** The code members compare aloud; undefined when the scheme has none. */
  securityCode: string | undefined;
  /** The authenticated roster; undefined when the scheme has none. */
  roster: RosterMember[] | undefined;
  /** Non-dismissable warnings (a phone gateway or a recorder is present). */
  banners: string[];
}

export interface MeetingSecurity {
  /** What livekit-client's e2ee option needs (the SFrame worker and its key provider). */
  readonly keyProvider: BaseKeyProvider;
  readonly worker: Worker;
  /**
   * start begins keying once the room is connected and the local identity is
   * known. The returned promise resolves when media keys are in place.
   */
  start(room: Room, signal: AbortSignal): Promise<void>;
  info(): SecurityInfo;
  /** onChange calls fn whenever info() or stats() may have changed; returns an unsubscribe function. */
  onChange(fn: () => void): () => void;
  /** stats returns the worker's latest counters, if it reports them. */
  stats(): FrameStats | undefined;
  /** close stops the worker and forgets all key material. */
  close(): void;
}
