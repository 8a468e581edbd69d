// The SFrame encoded-transform worker's logic, free of worker globals so it
// can be tested under Node. worker.ts binds it to the worker scope.
//
// It speaks livekit-client 2.23's E2EEManager protocol (init, enable,
// encode/decode with transferred streams for the createEncodedStreams path,
// and RTCRtpScriptTransform options via onRTCTransform) but frames media with
// SFrame (RFC 9605), not livekit's own format. Keys arrive only through
// Conclave's 'conclave:*' messages. Outgoing frames are never sent in the
// clear: without a key they are dropped. Incoming frames that do not decrypt
// are dropped and counted, never passed to the decoder, except those whose
// key this member does not hold yet: they are held for a while (see
// "Frames before their key" below). Each track's frames pass through one
// TransformStream, and leave it in the order they came.
//
// Frames before their key. With MLS keying, the first frames a member sends
// under a new epoch can overtake the commit that creates the epoch: media
// goes through the SFU over UDP, the commit through the delivery service
// over a WebSocket, and each member processes it when it gets it (a joiner
// starts sending as soon as it is attested). RFC 9605, Section 4.4.4 lets a
// receiver buffer a frame whose KID it has no key for until the key comes.
// So a decoded track keeps such frames, in arrival order, for up to
// MAX_HOLD_MS and at most MAX_HELD_FRAMES of them; they are decrypted and
// passed on, oldest first, when a key arrives (conclave:setEpoch) or when the
// track's next frame comes. A frame of the track that decrypts drops the
// older held ones: a track has one sender, whose epochs only go forward, so
// it has moved on to a key this member holds and theirs will not come (a
// joiner never gets the epochs before its own). Held frames that are dropped
// (too old, pushed out of a full queue, overtaken, or still held when the
// track ends) count as heldDropped, not as decryption failures. The same
// rule as the Go bots' (clients/bot, onFrame).

import { type Codec, codecFromMimeType, decryptFrame, encryptFrame } from './codec';
import type {
  DropReason,
  FrameStats,
  ScriptTransformOptions,
  StatsMessage,
  VideoCodecName,
  WorkerRequest,
} from './messages';
import {
  DEFAULT_KID_LAYOUT,
  CipherSuite,
  MlsReceiver,
  SFrameError,
  Sender,
  mlsKid,
} from './sframe';

/** The parts of RTCEncodedVideoFrame / RTCEncodedAudioFrame the worker uses. */
export interface EncodedFrame {
  data: ArrayBuffer;
  readonly type?: string; // video frames only: 'key' | 'delta' | 'empty'
  getMetadata(): { mimeType?: string; payloadType?: number };
}

/** Conclave's media suite with MLS keys (DESIGN.md, "Media keys"). */
const MEDIA_SUITE = CipherSuite.AES_128_GCM_SHA256_128;

/** Grace period for the previous MLS epoch when none is given. */
export const DEFAULT_EPOCH_GRACE_MS = 10_000;

/** How long a received frame waits for its key (see "Frames before their
 * key"): half a second covers a commit's delivery and processing. */
export const MAX_HOLD_MS = 500;

/** How many frames a received track holds while their key is unknown: over
 * a second of audio or video. */
export const MAX_HELD_FRAMES = 64;

/** A received frame whose key was not installed yet, and when it came. */
interface HeldFrame {
  readonly frame: EncodedFrame;
  readonly at: number;
}

/** What the worker keeps of one decoded track. */
interface DecodeTrack {
  readonly trackId: string;
  /** Frames waiting for their key, oldest first. */
  readonly held: HeldFrame[];
  /** Serialises the track's work: its frames, in order, and the retries of
   * its held frames when a key arrives. Every enqueue happens in it. */
  chain: Promise<void>;
  /** The track's TransformStream controller, set when the stream starts. */
  controller: TransformStreamDefaultController<unknown> | undefined;
  /** False once the stream ended: nothing may be enqueued any more. */
  open: boolean;
}

