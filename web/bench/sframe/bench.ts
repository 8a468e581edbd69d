// The browser SFrame benchmark (DESIGN.md "Benchmarks": SFrame MB/s in the
// browser worker against raw AES-GCM on the same machine). It runs in a
// dedicated Worker, as the production SFrame worker does, and times the
// worker's own frame functions (encryptFrame, decryptFrame) one frame at a
// time, awaiting each as the worker's transform stream does, against bare
// WebCrypto AES-128-GCM seal and open of the same sizes. Before timing,
// every size is checked: the frames decrypt to what was encrypted, and a
// tampered frame is refused. Results are posted to the page as BenchResult.
// web/bench/sframe/run.mjs builds, serves and drives it.

import { type Codec, decryptFrame, encryptFrame } from '../../src/e2ee/codec';
import { type Bytes, CipherSuite, DEFAULT_KID_LAYOUT, MlsReceiver, Sender, importBaseKey, mlsKid } from '../../src/e2ee/sframe';

export interface BenchRow {
  op: 'sframe encrypt' | 'sframe decrypt' | 'aes-gcm seal' | 'aes-gcm open';
  codec: Codec;
  bytes: number;
  frames: number;
  /** Best of the rounds. */
  mbPerSecond: number;
  usPerFrame: number;
}

export interface BenchResult {
  userAgent: string;
  rounds: number;
  rows: BenchRow[];
  error?: string;
}

interface Size {
  codec: Codec;
  bytes: number;
}

// An Opus frame, and video frames from a small delta to a large keyframe.
const SIZES: Size[] = [
  { codec: 'opus', bytes: 100 },
  { codec: 'vp8', bytes: 1_000 },
  { codec: 'vp8', bytes: 10_000 },
  { codec: 'vp8', bytes: 100_000 },
];

const scope = self as unknown as { postMessage(m: BenchResult): void; onmessage: ((e: MessageEvent<{ quick: boolean }>) => void) | null };

function frame(bytes: number, seed: number): Bytes {
  const f = new Uint8Array(bytes);
  crypto.getRandomValues(f.subarray(0, Math.min(bytes, 65536)));
  f[0] = 0x11; // VP8 frame tag with the inverse keyframe bit set: an inter frame, one clear byte
  f[bytes - 1] = seed & 0xff;
  return f;
}

function equal(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

/** Times fn over every frame in order, one awaited at a time; returns ms. */
async function timeEach<T>(items: T[], fn: (x: T, i: number) => Promise<unknown>): Promise<number> {
  const t0 = performance.now();
  for (let i = 0; i < items.length; i++) await fn(items[i] as T, i);
  return performance.now() - t0;
}

async function run(quick: boolean): Promise<BenchResult> {
  const rounds = quick ? 1 : 3;
  const baseKey = await importBaseKey(crypto.getRandomValues(new Uint8Array(16)));
  const aesKey = await crypto.subtle.importKey('raw', crypto.getRandomValues(new Uint8Array(16)), 'AES-GCM', false, ['encrypt', 'decrypt']);
  const rows: BenchRow[] = [];
  let epoch = 0n;
  let nonces = 0; // bare GCM nonces used so far: none is used twice under aesKey
  for (const size of SIZES) {
    // About 20 MB per round (5 MB quick), 100 to 5000 frames.
    const n = Math.max(quick ? 20 : 100, Math.min(quick ? 500 : 5000, Math.floor((quick ? 5e6 : 2e7) / size.bytes)));
    const plain = Array.from({ length: n }, (_, i) => frame(size.bytes, i));
    const best: Record<BenchRow['op'], number> = { 'sframe encrypt': Infinity, 'sframe decrypt': Infinity, 'aes-gcm seal': Infinity, 'aes-gcm open': Infinity };
    for (let r = 0; r < rounds; r++) {
      // A fresh epoch per round: a receiver refuses a replayed counter.
      epoch++;
      const sender = await Sender.create(CipherSuite.AES_128_GCM_SHA256_128, mlsKid(DEFAULT_KID_LAYOUT, 0n, 1, epoch), baseKey);
      const receiver = new MlsReceiver(CipherSuite.AES_128_GCM_SHA256_128, DEFAULT_KID_LAYOUT, 10_000, { maxKeys: 16 });
      receiver.addEpoch(epoch, baseKey, performance.now());
      const wire: Bytes[] = new Array<Bytes>(n);
      best['sframe encrypt'] = Math.min(best['sframe encrypt'], await timeEach(plain, async (p, i) => (wire[i] = await encryptFrame(sender, size.codec, p))));
      if (r === 0) {
        const w0 = wire[0] as Bytes;
        const bad = w0.slice();
        bad[bad.length - 1] = (bad[bad.length - 1] ?? 0) ^ 1;
        const refused = await decryptFrame(receiver, size.codec, bad).then(
          () => false,
          () => true,
        );
        if (!refused) throw new Error(`a tampered ${size.bytes}-byte frame was accepted`);
      }
      const opened: Bytes[] = new Array<Bytes>(n);
      best['sframe decrypt'] = Math.min(best['sframe decrypt'], await timeEach(wire, async (w, i) => (opened[i] = await decryptFrame(receiver, size.codec, w))));
      for (let i = 0; i < n; i++) {
        if (!equal(opened[i] as Bytes, plain[i] as Bytes)) throw new Error(`${size.bytes}-byte frame ${i} did not decrypt to its plaintext`);
      }
      const first = nonces;
      nonces += n;
      const iv = (i: number): Bytes => {
        const v = new Uint8Array(12);
        new DataView(v.buffer).setUint32(8, first + i);
        return v;
      };
      const sealed: Bytes[] = new Array<Bytes>(n);
      best['aes-gcm seal'] = Math.min(
        best['aes-gcm seal'],
        await timeEach(plain, async (p, i) => (sealed[i] = new Uint8Array(await crypto.subtle.encrypt({ name: 'AES-GCM', iv: iv(i) }, aesKey, p)))),
      );
      best['aes-gcm open'] = Math.min(
        best['aes-gcm open'],
        await timeEach(sealed, (s, i) => crypto.subtle.decrypt({ name: 'AES-GCM', iv: iv(i) }, aesKey, s)),
      );
    }
    for (const op of Object.keys(best) as BenchRow['op'][]) {
      const ms = best[op];
      rows.push({ op, codec: size.codec, bytes: size.bytes, frames: n, mbPerSecond: (n * size.bytes) / 1e6 / (ms / 1e3), usPerFrame: (ms * 1e3) / n });
    }
  }
  return { userAgent: navigator.userAgent, rounds, rows };
}

scope.onmessage = (e) => {
  run(e.data.quick).then(
    (res) => scope.postMessage(res),
    (err: unknown) => scope.postMessage({ userAgent: navigator.userAgent, rounds: 0, rows: [], error: String(err) }),
  );
};
