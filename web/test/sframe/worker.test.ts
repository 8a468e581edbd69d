// SFrameWorker under Node: frames stay in order, undecryptable frames are
// dropped and counted (never passed on), frames that come before their key
// wait for it, nothing leaves without a key, and livekit-client's
// init/enable handshake is answered.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { FrameStats, StatsMessage } from '../../src/e2ee/messages';
import { type EncodedFrame, MAX_HELD_FRAMES, MAX_HOLD_MS, SFrameWorker } from '../../src/e2ee/sframeworker';
import { importBaseKey } from '../../src/e2ee/sframe';

class FakeFrame implements EncodedFrame {
  constructor(
    public data: ArrayBuffer,
    readonly type: string | undefined,
    private readonly mime: string,
  ) {}
  getMetadata() {
    return { mimeType: this.mime };
  }
}

function vp8(seq: number, key: boolean): FakeFrame {
  const b = new Uint8Array(40).fill(seq);
  b[0] = key ? 0x50 : 0x31;
  return new FakeFrame(b.buffer, key ? 'key' : 'delta', 'video/VP8');
}

function opus(seq: number): FakeFrame {
  const b = new Uint8Array(20).fill(seq);
  b[0] = 0x78;
  return new FakeFrame(b.buffer, undefined, 'audio/opus');
}

/** Runs frames through one worker transform and collects what comes out. */
async function pipe(w: SFrameWorker, kind: 'encode' | 'decode', frames: FakeFrame[]): Promise<FakeFrame[]> {
  const out: FakeFrame[] = [];
  const readable = new ReadableStream<unknown>({
    start(c) {
      frames.forEach((f) => c.enqueue(f));
      c.close();
    },
  });
  const writable = new WritableStream<unknown>({ write: (f) => void out.push(f as FakeFrame) });
  await w.setupTransform(kind, readable, writable, `track-${kind}`, 'vp8');
  return out;
}

function newWorker(): { w: SFrameWorker; posted: unknown[] } {
  const posted: unknown[] = [];
  let now = 0;
  return { w: new SFrameWorker((m) => posted.push(m), () => (now += 1)), posted };
}

async function stats(w: SFrameWorker, posted: unknown[]) {
  await w.handle({ kind: 'conclave:getStats', id: 7 });
  const m = posted.at(-1) as StatsMessage;
  assert.equal(m.kind, 'conclave:stats');
  assert.equal(m.id, 7);
  return m.stats;
}


test('livekit handshake: initAck and enable echo', async () => {
  const { w, posted } = newWorker();
  await w.handle({ kind: 'init', data: { keyProviderOptions: {}, loglevel: 'info' } });
  assert.deepEqual(posted[0], { kind: 'initAck', data: { enabled: false } });
  const enable = { kind: 'enable', data: { participantIdentity: 'P_1', enabled: true } };
  await w.handle(enable);
  assert.deepEqual(posted[1], enable);
  await w.handle({ kind: 'decryptDataRequest', data: { uuid: 'u1' } });
  assert.equal((posted[2] as { kind: string }).kind, 'error');
  await w.handle('not an object');
  await w.handle({ kind: 'setKey', data: {} });
  assert.equal(posted.length, 3);
});

test('no key: outgoing frames are dropped, never sent in the clear', async () => {
  const { w, posted } = newWorker();
  const out = await pipe(w, 'encode', [vp8(1, true), opus(2)]);
  assert.equal(out.length, 0);
  assert.equal((await stats(w, posted)).encryptDroppedNoKey, 2);
});

