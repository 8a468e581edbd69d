// When the page redials /e2ee (security-mls.ts afterE2EEClose): the same
// rule as the bots' (clients/bot resumableE2EE and reconnect).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DSCode, type E2EEClosed, type E2EENext, afterE2EEClose, e2eeEndMessage, reconnectDelaysMs, tokenExpired } from '../../src/security-mls';

const dropped: E2EEClosed = { lastCode: 0, refused: false, removed: false, neverOpened: false, tokenExpired: false, attempts: 0 };

test('afterE2EEClose: redial after a drop, never after a final end', async (t) => {
  const cases: { name: string; c: Partial<E2EEClosed>; want: E2EENext }[] = [
    { name: 'network drop', c: {}, want: { redial: true, delayMs: 500 } },
    { name: 'not allowed (closes nothing)', c: { lastCode: DSCode.notAllowed }, want: { redial: true, delayMs: 500 } },
    { name: 'too slow a reader', c: { lastCode: DSCode.slow }, want: { redial: true, delayMs: 500 } },
    { name: 'server fault', c: { lastCode: DSCode.internal }, want: { redial: true, delayMs: 500 } },
    { name: 'replaced by another tab', c: { lastCode: DSCode.replaced }, want: { redial: false, end: 'replaced' } },
    { name: 'removed by an admin', c: { lastCode: DSCode.removed }, want: { redial: false, end: 'removed' } },
    { name: 'meeting ended', c: { lastCode: DSCode.ended }, want: { redial: false, end: 'ended' } },
    { name: 'server shutting down', c: { lastCode: DSCode.shutdown }, want: { redial: false, end: 'shutdown' } },
    { name: 'room limit', c: { lastCode: DSCode.limit }, want: { redial: false, end: 'full' } },
    { name: 'malformed', c: { lastCode: DSCode.malformed }, want: { redial: false, end: 'protocol' } },
    { name: 'too large', c: { lastCode: DSCode.tooLarge }, want: { redial: false, end: 'protocol' } },
    { name: 'other version', c: { lastCode: DSCode.version }, want: { redial: false, end: 'protocol' } },
    { name: 'unknown type', c: { lastCode: DSCode.unknown }, want: { redial: false, end: 'protocol' } },
    { name: 'a code this page does not know', c: { lastCode: 99 }, want: { redial: false, end: 'protocol' } },
    { name: 'refused from the lobby', c: { refused: true }, want: { redial: false, end: 'refused' } },
    { name: 'removed from the group', c: { removed: true }, want: { redial: false, end: 'removedFromGroup' } },
    { name: 'refused, then a network drop', c: { refused: true, lastCode: 0 }, want: { redial: false, end: 'refused' } },
    { name: 'dial refused with an expired token (401)', c: { neverOpened: true, tokenExpired: true, attempts: 1 }, want: { redial: false, end: 'expired' } },
    { name: 'dial failed, token valid', c: { neverOpened: true, attempts: 1 }, want: { redial: true, delayMs: 1000 } },
    // A clock that runs ahead must not stop a resume the server would accept.
    { name: 'drop of an open connection, token expired by this clock', c: { tokenExpired: true }, want: { redial: true, delayMs: 500 } },
    { name: 'last attempt', c: { attempts: 4 }, want: { redial: true, delayMs: 8000 } },
    { name: 'attempts exhausted', c: { attempts: 5 }, want: { redial: false, end: 'lost' } },
    { name: 'final end on a later attempt', c: { attempts: 2, lastCode: DSCode.ended }, want: { redial: false, end: 'ended' } },
  ];
  for (const c of cases) {
    await t.test(c.name, () => {
      assert.deepEqual(afterE2EEClose({ ...dropped, ...c.c }), c.want);
    });
  }
});

test('afterE2EEClose: five redials with growing waits, then the end', () => {
  const waits: number[] = [];
  for (let attempts = 0; ; attempts++) {
    const next = afterE2EEClose({ ...dropped, neverOpened: attempts > 0, attempts });
    if (!next.redial) {
      assert.equal(next.end, 'lost');
      break;
    }
    waits.push(next.delayMs);
    assert.ok(attempts < 10, 'redials without end');
  }
  assert.deepEqual(waits, [...reconnectDelaysMs]);
  assert.equal(waits.length, 5);
});

test('e2eeEndMessage: each end says what happened', () => {
  const ends = ['refused', 'removedFromGroup', 'replaced', 'removed', 'ended', 'shutdown', 'full', 'protocol', 'expired', 'lost'] as const;
  const msgs = ends.map(e2eeEndMessage);
  assert.equal(new Set(msgs).size, ends.length, 'one message per end');
  assert.match(e2eeEndMessage('refused'), /did not let you in/);
  assert.match(e2eeEndMessage('ended'), /meeting was ended/);
});

test('tokenExpired: reads the exp claim, never guesses', () => {
  const b64url = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');
  const jwt = (claims: unknown) => `${b64url({ alg: 'HS256', typ: 'JWT' })}.${b64url(claims)}.c2lnbmF0dXJl`;
  const now = 1_800_000_000_000;
  const cases: [string, string, boolean][] = [
    ['expired', jwt({ exp: now / 1000 - 1, sub: 'P_a' }), true],
    ['expires now', jwt({ exp: now / 1000 }), true],
    ['valid', jwt({ exp: now / 1000 + 600 }), false],
    // base64url characters and no padding in the payload
    ['url-safe payload, 2 padding chars left out', jwt({ exp: now / 1000 - 1, name: '??>>~~ÿx' }), true],
    ['url-safe payload, 1 padding char left out', jwt({ exp: now / 1000 - 1, name: '??>>~~ÿxy' }), true],
    ['no exp', jwt({ sub: 'P_a' }), false],
    ['exp not a number', jwt({ exp: '1' }), false],
    ['not a JWT', 'opaque', false],
    ['garbage payload', 'a.%%%.b', false],
    ['JSON but not an object', `a.${b64url(5)}.b`, false],
  ];
  for (const [name, tok, want] of cases) assert.equal(tokenExpired(tok, now), want, name);
});
