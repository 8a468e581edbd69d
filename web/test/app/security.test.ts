import assert from 'node:assert/strict';
import { test } from 'node:test';
import { bannersFor } from '../../src/banners';
import type { RosterMember } from '../../src/security';
import { e2eeURL } from '../../src/security-mls';

const member = (name: string, over: Partial<RosterMember> = {}): RosterMember => ({
  identity: `P_${name}`,
  name,
  kind: 'browser',
  self: false,
  hand: false,
  recording: false,
  notConnected: false,
  ...over,
});

test('banners: phone members and recordings, nothing otherwise', () => {
  const cases: { name: string; roster: RosterMember[] | undefined; want: string[] }[] = [
    { name: 'no roster yet', roster: undefined, want: [] },
    { name: 'browsers and a bot', roster: [member('Ann'), member('bot', { kind: 'bot' })], want: [] },
    { name: 'phone gateway', roster: [member('Ann'), member('+33 1 23', { kind: 'phone' })], want: ['+33 1 23 joined by phone: what is said reaches the phone network unencrypted.'] },
    { name: 'someone records', roster: [member('Ann', { recording: true })], want: ['Ann is recording this meeting.'] },
    { name: 'I record', roster: [member('Me', { self: true, recording: true })], want: ['You are recording this meeting.'] },
    { name: 'recorder member', roster: [member('Rec', { kind: 'recorder' })], want: ['Rec is a recorder: this meeting is being recorded.'] },
  ];
  for (const c of cases) assert.deepEqual(bannersFor(c.roster), c.want, c.name);
});

test('e2eeURL: next to the signal URL, token in the query, nothing else kept', () => {
  const cases: [string, string][] = [
    ['ws://127.0.0.1:7880', 'ws://127.0.0.1:7880/e2ee?access_token=t.o-k'],
    ['wss://meet.example/', 'wss://meet.example/e2ee?access_token=t.o-k'],
    ['https://meet.example/base?x=1#frag', 'wss://meet.example/base/e2ee?access_token=t.o-k'],
    ['http://node2.example:8080', 'ws://node2.example:8080/e2ee?access_token=t.o-k'],
  ];
  for (const [signal, want] of cases) assert.equal(e2eeURL(signal, 't.o-k', 'https://meet.example/m/x'), want, signal);
});