test('round trip keeps order; bad frames are dropped and counted', async () => {
  const alice = newWorker();
  const bob = newWorker();
  const base = await importBaseKey(new Uint8Array(16).fill(3));
  await alice.w.handle({ kind: 'conclave:setEpoch', epoch: 1n, baseKey: base, leafIndex: 0 });
  await bob.w.handle({ kind: 'conclave:setEpoch', epoch: 1n, baseKey: base, leafIndex: 1 });

  const plain = [vp8(1, true), opus(2), vp8(3, false), opus(4), vp8(5, false)];
  const originals = plain.map((f) => new Uint8Array(f.data.slice(0)));
  const wire = await pipe(alice.w, 'encode', plain);
  assert.equal(wire.length, 5);
  wire.forEach((f, i) => {
    const b = new Uint8Array(f.data);
    const o = originals[i]!;
    assert.equal(b[0], o[0], 'first byte stays clear');
    assert.notDeepEqual(b.subarray(10, 20), o.subarray(10, 20), 'payload is encrypted');
  });

  // Tamper with frame 2, replay frame 0, and add garbage.
  const copies = wire.map((f) => new FakeFrame(f.data.slice(0), f.type, f.getMetadata().mimeType));
  const tampered = new Uint8Array(copies[2]!.data);
  tampered[tampered.length - 1] = (tampered[tampered.length - 1] ?? 0) ^ 1;
  const garbage = new FakeFrame(new Uint8Array([0x31, 0xff, 0xff]).buffer, 'delta', 'video/VP8');
  const replay = new FakeFrame(wire[0]!.data.slice(0), 'key', 'video/VP8');
  const got = await pipe(bob.w, 'decode', [copies[0]!, copies[1]!, copies[2]!, garbage, copies[3]!, replay, copies[4]!]);
  assert.deepEqual(
    got.map((f) => Array.from(new Uint8Array(f.data))),
    [0, 1, 3, 4].map((i) => Array.from(originals[i]!)),
    'good frames come out decrypted, in order; bad ones not at all',
  );
  const s = await stats(bob.w, bob.posted);
  assert.equal(s.decrypted, 4);
  assert.equal(s.decryptDropped.auth, 1);
  assert.equal(s.decryptDropped.malformed, 1);
  assert.equal(s.decryptDropped.replay, 1);
});

test('MLS epochs: new epoch keys the sender, old epoch decrypts during grace', async () => {
  const alice = newWorker();
  const bob = newWorker();
  const k1 = await importBaseKey(new Uint8Array(16).fill(1));
  const k2 = await importBaseKey(new Uint8Array(16).fill(2));
  await alice.w.handle({ kind: 'conclave:setEpoch', epoch: 1n, baseKey: k1, leafIndex: 3, graceMs: 1000 });
  const e1 = await pipe(alice.w, 'encode', [vp8(1, true)]);
  await alice.w.handle({ kind: 'conclave:setEpoch', epoch: 2n, baseKey: k2, leafIndex: 3, graceMs: 1000 });
  const e2 = await pipe(alice.w, 'encode', [vp8(2, false)]);
  assert.equal((await stats(alice.w, alice.posted)).senderKid, String((3n << 4n) | 2n));

  await bob.w.handle({ kind: 'conclave:setEpoch', epoch: 1n, baseKey: k1, leafIndex: 5, graceMs: 1000 });
  await bob.w.handle({ kind: 'conclave:setEpoch', epoch: 2n, baseKey: k2, leafIndex: 5, graceMs: 1000 });
  const got = await pipe(bob.w, 'decode', [...e2, ...e1]);
  assert.equal(got.length, 2);
});

