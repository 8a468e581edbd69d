// The browser side of the SFrame interop check, driven by the Go test in
// web/test/sframe/interop. It
//  1. decrypts frames encrypted by Go (one MLS epoch's keys) with the worker's
//     SFrame code, and rejects tampered copies;
//  2. encrypts frames for Go to decrypt;
//  3. sends fake camera and microphone media between RTCPeerConnections in
//     this page through the real SFrame worker (worker.js), on the
//     createEncodedStreams path and the RTCRtpScriptTransform path, and
//     through a receiver with the wrong key, whose decoder must see nothing.
// The outcome goes to window.__result for the driver to read.

import { type Codec, decryptFrame, encryptFrame } from '../../../src/e2ee/codec';
import { type ConclaveE2EE, wrapWorker } from '../../../src/e2ee/manager';
import type { FrameStats } from '../../../src/e2ee/messages';
import { CipherSuite, DEFAULT_KID_LAYOUT, MlsReceiver, Sender, importBaseKey, mlsKid } from '../../../src/e2ee/sframe';

declare global {
  interface Window {
    __result?: unknown;
  }
}

interface GoFrames {
  baseKey: string; // base64url, the epoch's SFrame base key
  epoch: number;
  browserLeaf: number;
  frames: { codec: Codec; plain: string; wire: string }[];
}

interface EncodedStreamsCapable {
  createEncodedStreams(): { readable: ReadableStream<unknown>; writable: WritableStream<unknown> };
}

function b64(s: string): Uint8Array<ArrayBuffer> {
  const bin = atob(s.replace(/-/g, '+').replace(/_/g, '/'));
  return Uint8Array.from(bin, (c) => c.charCodeAt(0));
}

function unb64(b: Uint8Array): string {
  return btoa(String.fromCharCode(...b));
}

