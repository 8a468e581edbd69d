// Page side of Conclave's SFrame worker: how the app creates the worker,
// hands it to livekit-client, gives it keys and reads its counters.
//
//   const e2ee = createConclaveE2EE(new URL('/assets/e2ee-worker.js', location.href));
//   const room = new Room({ e2ee: e2ee.roomOptions });
//   await room.setE2EEEnabled(true);                 // AddTrackRequest then says GCM
//   await room.connect(url, token);
//   await e2ee.setEpoch(epoch, baseKey, leaf);       // at each MLS epoch
//   const stats = await e2ee.stats();
//
// Keys are handed to the worker by postMessage as non-extractable
// CryptoKeys; they never appear in a URL.

import { ExternalE2EEKeyProvider } from 'livekit-client';
import type { FrameStats, GetStatsMessage, SetEpochMessage, StatsMessage, StopSendingMessage } from './messages';
import { type KidLayout, importBaseKey } from './sframe';

export interface ConclaveE2EE {
  /** Pass as RoomOptions.e2ee. */
  readonly roomOptions: { keyProvider: ExternalE2EEKeyProvider; worker: Worker };
  /** MLS keying: the epoch's exported base key bytes (16, for
   * AES_128_GCM_SHA256_128) and this member's leaf index. The bytes are
   * imported as a non-extractable key and then zeroed. */
  setEpoch(epoch: bigint, baseKey: Uint8Array<ArrayBuffer>, leafIndex: number, opts?: { layout?: KidLayout; graceMs?: number; send?: boolean }): Promise<void>;
  /** Stops sending (this member left the group). */
  stopSending(): void;
  /** The worker's frame counters. */
  stats(timeoutMs?: number): Promise<FrameStats>;
  /** Stops the worker. */
  terminate(): void;
}

/** Creates the SFrame worker from the URL of its bundle (same origin). */
export function createConclaveE2EE(workerUrl: URL | string): ConclaveE2EE {
  return wrapWorker(new Worker(workerUrl, { name: 'conclave-sframe' }));
}

/** Wraps an existing worker running worker.ts. */
export function wrapWorker(worker: Worker): ConclaveE2EE {
  // livekit-client's KeyProvider is required by its API but carries no
  // keys here: the worker ignores livekit's setKey.
  const keyProvider = new ExternalE2EEKeyProvider();
  let nextId = 1;
  const pending = new Map<number, (s: FrameStats) => void>();
  // livekit-client takes worker.onmessage; listen beside it.
  worker.addEventListener('message', (ev: MessageEvent<unknown>) => {
    const m = ev.data;
    if (typeof m === 'object' && m !== null && 'kind' in m && m.kind === 'conclave:stats') {
      const s = m as StatsMessage;
      pending.get(s.id)?.(s.stats);
      pending.delete(s.id);
    }
  });
  return {
    roomOptions: { keyProvider, worker },
    async setEpoch(epoch, baseKey, leafIndex, opts = {}) {
      let key: CryptoKey;
      try {
        key = await importBaseKey(baseKey);
      } finally {
        baseKey.fill(0);
      }
      const msg: SetEpochMessage = { kind: 'conclave:setEpoch', epoch, baseKey: key, leafIndex, ...opts };
      worker.postMessage(msg);
    },
    stopSending() {
      const msg: StopSendingMessage = { kind: 'conclave:stopSending' };
      worker.postMessage(msg);
    },
    stats(timeoutMs = 2000) {
      const id = nextId++;
      return new Promise<FrameStats>((resolve, reject) => {
        const timer = setTimeout(() => {
          pending.delete(id);
          reject(new Error('conclave: sframe worker did not answer'));
        }, timeoutMs);
        pending.set(id, (s) => {
          clearTimeout(timer);
          resolve(s);
        });
        const msg: GetStatsMessage = { kind: 'conclave:getStats', id };
        worker.postMessage(msg);
      });
    },
    terminate() {
      worker.terminate();
    },
  };
}
