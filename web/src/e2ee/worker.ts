// Entry point of the SFrame encoded-transform worker. Bundle it on its own
// (esbuild, format iife) and hand the Worker to livekit-client through
// manager.ts. All state lives in one SFrameWorker; see sframeworker.ts.

import { SFrameWorker } from './sframeworker';

declare const self: DedicatedWorkerGlobalScope;

const worker = new SFrameWorker(
  (msg) => self.postMessage(msg),
  () => performance.now(),
);

self.onmessage = (ev: MessageEvent<unknown>) => {
  void worker.handle(ev.data);
};

// RTCRtpScriptTransform path (browsers with it; livekit-client 2.23 uses it
// outside Chromium).
self.addEventListener('rtctransform', (ev: RTCTransformEvent) => {
  worker.onRTCTransform(ev.transformer);
});