function equal(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

async function until(what: string, cond: () => Promise<boolean>, ms: number): Promise<void> {
  const deadline = performance.now() + ms;
  while (!(await cond())) {
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function goToBrowser(g: GoFrames): Promise<{ total: number; ok: number; tamperedRejected: number }> {
  const receiver = new MlsReceiver(CipherSuite.AES_128_GCM_SHA256_128, DEFAULT_KID_LAYOUT, 10_000);
  receiver.addEpoch(BigInt(g.epoch), await importBaseKey(b64(g.baseKey)), performance.now());
  let ok = 0;
  let tamperedRejected = 0;
  for (const f of g.frames) {
    const wire = b64(f.wire);
    const bad = wire.slice();
    bad[bad.length - 1] = (bad[bad.length - 1] ?? 0) ^ 0x01;
    try {
      await decryptFrame(receiver, f.codec, bad);
    } catch {
      tamperedRejected++;
    }
    if (equal(await decryptFrame(receiver, f.codec, wire), b64(f.plain))) ok++;
  }
  return { total: g.frames.length, ok, tamperedRejected };
}

async function browserToGo(g: GoFrames): Promise<unknown> {
  const kid = mlsKid(DEFAULT_KID_LAYOUT, 0n, g.browserLeaf, BigInt(g.epoch));
  const sender = await Sender.create(CipherSuite.AES_128_GCM_SHA256_128, kid, await importBaseKey(b64(g.baseKey)));
  const frames: { codec: Codec; plain: string; wire: string }[] = [];
  for (const f of g.frames) {
    // Fresh plaintext with the same codec prefix as Go's frame.
    const plain = b64(f.plain);
    for (let i = plain.length - 1; i > plain.length / 2; i--) plain[i] = (plain[i] ?? 0) ^ 0x5a;
    frames.push({ codec: f.codec, plain: unb64(plain), wire: unb64(await encryptFrame(sender, f.codec, plain)) });
  }
  const res = await fetch('/browser-frames', { method: 'POST', body: JSON.stringify({ frames }) });
  return res.json();
}

function attachTransform(
  target: RTCRtpSender | RTCRtpReceiver,
  mode: 'streams' | 'script',
  e2ee: ConclaveE2EE,
  kind: 'encode' | 'decode',
  trackId: string,
  identity: string,
): void {
  const worker = e2ee.roomOptions.worker;
  if (mode === 'script') {
    target.transform = new RTCRtpScriptTransform(worker, { kind, participantIdentity: identity, trackId, codec: 'vp8' });
    return;
  }
  const { readable, writable } = (target as unknown as EncodedStreamsCapable).createEncodedStreams();
  worker.postMessage(
    { kind, data: { readableStream: readable, writableStream: writable, trackId, participantIdentity: identity, codec: 'vp8' } },
    [readable, writable],
  );
}

/** Sends stream from alice to a receiver through SFrame workers. */
async function link(stream: MediaStream, mode: 'streams' | 'script', alice: ConclaveE2EE, bob: ConclaveE2EE, name: string) {
  const config = (mode === 'streams' ? { encodedInsertableStreams: true } : {}) as RTCConfiguration;
  const pc1 = new RTCPeerConnection(config);
  const pc2 = new RTCPeerConnection(config);
  pc1.onicecandidate = (e) => void (e.candidate && pc2.addIceCandidate(e.candidate));
  pc2.onicecandidate = (e) => void (e.candidate && pc1.addIceCandidate(e.candidate));
  pc2.ontrack = (e) => attachTransform(e.receiver, mode, bob, 'decode', `${name}-${e.track.kind}`, 'alice');
  for (const track of stream.getTracks()) {
    const tr = pc1.addTransceiver(track, { direction: 'sendonly' });
    if (track.kind === 'video') {
      const vp8 = (RTCRtpSender.getCapabilities('video')?.codecs ?? []).filter((c) => c.mimeType === 'video/VP8');
      tr.setCodecPreferences(vp8);
    }
    attachTransform(tr.sender, mode, alice, 'encode', `${name}-${track.kind}`, 'alice');
  }
  await pc1.setLocalDescription();
  await pc2.setRemoteDescription(pc1.localDescription!);
  await pc2.setLocalDescription();
  await pc1.setRemoteDescription(pc2.localDescription!);
  const inbound = async () => {
    let framesDecoded = 0;
    let audioPackets = 0;
    (await pc2.getStats()).forEach((s: { type?: string; kind?: string; framesDecoded?: number; packetsReceived?: number }) => {
      if (s.type === 'inbound-rtp' && s.kind === 'video') framesDecoded = s.framesDecoded ?? 0;
      if (s.type === 'inbound-rtp' && s.kind === 'audio') audioPackets = s.packetsReceived ?? 0;
    });
    return { framesDecoded, audioPackets };
  };
  return { pc1, pc2, inbound };
}

function newWorker(): ConclaveE2EE {
  return wrapWorker(new Worker('/worker.js', { name: 'conclave-sframe' }));
}

async function loopback(g: GoFrames): Promise<unknown> {
  const alice = newWorker();
  const bob = newWorker();
  const carol = newWorker();
  const mallory = newWorker();
  const epoch = BigInt(g.epoch);
  const wrong = b64(g.baseKey);
  wrong[0] = (wrong[0] ?? 0) ^ 1;
  await alice.setEpoch(epoch, b64(g.baseKey), 1);
  await bob.setEpoch(epoch, b64(g.baseKey), 2);
  await carol.setEpoch(epoch, b64(g.baseKey), 3);
  await mallory.setEpoch(epoch, wrong, 4);
  for (const w of [alice, bob, carol, mallory]) {
    await until('worker keys', async () => (await w.stats()).senderKid !== '', 5000);
  }
  const media = await navigator.mediaDevices.getUserMedia({ video: { width: 320, height: 240 }, audio: true });
  const video = new MediaStream(media.getVideoTracks());
  const toBob = await link(media, 'streams', alice, bob, 'bob');
  const toCarol = await link(video, 'script', alice, carol, 'carol');
  const toMallory = await link(video, 'streams', alice, mallory, 'mallory');

  await until('bob decoding video', async () => (await toBob.inbound()).framesDecoded >= 20, 30_000);
  await until('carol decoding video', async () => (await toCarol.inbound()).framesDecoded >= 20, 30_000);
  await until('mallory dropping frames', async () => (await mallory.stats()).decryptDropped.auth >= 20, 30_000);
  const report = async (w: ConclaveE2EE, l: Awaited<ReturnType<typeof link>>) => ({ stats: await w.stats(), ...(await l.inbound()) });
  const out = {
    alice: await alice.stats(),
    bob: await report(bob, toBob),
    carol: await report(carol, toCarol),
    mallory: await report(mallory, toMallory),
  };
  for (const l of [toBob, toCarol, toMallory]) {
    l.pc1.close();
    l.pc2.close();
  }
  media.getTracks().forEach((t) => t.stop());
  for (const w of [alice, bob, carol, mallory]) w.terminate();
  return out;
}

async function main(): Promise<void> {
  const errors: string[] = [];
  const result: Record<string, unknown> = { errors };
  try {
    const g = (await (await fetch('/go-frames')).json()) as GoFrames;
    result['goToBrowser'] = await goToBrowser(g);
    result['browserToGo'] = await browserToGo(g);
    result['loopback'] = await loopback(g);
  } catch (e) {
    errors.push(String(e));
  }
  window.__result = result;
}

export type { FrameStats };
void main();
