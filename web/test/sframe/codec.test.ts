import assert from 'node:assert/strict';
import { test } from 'node:test';
import { clearPrefixLen, decryptFrame, encryptFrame, escapeH264, unescapeH264 } from '../../src/e2ee/codec';
import { MlsReceiver, Receiver, SFrameError, Sender, importBaseKey, mlsBaseKey, mlsKid, splitKid } from '../../src/e2ee/sframe';

const isReason = (r: string) => (e: unknown) => e instanceof SFrameError && e.reason === r;

test('clear prefix lengths match Go', () => {
  const cases: [Parameters<typeof clearPrefixLen>[0], number[], number][] = [
    ['vp8', [0x50, 0x2d, 0x01, 0x9d, 0x01, 0x2a, 0x80, 0x02, 0xe0, 0x01, 9], 10],
    ['vp8', [0x31, 4, 0], 1],
    ['opus', [0x78, 1], 1],
    ['h264', [0, 0, 0, 1, 0x67, 1, 2, 0, 0, 0, 1, 0x65, 0x88, 0x80, 7], 14],
    ['h264', [0, 0, 1, 0x41, 1, 2, 3], 6],
    ['h264', [0, 0, 0, 1, 0x67, 1, 2], 0],
    ['other', [1, 2, 3], 0],
  ];
  for (const [codec, bytes, want] of cases) assert.equal(clearPrefixLen(codec, new Uint8Array(bytes)), want, `${codec} ${bytes}`);
  assert.throws(() => clearPrefixLen('vp8', new Uint8Array([0x50, 1, 2])), isReason('shortFrame'));
  assert.throws(() => clearPrefixLen('opus', new Uint8Array(0)), isReason('shortFrame'));
});

test('h264 escaping round-trips and removes start codes', () => {
  let seed = 1;
  const rnd = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
  for (let i = 0; i < 500; i++) {
    const src = Uint8Array.from({ length: Math.floor(rnd() * 50) }, () => (rnd() < 0.5 ? 0 : Math.floor(rnd() * 5)));
    const zeros = Math.floor(rnd() * 3);
    const esc = escapeH264(src, zeros);
    const all = [...new Array<number>(zeros).fill(0), ...esc];
    for (let j = 0; j + 2 < all.length; j++) assert.ok(!(all[j] === 0 && all[j + 1] === 0 && (all[j + 2] ?? 9) <= 2), 'start code');
    assert.deepEqual(unescapeH264(esc, zeros), src);
  }
});

test('h264 frame round trip', async () => {
  const base = await importBaseKey(new Uint8Array(16).fill(9));
  const s = await Sender.create(4, 77n, base);
  const r = new Receiver(4);
  await r.addKey(77n, base);
  const frame = new Uint8Array([0, 0, 0, 1, 0x65, 0x88, 0x80, ...new Array<number>(60).fill(0)]);
  const wire = await encryptFrame(s, 'h264', frame);
  assert.equal(clearPrefixLen('h264', wire), 7);
  assert.deepEqual(await decryptFrame(r, 'h264', wire), frame);
});

test('vp8 and opus frames: clear prefix, then the SFrame of the body, and back', async () => {
  const base = await importBaseKey(new Uint8Array(16).fill(3));
  const frames: [Parameters<typeof clearPrefixLen>[0], Uint8Array<ArrayBuffer>][] = [
    ['vp8', Uint8Array.from({ length: 300 }, (_, i) => (i === 0 ? 0x50 : i & 0xff))], // key frame, 10 clear bytes
    ['vp8', Uint8Array.from({ length: 300 }, (_, i) => (i === 0 ? 0x31 : i & 0xff))], // inter frame, 1
    ['opus', Uint8Array.from({ length: 80 }, (_, i) => 0x78 ^ i)],
  ];
  for (const [codec, frame] of frames) {
    const n = clearPrefixLen(codec, frame);
    const before = frame.slice();
    const wire = await encryptFrame(await Sender.createAt(4, 9n, base, 42n), codec, frame);
    // The same counter through Sender.encrypt gives the SFrame part.
    const sframe = await (await Sender.createAt(4, 9n, base, 42n)).encrypt(frame.slice(0, n), frame.slice(n));
    assert.deepEqual(wire, Uint8Array.from([...frame.subarray(0, n), ...sframe]), codec);
    assert.deepEqual(frame, before, `${codec}: the frame was changed`);
    const r = new Receiver(4);
    await r.addKey(9n, base);
    const bad = wire.slice();
    bad[0] = (bad[0] ?? 0) ^ 0x40; // the clear prefix is authenticated
    await assert.rejects(decryptFrame(r, codec, bad), isReason('auth'), codec);
    assert.deepEqual(await decryptFrame(r, codec, wire), frame, codec);
  }
});

test('receiver: unknown key, replay, counter range', async () => {
  const base = await importBaseKey(new Uint8Array(16).fill(1));
  const s = await Sender.create(4, 5n, base);
  const r = new Receiver(4, { maxCounterJump: 10n });
  await assert.rejects(r.decrypt(new Uint8Array(0), await s.encrypt(new Uint8Array(0), new Uint8Array(1))), isReason('unknownKey'));
  await r.addKey(5n, base);
  const f = await s.encrypt(new Uint8Array(0), new Uint8Array(3));
  await r.decrypt(new Uint8Array(0), f);
  await assert.rejects(r.decrypt(new Uint8Array(0), f), isReason('replay'));
  const far = await Sender.createAt(4, 5n, base, 100n);
  await assert.rejects(r.decrypt(new Uint8Array(0), await far.encrypt(new Uint8Array(0), new Uint8Array(1))), isReason('counterRange'));
  await assert.rejects(r.decrypt(new Uint8Array(0), new Uint8Array([0x90])), isReason('malformedHeader'));
});

test('MLS binding: KIDs of RFC 9605 Figure 7, epochs with grace', async () => {
  const l = { epochBits: 4, indexBits: 6 };
  assert.equal(mlsKid(l, 0n, 20, 14n), 0x14en);
  assert.equal(mlsKid(l, 3n, 2, 16n), 0xc20n);
  assert.deepEqual(splitKid(l, 0x331n), { context: 0n, index: 51, epochBits: 1n });
  assert.throws(() => mlsKid(l, 0n, 64, 1n), isReason('badLayout'));

  const exporter = (epoch: number) => async (label: string, _ctx: Uint8Array, n: number) => {
    assert.equal(label, 'SFrame 1.0 Base Key');
    return new Uint8Array(n).fill(epoch);
  };
  const m = new MlsReceiver(4, l, 1000);
  const b1 = await mlsBaseKey(4, exporter(1));
  const b2 = await mlsBaseKey(4, exporter(2));
  m.addEpoch(1n, b1, 0);
  const s1 = await Sender.create(4, mlsKid(l, 0n, 3, 1n), b1);
  const old = await s1.encrypt(new Uint8Array(0), new Uint8Array([1]));
  m.addEpoch(2n, b2, 0);
  assert.deepEqual(await m.decrypt(new Uint8Array(0), old), new Uint8Array([1]));
  m.expire(999);
  assert.deepEqual(m.liveEpochs().sort(), [1n, 2n]);
  m.expire(1000);
  assert.deepEqual(m.liveEpochs(), [2n]);
  const old2 = await s1.encrypt(new Uint8Array(0), new Uint8Array([2]));
  await assert.rejects(m.decrypt(new Uint8Array(0), old2), isReason('unknownKey'));
});
