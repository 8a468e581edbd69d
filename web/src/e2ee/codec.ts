// Clear-prefix rules for media frames, the twin of codec.go in
// conclave/e2ee/sframe. The wire frame is clear prefix || SFrame ciphertext
// and the clear prefix is the SFrame metadata (authenticated). Every clear
// byte is justified in THREAT_MODEL.md, "Clear bytes in media frames".

import { type Bytes, type Receiver, type MlsReceiver, type Sender, SFrameError } from './sframe';

export type Codec = 'vp8' | 'opus' | 'h264' | 'other';

/** RFC 6386 Section 9.1: 3-byte frame tag + 3-byte start code + 4 bytes of size. */
export const VP8_KEY_FRAME_CLEAR_BYTES = 10;
/** RFC 6386 Section 9.1: the first frame-tag byte (its bit 0 says key/inter frame). */
export const VP8_INTER_FRAME_CLEAR_BYTES = 1;
/** RFC 6716 Section 3.1: the TOC byte. */
export const OPUS_CLEAR_BYTES = 1;
/** NAL header of the first coded slice + 2 bytes of its slice header. */
export const H264_SLICE_CLEAR_BYTES = 3;

/** Maps a MIME type ("video/VP8", "audio/opus") to a codec rule. */
export function codecFromMimeType(mime: string | undefined): Codec | undefined {
  switch (mime?.toLowerCase()) {
    case 'video/vp8':
      return 'vp8';
    case 'audio/opus':
      return 'opus';
    case 'video/h264':
      return 'h264';
    case undefined:
      return undefined;
    default:
      return 'other';
  }
}

/** How many leading bytes stay clear. Same answer for a plaintext frame and
 * its wire frame, since only bytes inside the prefix are read. */
export function clearPrefixLen(codec: Codec, frame: Uint8Array): number {
  switch (codec) {
    case 'other':
      return 0;
    case 'vp8': {
      const tag = frame[0];
      if (tag === undefined) throw new SFrameError('shortFrame', 'empty vp8 frame');
      if ((tag & 1) === 0) {
        if (frame.length < VP8_KEY_FRAME_CLEAR_BYTES) throw new SFrameError('shortFrame', 'short vp8 key frame');
        return VP8_KEY_FRAME_CLEAR_BYTES;
      }
      return VP8_INTER_FRAME_CLEAR_BYTES;
    }
    case 'opus':
      if (frame.length === 0) throw new SFrameError('shortFrame', 'empty opus frame');
      return OPUS_CLEAR_BYTES;
    case 'h264':
      return h264ClearLen(frame);
  }
}

// Up to 3 bytes into the first coded slice NAL unit (type 1 or 5) of the
// Annex B stream; 0 if there is none.
function h264ClearLen(frame: Uint8Array): number {
  for (let i = 0; i + 3 <= frame.length; ) {
    if (frame[i] !== 0 || frame[i + 1] !== 0 || frame[i + 2] !== 1) {
      i++;
      continue;
    }
    const nal = i + 3;
    const h = frame[nal];
    if (h !== undefined) {
      const t = h & 0x1f;
      if (t === 1 || t === 5) {
        if (frame.length < nal + H264_SLICE_CLEAR_BYTES) throw new SFrameError('shortFrame', 'short h264 slice');
        return nal + H264_SLICE_CLEAR_BYTES;
      }
    }
    i = nal;
  }
  return 0;
}

function trailingZeros(b: Uint8Array): number {
  let z = 0;
  for (let i = b.length - 1; i >= 0 && b[i] === 0 && z < 2; i--) z++;
  return z;
}

/** Inserts emulation prevention bytes (ITU-T H.264 Section 7.4.1) so the
 * output has no start code; zeros is the count of zero bytes before it. */
export function escapeH264(src: Uint8Array, zeros: number): Bytes {
  const out = new Uint8Array(src.length + Math.floor(src.length / 2) + 2);
  let w = 0;
  for (const b of src) {
    if (zeros >= 2 && b <= 3) {
      out[w++] = 3;
      zeros = 0;
    }
    out[w++] = b;
    zeros = b === 0 ? zeros + 1 : 0;
  }
  if (zeros >= 2) out[w++] = 3;
  return out.slice(0, w);
}

/** Removes emulation prevention bytes (a 3 after two zero bytes). */
export function unescapeH264(src: Uint8Array, zeros: number): Bytes {
  const out = new Uint8Array(src.length);
  let w = 0;
  for (const b of src) {
    if (zeros >= 2 && b === 3) {
      zeros = 0;
      continue;
    }
    out[w++] = b;
    zeros = b === 0 ? zeros + 1 : 0;
  }
  return out.slice(0, w);
}

function concat(a: Uint8Array, b: Uint8Array): Bytes {
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}

/** Encrypts an encoded frame: returns clear prefix || SFrame ciphertext. */
export async function encryptFrame(sender: Sender, codec: Codec, frame: Bytes): Promise<Bytes> {
  const n = clearPrefixLen(codec, frame);
  const prefix = frame.slice(0, n);
  // WebCrypto copies its input when called: a view of the body will do.
  if (codec === 'h264') return concat(prefix, escapeH264(await sender.encrypt(prefix, frame.subarray(n)), trailingZeros(prefix)));
  const out = await sender.encrypt(prefix, frame.subarray(n), n);
  out.set(prefix);
  return out;
}

/** Reverses encryptFrame: returns clear prefix || plaintext. */
export async function decryptFrame(receiver: Receiver | MlsReceiver, codec: Codec, wire: Bytes): Promise<Bytes> {
  const n = clearPrefixLen(codec, wire);
  const prefix = wire.slice(0, n);
  const body = codec === 'h264' ? unescapeH264(wire.subarray(n), trailingZeros(prefix)) : wire.subarray(n);
  return concat(prefix, await receiver.decrypt(prefix, body));
}