/** What trying to decrypt a frame gave. */
type Opened = 'decrypted' | 'noKeyYet' | 'dropped';

const dropReasons: readonly DropReason[] = ['auth', 'replay', 'counterRange', 'malformed', 'other'];

export class SFrameWorker {
  private sender: Sender | undefined;
  private receiver: MlsReceiver | undefined;
  private readonly trackCodecs = new Map<string, VideoCodecName | undefined>();
  private rtpMap = new Map<number, VideoCodecName>();
  private keyQueue: Promise<void> = Promise.resolve();
  private readonly decoding = new Set<DecodeTrack>();
  private readonly stats: FrameStats = {
    encrypted: 0,
    decrypted: 0,
    encryptDroppedNoKey: 0,
    encryptDroppedError: 0,
    decryptDropped: Object.fromEntries(dropReasons.map((r) => [r, 0])) as Record<DropReason, number>,
    held: 0,
    heldDropped: 0,
    senderKid: '',
  };

  constructor(
    private readonly post: (msg: unknown) => void,
    private readonly now: () => number,
  ) {}

  /** Handles one message from the page. Key changes apply in arrival order. */
  handle(raw: unknown): Promise<void> {
    if (typeof raw !== 'object' || raw === null || !('kind' in raw) || typeof raw.kind !== 'string') {
      return Promise.resolve();
    }
    const msg = raw as WorkerRequest;
    switch (msg.kind) {
      case 'conclave:setEpoch': {
        const { epoch, baseKey, leafIndex } = msg;
        const layout = msg.layout ?? DEFAULT_KID_LAYOUT;
        const grace = msg.graceMs ?? DEFAULT_EPOCH_GRACE_MS;
        const send = msg.send ?? true;
        return this.queueKeyChange(async () => {
          const sender = send ? await Sender.create(MEDIA_SUITE, mlsKid(layout, 0n, leafIndex, epoch), baseKey) : undefined;
          let mls = this.receiver;
          if (!mls || mls.layout.epochBits !== layout.epochBits || mls.layout.indexBits !== layout.indexBits) {
            mls = new MlsReceiver(MEDIA_SUITE, layout, grace);
          }
          // The same epoch comes again when a joiner's group is attested.
          if (!mls.has(epoch)) mls.addEpoch(epoch, baseKey, this.now());
          this.receiver = mls;
          this.setSender(sender);
          // Frames that waited for this key can go on now.
          for (const t of this.decoding) if (t.held.length > 0) void this.serial(t, () => this.drainHeld(t));
        });
      }
      case 'conclave:stopSending':
        return this.queueKeyChange(async () => this.setSender(undefined));
      case 'conclave:getStats': {
        const reply: StatsMessage = { kind: 'conclave:stats', id: msg.id, stats: structuredClone(this.stats) };
        this.post(reply);
        return Promise.resolve();
      }
      case 'init':
        this.post({ kind: 'initAck', data: { enabled: false } });
        return Promise.resolve();
      case 'enable':
        // livekit-client waits for the echo to update its encryption status.
        // Encryption does not depend on it: frames are always SFrame'd.
        this.post(msg);
        return Promise.resolve();
      case 'encode':
      case 'decode':
        this.setupTransform(msg.kind, msg.data.readableStream, msg.data.writableStream, msg.data.trackId, msg.data.codec);
        return Promise.resolve();
      case 'updateCodec':
        if (msg.data.codec) this.trackCodecs.set(msg.data.trackId, msg.data.codec);
        return Promise.resolve();
      case 'removeTransform':
        this.trackCodecs.delete(msg.data.trackId);
        return Promise.resolve();
      case 'setRTPMap':
        this.rtpMap = msg.data.map;
        return Promise.resolve();
      case 'encryptDataRequest':
      case 'decryptDataRequest':
        // Data-channel encryption is not offered: Conclave sends chat over MLS.
        this.post({ kind: 'error', data: { error: new Error('conclave: data packet encryption is not supported'), uuid: msg.data.uuid } });
        return Promise.resolve();
      default:
        return Promise.resolve();
    }
  }

