// Interim keying (interfaces.md point 3), until the MLS keys of the "E2EE
// meetings" issue replace it; that issue deletes this file. The meeting's
// SFrame base key is derived from the link secret (interimBaseKey in
// e2ee/sframe.ts):
//   base_key = HKDF-Expand(HKDF-Extract(salt = "", IKM = secret),
//                          "Conclave interim SFrame base key " + roomID, 16)
// and handed to the SFrame worker as a non-extractable CryptoKey. Anyone
// holding the full link can derive it: it protects the meeting from the
// server, not from people the link was forwarded to, and it yields no
// security code and no authenticated roster, so none is shown.

import { createConclaveE2EE } from './e2ee/manager.ts';
import type { JoinChoice } from './prejoin';
import type { FrameStats, MeetingSecurity, SecurityInfo } from './security';

/** Where build.mjs puts the SFrame worker (src/e2ee/worker.ts). */
export const workerURL = '/assets/e2ee-worker.js';

const statsIntervalMs = 1000;
const keyReadyTimeoutMs = 10_000;

export function interimSecurity(choice: JoinChoice): MeetingSecurity {
  const e2ee = createConclaveE2EE(workerURL);
  // The interim key depends only on the link, so it goes to the worker at
  // once: frames that arrive as soon as the room connects find it in place.
  const keyed = e2ee.setInterimKey(choice.secret, choice.room);
  keyed.catch(() => undefined); // reported by start()
  const listeners = new Set<() => void>();
  let phase: SecurityInfo['phase'] = 'securing';
  let stats: FrameStats | undefined;
  let timer = 0;
  let closed = false;
  const notify = (): void => {
    for (const fn of listeners) fn();
  };
  /** poll reads the worker's counters; it returns the sending KID ('' when no key is set). */
  const poll = async (): Promise<string> => {
    const s = await e2ee.stats();
    if (closed) return '';
    stats = {
      encrypted: s.encrypted,
      decrypted: s.decrypted,
      encryptDropped: s.encryptDroppedNoKey + s.encryptDroppedError,
      decryptFailures: Object.values(s.decryptDropped).reduce((a, b) => a + b, 0),
    };
    notify();
    return s.senderKid;
  };

  return {
    keyProvider: e2ee.roomOptions.keyProvider,
    worker: e2ee.roomOptions.worker,
    async start(_room, signal) {
      try {
        await keyed;
        // Keys are in place once the worker reports the KID it sends under.
        const deadline = performance.now() + keyReadyTimeoutMs;
        while ((await poll()) === '') {
          signal.throwIfAborted();
          if (performance.now() > deadline) throw new Error('the encryption worker did not take the key');
          await new Promise((r) => setTimeout(r, 50));
        }
        signal.throwIfAborted();
        timer = window.setInterval(() => void poll().catch(() => undefined), statsIntervalMs);
        phase = 'secured';
      } catch (e) {
        phase = 'failed';
        throw e;
      } finally {
        notify();
      }
    },
    info() {
      return {
        phase,
        summary: 'Encrypted end to end',
        explanation:
          'Audio and video are encrypted in each browser (SFrame, AES-128-GCM) with a key made from the secret part of the meeting link, which the server never receives. Anyone who has the full link can join and decrypt the meeting: share it only with the people you invite. This version cannot show a security code to compare yet.',
        securityCode: undefined,
        roster: undefined,
        banners: [],
      };
    },
    onChange(fn) {
      listeners.add(fn);
      return () => listeners.delete(fn);
    },
    stats: () => stats,
    close() {
      closed = true;
      window.clearInterval(timer);
      e2ee.terminate();
      listeners.clear();
    },
  };
}
