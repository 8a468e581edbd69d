// Messages between the page and the SFrame worker.
//
// Two families share the worker's message port:
//  - livekit-client's E2EEManager messages (kind 'init', 'enable', 'encode',
//    'decode', ...): the subset the worker reads is typed here from
//    livekit-client 2.23's src/e2ee/types.ts;
//  - Conclave's own messages, kind 'conclave:*', which carry keys (as
//    non-extractable CryptoKeys, never in a URL) and counters.

import type { KidLayout } from './sframe';

// ---- Conclave: page -> worker ----

/** MLS keying (RFC 9605 Section 5.2): the base key of a new epoch and this
 * member's leaf index. The worker decrypts with it at once and keeps older
 * epochs for graceMs; it encrypts with it only if send is not false (a
 * joiner whose group is not attested yet receives but never sends). The
 * same epoch may come again with send true (the attestation arrived). */
export interface SetEpochMessage {
  kind: 'conclave:setEpoch';
  epoch: bigint;
  baseKey: CryptoKey;
  leafIndex: number;
  send?: boolean;
  layout?: KidLayout;
  graceMs?: number;
}

/** Asks for the counters; answered by a StatsMessage with the same id. */
export interface GetStatsMessage {
  kind: 'conclave:getStats';
  id: number;
}

/** Stops sending: this member left the group. Frames are dropped from now on. */
export interface StopSendingMessage {
  kind: 'conclave:stopSending';
}

export type ConclaveRequest = SetEpochMessage | StopSendingMessage | GetStatsMessage;

// ---- Conclave: worker -> page ----

export interface FrameStats {
  /** Frames encrypted and passed on to the packetizer. */
  encrypted: number;
  /** Frames decrypted and passed on to the decoder. */
  decrypted: number;
  /** Outgoing frames dropped because no key was set yet. */
  encryptDroppedNoKey: number;
  /** Outgoing frames dropped for another reason (e.g. malformed frame). */
  encryptDroppedError: number;
  /** Incoming frames dropped, by reason. None reaches the decoder. */
  decryptDropped: Record<DropReason, number>;
  /** Incoming frames held because their key was not installed yet (a new
   * epoch's frames overtaking its MLS commit, RFC 9605 Section 4.4.4).
   * Those that decrypted later are in decrypted too. */
  held: number;
  /** Held frames dropped because their key did not come in time, a full
   * queue pushed them out, a later frame of their track decrypted first, or
   * the track ended. Not decryption failures. */
  heldDropped: number;
  /** This participant's sending KID, as a decimal string ('' if none). */
  senderKid: string;
}

/** Why a received frame failed to decrypt. A frame under a key this member
 * does not hold (yet) is not a failure: it is held (FrameStats.held). */
export type DropReason = 'auth' | 'replay' | 'counterRange' | 'malformed' | 'other';

export interface StatsMessage {
  kind: 'conclave:stats';
  id: number;
  stats: FrameStats;
}

// ---- livekit-client E2EEManager -> worker (subset read by the worker) ----

export type VideoCodecName = 'vp8' | 'h264' | 'vp9' | 'av1' | 'h265';

export interface LkInitMessage {
  kind: 'init';
  data: { keyProviderOptions: unknown; loglevel: unknown };
}
export interface LkEnableMessage {
  kind: 'enable';
  data: { participantIdentity: string; enabled: boolean };
}
export interface LkEncodeMessage {
  kind: 'encode' | 'decode';
  data: {
    participantIdentity: string;
    readableStream: ReadableStream<unknown>;
    writableStream: WritableStream<unknown>;
    trackId: string;
    codec?: VideoCodecName;
  };
}
export interface LkUpdateCodecMessage {
  kind: 'updateCodec';
  data: { participantIdentity: string; trackId: string; codec?: VideoCodecName; previousTrackId?: string };
}
export interface LkRemoveTransformMessage {
  kind: 'removeTransform';
  data: { participantIdentity: string; trackId: string };
}
export interface LkRTPMapMessage {
  kind: 'setRTPMap';
  data: { map: Map<number, VideoCodecName>; participantIdentity: string };
}
export interface LkDataRequestMessage {
  kind: 'encryptDataRequest' | 'decryptDataRequest';
  data: { uuid: string };
}
/** Messages the worker accepts and ignores: keys come from Conclave
 * messages, not from livekit's KeyProvider, and there is no ratchet. */
export interface LkIgnoredMessage {
  kind: 'setKey' | 'ratchetRequest' | 'setSifTrailer' | 'setLogLevel';
  data: unknown;
}

export type LivekitRequest =
  | LkInitMessage
  | LkEnableMessage
  | LkEncodeMessage
  | LkUpdateCodecMessage
  | LkRemoveTransformMessage
  | LkRTPMapMessage
  | LkDataRequestMessage
  | LkIgnoredMessage;

export type WorkerRequest = ConclaveRequest | LivekitRequest;

/** Options of an RTCRtpScriptTransform made by livekit-client. */
export interface ScriptTransformOptions {
  kind: 'encode' | 'decode';
  participantIdentity: string;
  trackId: string;
  codec?: VideoCodecName;
}