  /** Sets up a transform from RTCRtpScriptTransform options (the
   * 'rtctransform' event). */
  onRTCTransform(transformer: { options: unknown; readable: ReadableStream<unknown>; writable: WritableStream<unknown> }): void {
    const o = transformer.options;
    if (typeof o !== 'object' || o === null) return;
    const opts = o as Partial<ScriptTransformOptions>;
    if ((opts.kind !== 'encode' && opts.kind !== 'decode') || typeof opts.trackId !== 'string') return;
    this.setupTransform(opts.kind, transformer.readable, transformer.writable, opts.trackId, opts.codec);
  }

  /** Pipes readable through SFrame encryption or decryption into writable.
   * The promise settles when the pipe ends. */
  setupTransform(
    kind: 'encode' | 'decode',
    readable: ReadableStream<unknown>,
    writable: WritableStream<unknown>,
    trackId: string,
    codec: VideoCodecName | undefined,
  ): Promise<void> {
    if (codec) this.trackCodecs.set(trackId, codec);
    if (kind === 'encode') {
      const transform = new TransformStream<unknown, unknown>({
        transform: async (chunk, controller) => {
          const out = await this.encode(chunk as EncodedFrame, trackId);
          if (out) controller.enqueue(out);
        },
      });
      // The pipe ends when the track's streams close; nothing to clean up.
      return readable.pipeThrough(transform).pipeTo(writable).catch(() => undefined);
    }
    const t: DecodeTrack = { trackId, held: [], chain: Promise.resolve(), controller: undefined, open: true };
    this.decoding.add(t);
    const transform = new TransformStream<unknown, unknown>({
      start: (controller) => {
        t.controller = controller;
      },
      // The stream calls transform for the next frame only once this one's
      // promise settled, and a retry after a key arrival runs between two
      // frames (serial), so frames leave in the order they came.
      transform: (chunk) => this.serial(t, () => this.decodeFrame(t, chunk as EncodedFrame)),
      flush: () => this.serial(t, () => this.endTrack(t)),
    });
    return readable
      .pipeThrough(transform)
      .pipeTo(writable)
      .catch(() => undefined)
      .then(() => this.serial(t, () => this.endTrack(t)));
  }

  private setSender(sender: Sender | undefined): void {
    this.sender = sender;
    this.stats.senderKid = sender?.kid.toString() ?? '';
  }

  private queueKeyChange(f: () => Promise<void>): Promise<void> {
    this.keyQueue = this.keyQueue.then(f).catch(() => undefined);
    return this.keyQueue;
  }

  private codecOf(frame: EncodedFrame, trackId: string, useRtpMap: boolean): Codec {
    const md = frame.getMetadata();
    const fromMime = codecFromMimeType(md.mimeType);
    if (fromMime) return fromMime;
    if (frame.type === undefined) return 'opus'; // an audio frame
    const pt = md.payloadType;
    const name = (useRtpMap && pt !== undefined ? this.rtpMap.get(pt) : undefined) ?? this.trackCodecs.get(trackId) ?? 'vp8';
    return name === 'vp8' ? 'vp8' : name === 'h264' ? 'h264' : 'other';
  }

  private async encode(frame: EncodedFrame, trackId: string): Promise<EncodedFrame | undefined> {
    const data = new Uint8Array(frame.data);
    if (data.length === 0) return frame; // nothing to protect
    const sender = this.sender;
    if (!sender) {
      this.stats.encryptDroppedNoKey++;
      return undefined;
    }
    try {
      frame.data = (await encryptFrame(sender, this.codecOf(frame, trackId, true), data)).buffer;
      this.stats.encrypted++;
      return frame;
    } catch {
      this.stats.encryptDroppedError++;
      return undefined;
    }
  }