test('receive-only epoch: decrypts but never encrypts until the same epoch allows sending', async () => {
  const alice = newWorker();
  const joiner = newWorker();
  const k = await importBaseKey(new Uint8Array(16).fill(9));
  await alice.w.handle({ kind: 'conclave:setEpoch', epoch: 4n, baseKey: k, leafIndex: 0 });
  await joiner.w.handle({ kind: 'conclave:setEpoch', epoch: 4n, baseKey: k, leafIndex: 1, send: false });
  assert.equal((await pipe(joiner.w, 'encode', [vp8(1, true)])).length, 0, 'nothing sent before sending is allowed');
  let s = await stats(joiner.w, joiner.posted);
  assert.equal(s.encryptDroppedNoKey, 1);
  assert.equal(s.senderKid, '');
  assert.equal((await pipe(joiner.w, 'decode', await pipe(alice.w, 'encode', [vp8(2, true)]))).length, 1, 'receives meanwhile');
  // Attested: the same epoch again, now sending; the receiver keeps working.
  await joiner.w.handle({ kind: 'conclave:setEpoch', epoch: 4n, baseKey: k, leafIndex: 1 });
  const sent = await pipe(joiner.w, 'encode', [vp8(3, true)]);
  assert.equal(sent.length, 1);
  assert.equal((await pipe(alice.w, 'decode', sent)).length, 1);
  assert.equal((await pipe(joiner.w, 'decode', await pipe(alice.w, 'encode', [vp8(4, false)]))).length, 1);
  // Removed from the group: sending stops.
  await joiner.w.handle({ kind: 'conclave:stopSending' });
  assert.equal((await pipe(joiner.w, 'encode', [vp8(5, false)])).length, 0);
  s = await stats(joiner.w, joiner.posted);
  assert.equal(s.senderKid, '');
  assert.equal(s.encryptDroppedNoKey, 2);
});

// ---- Frames before their key (sframeworker.ts, "Frames before their key")

/** A decode transform fed one frame at a time, with a clock the test moves. */
class LiveDecode {
  readonly out: FakeFrame[] = [];
  private input: ReadableStreamDefaultController<unknown> | undefined;
  readonly done: Promise<void>;
  clock = 0;
  readonly posted: unknown[] = [];
  readonly w = new SFrameWorker(
    (m) => this.posted.push(m),
    () => this.clock,
  );

  constructor() {
    const readable = new ReadableStream<unknown>({ start: (c) => void (this.input = c) });
    const writable = new WritableStream<unknown>({ write: (f) => void this.out.push(f as FakeFrame) });
    this.done = this.w.setupTransform('decode', readable, writable, 'track-live', 'vp8');
  }

  push(...frames: FakeFrame[]): void {
    for (const f of frames) this.input?.enqueue(f);
  }

  end(): Promise<void> {
    this.input?.close();
    return this.done;
  }

  /** Waits until the worker has taken every pushed frame: decrypted, held or dropped. */
  async settle(pushed: number): Promise<FrameStats> {
    let s = await stats(this.w, this.posted);
    const deadline = Date.now() + 5000;
    // Each frame is decrypted, held or dropped once when it comes (before
    // any held frame is released, which this is called before).
    const seen = (x: FrameStats) => x.decrypted + x.held + Object.values(x.decryptDropped).reduce((a, b) => a + b, 0);
    while (seen(s) < pushed) {
      if (Date.now() > deadline) assert.fail(`worker took ${seen(s)} of ${pushed} frames: ${JSON.stringify(s)}`);
      await new Promise((r) => setTimeout(r, 2));
      s = await stats(this.w, this.posted);
    }
    return s;
  }

  /** Waits until n frames came out. */
  async waitOut(n: number): Promise<void> {
    const deadline = Date.now() + 5000;
    while (this.out.length < n) {
      if (Date.now() > deadline) assert.fail(`${this.out.length} frames out, want ${n}`);
      await new Promise((r) => setTimeout(r, 2));
    }
  }

  /** The first byte after the clear prefix of each frame out: its sequence number. */
  seqs(): number[] {
    return this.out.map((f) => new Uint8Array(f.data)[VP8_DELTA_CLEAR] ?? -1);
  }
}

const VP8_DELTA_CLEAR = 1;

/** A sender at one epoch: a worker keyed with that epoch's base key. */
async function senderAt(epoch: bigint, key: CryptoKey): Promise<SFrameWorker> {
  const w = new SFrameWorker(() => undefined, () => 0);
  await w.handle({ kind: 'conclave:setEpoch', epoch, baseKey: key, leafIndex: 2 });
  return w;
}

