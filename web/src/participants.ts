// What the interface says about a participant, read from the server's view of
// the room (livekit-client). These labels are not authenticated: the MLS
// roster (security.ts) is what proves who is in the meeting.

import { ConnectionQuality, type Participant } from 'livekit-client';
import type { MemberKind } from './security';

/** displayName is the name to show, never empty. */
export function displayName(p: Participant): string {
  const n = p.name?.trim();
  return n !== undefined && n !== '' ? n : 'Guest';
}

/** initials of a display name, for the avatar of a participant without video. */
export function initials(name: string): string {
  const parts = name.split(/\s+/).filter((s) => s !== '');
  const first = parts[0]?.[0] ?? '?';
  const last = parts.length > 1 ? (parts[parts.length - 1]?.[0] ?? '') : '';
  return (first + last).toUpperCase();
}

/** kindOf reads the participant kind from its token metadata ({"kind":"bot"}). */
export function kindOf(p: Participant): MemberKind {
  try {
    const m: unknown = JSON.parse(p.metadata ?? '');
    const k = typeof m === 'object' && m !== null ? (m as Record<string, unknown>)['kind'] : undefined;
    if (k === 'bot' || k === 'phone' || k === 'recorder' || k === 'browser') return k;
  } catch {
    // No or malformed metadata: an ordinary browser participant.
  }
  return 'browser';
}

export const kindLabel: Record<MemberKind, string> = {
  browser: 'browser',
  bot: 'bot',
  phone: 'phone (not end-to-end encrypted)',
  recorder: 'recorder',
  unknown: 'unknown kind',
};

export const qualityLabel: Record<ConnectionQuality, string> = {
  [ConnectionQuality.Excellent]: 'Excellent connection',
  [ConnectionQuality.Good]: 'Good connection',
  [ConnectionQuality.Poor]: 'Poor connection',
  [ConnectionQuality.Lost]: 'Connection lost',
  [ConnectionQuality.Unknown]: 'Connection quality unknown',
};
