// The SFrame encoded-transform worker's logic, free of worker globals so it
// can be tested under Node. worker.ts binds it to the worker scope.
//
// It speaks livekit-client 2.23's E2EEManager protocol (init, enable,
// encode/decode with transferred streams for the createEncodedStreams path,
// and RTCRtpScriptTransform options via onRTCTransform) but frames media with
// SFrame (RFC 9605), not livekit's own format. Keys arrive only through
// Conclave's 'conclave:*' messages. Outgoing frames are never sent in the
// clear: without a key they are dropped. Incoming frames that do not decrypt
// are dropped and counted, never passed to the decoder. Each track's frames
// pass through one TransformStream, which keeps them in order.

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

const dropReasons: readonly DropReason[] = ['noKey', 'unknownKey', 'auth', 'replay', 'counterRange', 'malformed', 'other'];

export class SFrameWorker {
  private sender: Sender | undefined;
  private receiver: MlsReceiver | undefined;
  private readonly trackCodecs = new Map<string, VideoCodecName | undefined>();
  private rtpMap = new Map<number, VideoCodecName>();
  private keyQueue: Promise<void> = Promise.resolve();
  private readonly stats: FrameStats = {
    encrypted: 0,
    decrypted: 0,
    encryptDroppedNoKey: 0,
    encryptDroppedError: 0,
    decryptDropped: Object.fromEntries(dropReasons.map((r) => [r, 0])) as Record<DropReason, number>,
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

  /** Pipes readable through SFrame encryption or decryption into writable. */
  setupTransform(
    kind: 'encode' | 'decode',
    readable: ReadableStream<unknown>,
    writable: WritableStream<unknown>,
    trackId: string,
    codec: VideoCodecName | undefined,
  ): Promise<void> {
    if (codec) this.trackCodecs.set(trackId, codec);
    const transform = new TransformStream<unknown, unknown>({
      transform: async (chunk, controller) => {
        const frame = chunk as EncodedFrame;
        const out = kind === 'encode' ? await this.encode(frame, trackId) : await this.decode(frame, trackId);
        if (out) controller.enqueue(out);
      },
    });
    // The pipe ends when the track's streams close; nothing to clean up.
    return readable.pipeThrough(transform).pipeTo(writable).catch(() => undefined);
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

  private async decode(frame: EncodedFrame, trackId: string): Promise<EncodedFrame | undefined> {
    const data = new Uint8Array(frame.data);
    // An empty frame carries nothing to decrypt or to decode (the encoder
    // side passes them through too); pass it on so the pipeline stays in step.
    if (data.length === 0) return frame;
    const receiver = this.receiver;
    if (!receiver) {
      this.stats.decryptDropped.noKey++;
      return undefined;
    }
    receiver.expire(this.now());
    try {
      frame.data = (await decryptFrame(receiver, this.codecOf(frame, trackId, false), data)).buffer;
      this.stats.decrypted++;
      return frame;
    } catch (e) {
      this.stats.decryptDropped[dropReason(e)]++;
      return undefined;
    }
  }
}

function dropReason(e: unknown): DropReason {
  if (!(e instanceof SFrameError)) return 'other';
  switch (e.reason) {
    case 'unknownKey':
      return 'unknownKey';
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
