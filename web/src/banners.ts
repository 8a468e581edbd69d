// The warnings a meeting shows while something weakens its end-to-end
// encryption (issue "Web app", "Honesty in the interface"): a phone gateway
// member (its phone leg is not end-to-end encrypted) and any member's
// recording. They come from the MLS roster and the members' own
// announcements, and the interface gives them no close button.

import type { RosterMember } from './security';

export function bannersFor(roster: readonly RosterMember[] | undefined): string[] {
  const out: string[] = [];
  for (const m of roster ?? []) {
    if (m.kind === 'phone') out.push(`${m.name} joined by phone: what is said reaches the phone network unencrypted.`);
  }
  for (const m of roster ?? []) {
    if (m.kind === 'recorder') out.push(`${m.name} is a recorder: this meeting is being recorded.`);
    else if (m.recording) out.push(m.self ? 'You are recording this meeting.' : `${m.name} is recording this meeting.`);
  }
  return out;
}
