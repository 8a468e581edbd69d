// SFrameWorker under Node: frames stay in order, undecryptable frames are
// dropped and counted (never passed on), nothing leaves without a key, and
// livekit-client's init/enable handshake is answered.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { StatsMessage } from '../../src/e2ee/messages';
import { type EncodedFrame, SFrameWorker } from '../../src/e2ee/sframeworker';
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
