import assert from 'node:assert/strict';
import { test } from 'node:test';
import { decodeBase64url, encodeBase64url, meetingFragment, meetingLink, newSecret, noPhonesSuffix, parseLink, parseRoomID, parseSecret } from '../../src/link';

const origin = 'http://127.0.0.1:8080';
const room = 'q83vEjRWeJCrze8SNFZ4kA'; // 16 bytes
const secret = 'AAECAwQFBgcICQoLDA0ODw'; // bytes 0..15

test('base64url round trip and canonical form', () => {
  for (let n = 0; n <= 33; n++) {
    const b = new Uint8Array(n).map((_, i) => (i * 37 + n) & 0xff);
    const s = encodeBase64url(b);
    assert.doesNotMatch(s, /[+/=]/);
    assert.deepEqual(decodeBase64url(s), b, `length ${n}`);
  }
  const cases: [string, string][] = [
    ['padding', 'AAECAw=='],
    ['standard alphabet', 'ab+/'],
    ['impossible length', 'AAECA'],
    ['stray low bits', 'AB'], // canonical is "AA"
  ];
  for (const [name, s] of cases) assert.equal(decodeBase64url(s), undefined, name);
});

test('room IDs and secrets are 16 bytes, canonical base64url', () => {
  assert.equal(parseRoomID(room), room);
  assert.deepEqual(parseSecret(secret), new Uint8Array([...Array(16).keys()]));
  const bad: [string, string][] = [
    ['short', room.slice(1)],
    ['long', room + 'A'],
    ['bad char', room.slice(0, 21) + '*'],
    ['non-canonical last char', room.slice(0, 21) + 'B'],
    ['empty', ''],
  ];
  for (const [name, s] of bad) {
    assert.equal(parseRoomID(s), undefined, `room ${name}`);
    assert.equal(parseSecret(s), undefined, `secret ${name}`);
  }
});

test('newSecret draws 16 fresh random bytes', () => {
  const a = newSecret();
  const b = newSecret();
  assert.equal(a.length, 16);
  assert.notDeepEqual(a, b);
  assert.deepEqual(parseSecret(encodeBase64url(a)), a);
});

test('parseLink', () => {
  const link = meetingLink(origin, parseRoomID(room)!, parseSecret(secret)!);
  assert.equal(link, `${origin}/m/${room}#${secret}`);
  const cases: { name: string; input: string; want: ReturnType<typeof parseLink> }[] = [
    { name: 'full link', input: link, want: { ok: true, room: room as never, secret: parseSecret(secret), forbidPhones: false } },
    { name: 'surrounding spaces', input: `  ${link}\n`, want: { ok: true, room: room as never, secret: parseSecret(secret), forbidPhones: false } },
    { name: 'trailing slash', input: `${origin}/m/${room}/#${secret}`, want: { ok: true, room: room as never, secret: parseSecret(secret), forbidPhones: false } },
    { name: 'path only', input: `/m/${room}#${secret}`, want: { ok: true, room: room as never, secret: parseSecret(secret), forbidPhones: false } },
    { name: 'no fragment', input: `${origin}/m/${room}`, want: { ok: true, room: room as never, secret: undefined, forbidPhones: false } },
    { name: 'empty fragment', input: `${origin}/m/${room}#`, want: { ok: true, room: room as never, secret: undefined, forbidPhones: false } },
    { name: 'damaged fragment', input: `${origin}/m/${room}#${secret.slice(2)}`, want: { ok: false, reason: 'bad-secret' } },
    { name: 'another server', input: `https://evil.example/m/${room}#${secret}`, want: { ok: false, reason: 'other-server' } },
    { name: 'another port', input: `http://127.0.0.1:8081/m/${room}#${secret}`, want: { ok: false, reason: 'other-server' } },
    { name: 'home page', input: `${origin}/`, want: { ok: false, reason: 'not-a-link' } },
    { name: 'bad room', input: `${origin}/m/short#${secret}`, want: { ok: false, reason: 'not-a-link' } },
    { name: 'extra path', input: `${origin}/m/${room}/x#${secret}`, want: { ok: false, reason: 'not-a-link' } },
    { name: 'garbage', input: 'http://[', want: { ok: false, reason: 'not-a-link' } },
    { name: 'no phones', input: `${origin}/m/${room}#${secret}~nophones`, want: { ok: true, room: room as never, secret: parseSecret(secret), forbidPhones: true } },
    { name: 'no phones, trailing slash', input: `${origin}/m/${room}/#${secret}~nophones`, want: { ok: true, room: room as never, secret: parseSecret(secret), forbidPhones: true } },
    { name: 'no phones without secret', input: `${origin}/m/${room}#~nophones`, want: { ok: true, room: room as never, secret: undefined, forbidPhones: true } },
    { name: 'unknown suffix', input: `${origin}/m/${room}#${secret}~phones`, want: { ok: false, reason: 'bad-secret' } },
    { name: 'suffix twice', input: `${origin}/m/${room}#${secret}~nophones~nophones`, want: { ok: false, reason: 'bad-secret' } },
    { name: 'suffix before secret', input: `${origin}/m/${room}#~nophones${secret}`, want: { ok: false, reason: 'bad-secret' } },
    { name: 'suffix in another case', input: `${origin}/m/${room}#${secret}~NOPHONES`, want: { ok: false, reason: 'bad-secret' } },
  ];
  for (const c of cases) assert.deepEqual(parseLink(c.input, origin), c.want, c.name);
});

test('meetingLink carries the no-phones choice and parseLink reads it back', () => {
  const r = parseRoomID(room)!;
  const sec = parseSecret(secret)!;
  const cases: { name: string; opts: { forbidPhones?: boolean }; want: string }[] = [
    { name: 'default allows phones', opts: {}, want: `${origin}/m/${room}#${secret}` },
    { name: 'phones allowed', opts: { forbidPhones: false }, want: `${origin}/m/${room}#${secret}` },
    { name: 'phones forbidden', opts: { forbidPhones: true }, want: `${origin}/m/${room}#${secret}${noPhonesSuffix}` },
  ];
  for (const c of cases) {
    const link = meetingLink(origin, r, sec, c.opts);
    assert.equal(link, c.want, c.name);
    assert.equal(`#${meetingFragment(sec, c.opts)}`, new URL(link).hash, c.name);
    assert.deepEqual(parseLink(link, origin), { ok: true, room: r, secret: sec, forbidPhones: c.opts.forbidPhones === true }, c.name);
  }
});
