// Interim keying (interfaces.md point 3), until the MLS keys of the "E2EE
// meetings" issue replace it; that issue deletes this file. The meeting's
// SFrame base key is derived from the link secret:
//   base_key = HKDF-Expand(HKDF-Extract(salt = "", IKM = secret),
//                          "Conclave interim SFrame base key " + roomID, 16)
// and handed to the SFrame worker as a non-extractable key. Anyone holding the
// full link can derive it: it protects the meeting from the server, not from
// people the link was forwarded to, and it yields no security code or roster.

import { BaseKeyProvider } from 'livekit-client';
import { interimBaseKey } from './e2ee/sframe';
import type { FrameStats, MeetingSecurity, SecurityInfo } from './security';
import type { JoinChoice } from './prejoin';

/** A livekit key provider holding one shared key: the meeting's base key. */
class InterimKeyProvider extends BaseKeyProvider {
  constructor() {
    // No ratcheting: every KID's key derives from the base key (RFC 9605, Section 4.4.2).
    super({ sharedKey: true, ratchetWindowSize: 0, failureTolerance: -1 });
  }

  setBaseKey(key: CryptoKey): void {
    this.onSetEncryptionKey(key);
  }
}

export function interimSecurity(choice: JoinChoice): MeetingSecurity {
  const keyProvider = new InterimKeyProvider();
  const worker = new Worker('/assets/e2ee-worker.js', { type: 'module', name: 'conclave-sframe' });
  const listeners = new Set<() => void>();
  let phase: SecurityInfo['phase'] = 'securing';
  let stats: FrameStats | undefined;
  const notify = (): void => {
    for (const fn of listeners) fn();
  };
  const onStats = (ev: MessageEvent<unknown>): void => {
    const s = parseStats(ev.data);
    if (s !== undefined) {
      stats = s;
      notify();
    }
  };
  worker.addEventListener('message', onStats);

  return {
    keyProvider,
    worker,
    async start(_room, signal) {
      try {
        const key = await interimBaseKey(choice.secret, choice.room);
        signal.throwIfAborted();
        keyProvider.setBaseKey(key);
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
          'Audio and video are encrypted in each browser (SFrame, AES-128-GCM) with a key made from the secret part of the meeting link, which the server never receives. Anyone who has the full link can join and decrypt the meeting: share it only with the people you invite. This version cannot yet show a security code to compare.',
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
      worker.removeEventListener('message', onStats);
      worker.terminate();
      listeners.clear();
    },
  };
}

function parseStats(data: unknown): FrameStats | undefined {
  if (typeof data !== 'object' || data === null) return undefined;
  const m = data as Record<string, unknown>;
  if (m['kind'] !== 'stats' || typeof m['data'] !== 'object' || m['data'] === null) return undefined;
  const d = m['data'] as Record<string, unknown>;
  const n = (k: string): number => (typeof d[k] === 'number' ? (d[k] as number) : 0);
  return { encrypted: n('encrypted'), decrypted: n('decrypted'), decryptFailures: n('decryptFailures') };
}