  /** Runs f after the track's pending work; never rejects. */
  private serial(t: DecodeTrack, f: () => Promise<void> | void): Promise<void> {
    const p = t.chain.then(f).catch(() => undefined);
    t.chain = p;
    return p;
  }

  /** Passes a frame on to the decoder, unless the track's stream ended. */
  private emit(t: DecodeTrack, frame: EncodedFrame): void {
    if (!t.open || t.controller === undefined) return;
    try {
      t.controller.enqueue(frame);
    } catch {
      // The readable side was cancelled or errored: the track is gone.
      t.open = false;
    }
  }

  /** Decrypts one received frame of t and passes it on, or holds it until
   * its key comes; the frames held before it are retried first. */
  private async decodeFrame(t: DecodeTrack, frame: EncodedFrame): Promise<void> {
    // An empty frame carries nothing to decrypt or to decode (the encoder
    // side passes them through too); pass it on so the pipeline stays in
    // step. Overtaking held frames reorders nothing the decoder reads.
    if (frame.data.byteLength === 0) {
      this.emit(t, frame);
      return;
    }
    await this.drainHeld(t);
    const r = await this.tryOpen(frame, t.trackId);
    if (r === 'noKeyYet') {
      this.hold(t, frame);
      return;
    }
    if (r === 'decrypted') {
      // The sender moved on to a key this member holds: the keys of the
      // frames still held will not come.
      this.stats.heldDropped += t.held.length;
      t.held.length = 0;
      this.emit(t, frame);
    }
  }

  /** Queues a frame whose key is unknown; a full queue drops its oldest. */
  private hold(t: DecodeTrack, frame: EncodedFrame): void {
    this.stats.held++;
    if (t.held.length >= MAX_HELD_FRAMES) {
      t.held.shift();
      this.stats.heldDropped++;
    }
    t.held.push({ frame, at: this.now() });
  }

  /** Decrypts t's held frames, oldest first, and passes them on, until one
   * still has no key and is younger than MAX_HOLD_MS; older ones are
   * dropped. Runs in t's chain. */
  private async drainHeld(t: DecodeTrack): Promise<void> {
    for (let h = t.held[0]; h !== undefined; h = t.held[0]) {
      const r = await this.tryOpen(h.frame, t.trackId);
      if (r === 'noKeyYet') {
        if (this.now() - h.at < MAX_HOLD_MS) return;
        this.stats.heldDropped++;
      } else if (r === 'decrypted') {
        this.emit(t, h.frame);
      }
      t.held.shift();
    }
  }

  /** The track's stream ended: its held frames will never be passed on. */
  private endTrack(t: DecodeTrack): void {
    this.stats.heldDropped += t.held.length;
    t.held.length = 0;
    t.open = false;
    this.decoding.delete(t);
  }

  /** Decrypts frame in place. A frame whose key this member does not hold
   * (yet) is 'noKeyYet' and left as it was; other failures are counted. */
  private async tryOpen(frame: EncodedFrame, trackId: string): Promise<Opened> {
    const receiver = this.receiver;
    // No epoch yet: a joiner's first keys may still be on their way.
    if (!receiver) return 'noKeyYet';
    receiver.expire(this.now());
    try {
      frame.data = (await decryptFrame(receiver, this.codecOf(frame, trackId, false), new Uint8Array(frame.data))).buffer;
      this.stats.decrypted++;
      return 'decrypted';
    } catch (e) {
      if (e instanceof SFrameError && e.reason === 'unknownKey') return 'noKeyYet';
      this.stats.decryptDropped[dropReason(e)]++;
      return 'dropped';
    }
  }
}

function dropReason(e: unknown): DropReason {
  if (!(e instanceof SFrameError)) return 'other';
  switch (e.reason) {
    case 'auth':
      return 'auth';
    case 'replay':
      return 'replay';
    case 'counterRange':
      return 'counterRange';
    case 'malformedHeader':
    case 'shortFrame':
      return 'malformed';
    default:
      return 'other';
  }
}