test('frames before their key: held in order, released when the key arrives, not failures', async () => {
  const k1 = await importBaseKey(new Uint8Array(16).fill(0x11));
  const k2 = await importBaseKey(new Uint8Array(16).fill(0x22));
  const s1 = await senderAt(1n, k1);
  const s2 = await senderAt(2n, k2);
  const rx = new LiveDecode();
  await rx.w.handle({ kind: 'conclave:setEpoch', epoch: 1n, baseKey: k1, leafIndex: 5 });

  // Epoch 1 flows; then the sender's first epoch-2 frames overtake the commit.
  rx.push(...(await pipe(s1, 'encode', [vp8(1, true), vp8(2, false)])));
  rx.push(...(await pipe(s2, 'encode', [vp8(3, false), vp8(4, false), vp8(5, false)])));
  let s = await rx.settle(5);
  assert.deepEqual(rx.seqs(), [1, 2], 'only epoch 1 is out while epoch 2 has no key');
  assert.equal(s.held, 3);

  // The commit is processed: the held frames come out at once, in order,
  // without waiting for the track's next frame.
  rx.clock += 100;
  await rx.w.handle({ kind: 'conclave:setEpoch', epoch: 2n, baseKey: k2, leafIndex: 5 });
  await rx.waitOut(5);
  rx.push(...(await pipe(s2, 'encode', [vp8(6, false)])));
  await rx.waitOut(6);
  await rx.end();
  assert.deepEqual(rx.seqs(), [1, 2, 3, 4, 5, 6]);
  s = await stats(rx.w, rx.posted);
  assert.equal(s.decrypted, 6);
  assert.equal(s.held, 3);
  assert.equal(s.heldDropped, 0);
  assert.deepEqual(s.decryptDropped, { auth: 0, replay: 0, counterRange: 0, malformed: 0, other: 0 });
});

test('frames before their key: dropped after the limits, counted apart from failures', async (t) => {
  const k1 = await importBaseKey(new Uint8Array(16).fill(0x31));
  const k3 = await importBaseKey(new Uint8Array(16).fill(0x33));
  const cases: {
    name: string;
    run: (rx: LiveDecode, s1: SFrameWorker, s3: SFrameWorker) => Promise<void>;
    seqs: number[];
    held: number;
    heldDropped: number;
    auth: number;
  }[] = [
    {
      name: 'key never comes: too old at the next frame',
      run: async (rx, s1, s3) => {
        rx.push(...(await pipe(s3, 'encode', [vp8(1, false), vp8(2, false)])));
        await rx.settle(2);
        rx.clock += MAX_HOLD_MS;
        rx.push(...(await pipe(s3, 'encode', [vp8(3, false)])));
        await rx.settle(3);
        rx.push(...(await pipe(s1, 'encode', [vp8(4, false)])));
      },
      // Frames 1 and 2 expire; 3 is young, then dropped when 4 decrypts.
      seqs: [4],
      held: 3,
      heldDropped: 3,
      auth: 0,
    },
    {
      name: 'a later frame that decrypts drops the older held ones',
      run: async (rx, s1, s3) => {
        rx.push(...(await pipe(s3, 'encode', [vp8(1, false), vp8(2, false)])));
        rx.push(...(await pipe(s1, 'encode', [vp8(3, false), vp8(4, false)])));
      },
      seqs: [3, 4],
      held: 2,
      heldDropped: 2,
      auth: 0,
    },
    {
      name: 'a full queue drops its oldest',
      run: async (rx, _s1, s3) => {
        const seqs = Array.from({ length: MAX_HELD_FRAMES + 6 }, (_, i) => i + 1);
        rx.push(...(await pipe(s3, 'encode', seqs.map((i) => vp8(i, false)))));
        await rx.settle(seqs.length);
        await rx.w.handle({ kind: 'conclave:setEpoch', epoch: 3n, baseKey: k3, leafIndex: 5 });
      },
      seqs: Array.from({ length: MAX_HELD_FRAMES }, (_, i) => i + 7),
      held: MAX_HELD_FRAMES + 6,
      heldDropped: 6,
      auth: 0,
    },
    {
      name: 'a forged frame behind held ones fails authentication',
      run: async (rx, _s1, s3) => {
        const wire = await pipe(s3, 'encode', [vp8(1, false), vp8(2, false), vp8(3, false)]);
        const forged = new Uint8Array(wire[1]!.data);
        forged[forged.length - 1] = (forged[forged.length - 1] ?? 0) ^ 1;
        rx.push(...wire);
        await rx.settle(3);
        await rx.w.handle({ kind: 'conclave:setEpoch', epoch: 3n, baseKey: k3, leafIndex: 5 });
      },
      seqs: [1, 3],
      held: 3,
      heldDropped: 0,
      auth: 1,
    },
    {
      name: 'the track ends with frames still held',
      run: async (rx, _s1, s3) => {
        rx.push(...(await pipe(s3, 'encode', [vp8(1, false), vp8(2, false)])));
        await rx.settle(2);
      },
      seqs: [],
      held: 2,
      heldDropped: 2,
      auth: 0,
    },
  ];
  for (const c of cases) {
    await t.test(c.name, async () => {
      const s1 = await senderAt(1n, k1);
      const s3 = await senderAt(3n, k3);
      const rx = new LiveDecode();
      await rx.w.handle({ kind: 'conclave:setEpoch', epoch: 1n, baseKey: k1, leafIndex: 5 });
      await c.run(rx, s1, s3);
      await rx.waitOut(c.seqs.length);
      await rx.end();
      assert.deepEqual(rx.seqs(), c.seqs);
      const s = await stats(rx.w, rx.posted);
      assert.equal(s.held, c.held, 'held');
      assert.equal(s.heldDropped, c.heldDropped, 'heldDropped');
      assert.equal(s.decryptDropped.auth, c.auth, 'auth failures');
      assert.equal(s.decrypted, c.seqs.length, 'decrypted');
    });
  }
});

test('frames before the first key: a joiner holds them until its first epoch', async () => {
  const k = await importBaseKey(new Uint8Array(16).fill(0x44));
  const s = await senderAt(7n, k);
  const rx = new LiveDecode();
  rx.push(...(await pipe(s, 'encode', [vp8(1, true), vp8(2, false)])));
  await rx.settle(2);
  assert.equal(rx.out.length, 0);
  await rx.w.handle({ kind: 'conclave:setEpoch', epoch: 7n, baseKey: k, leafIndex: 1, send: false });
  await rx.waitOut(2);
  await rx.end();
  assert.deepEqual(rx.seqs(), [1, 2]);
  const st = await stats(rx.w, rx.posted);
  assert.equal(st.held, 2);
  assert.equal(st.heldDropped, 0);
});

test('frames before their key: a key that arrives while frames keep coming keeps their order', async () => {
  const k1 = await importBaseKey(new Uint8Array(16).fill(0x51));
  const k2 = await importBaseKey(new Uint8Array(16).fill(0x52));
  const s2 = await senderAt(2n, k2);
  const rx = new LiveDecode();
  await rx.w.handle({ kind: 'conclave:setEpoch', epoch: 1n, baseKey: k1, leafIndex: 5 });
  const wire = await pipe(
    s2,
    'encode',
    Array.from({ length: 40 }, (_, i) => vp8(i + 1, i === 0)),
  );
  rx.push(...wire.slice(0, 25));
  await rx.settle(25);
  // The next frames come while the held ones are being decrypted: they
  // must wait for them, and none may be decrypted twice.
  await rx.w.handle({ kind: 'conclave:setEpoch', epoch: 2n, baseKey: k2, leafIndex: 5 });
  rx.push(...wire.slice(25));
  await rx.waitOut(40);
  await rx.end();
  assert.deepEqual(rx.seqs(), Array.from({ length: 40 }, (_, i) => i + 1));
  const s = await stats(rx.w, rx.posted);
  assert.equal(s.decrypted, 40);
  assert.equal(s.heldDropped, 0);
});
