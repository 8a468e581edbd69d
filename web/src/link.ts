// Meeting links (interfaces.md point 1, DESIGN.md P3):
//   <origin>/m/<roomID>#<secret>
// roomID: 128 random bits from the server, base64url without padding (22 chars).
// secret: 128 random bits made here with WebCrypto, base64url without padding,
// carried in the fragment, which browsers never send to the server.
//
// A link for a meeting that forbids desk phones ends in "~nophones":
//   <origin>/m/<roomID>#<secret>~nophones
// Whichever member creates the meeting's MLS group puts the phones-forbidden
// extension in its group context (docs/e2ee-protocol.md, "Phones forbidden");
// from then on the group, not the link, is the source of truth. Links
// without the suffix (all older ones) allow phones.

/** The fragment suffix of a link whose meeting forbids phones. */
export const noPhonesSuffix = '~nophones';

/** A room ID as the server issued it (22 base64url characters). */
export type RoomID = string & { readonly __brand: 'RoomID' };

/** The link's fragment secret: 16 random bytes. Never sent to the server. */
export type LinkSecret = Uint8Array & { readonly __brand: 'LinkSecret' };

const b64url22 = /^[A-Za-z0-9_-]{22}$/;

/** parseRoomID checks the shape of a room ID. */
export function parseRoomID(s: string): RoomID | undefined {
  // 22 characters carry 132 bits; the last character of 16 bytes has its 4 low bits zero.
  if (!b64url22.test(s) || decodeBase64url(s)?.length !== 16) return undefined;
  return s as RoomID;
}

/** newSecret draws a fresh 128-bit link secret from the browser's CSPRNG. */
export function newSecret(): LinkSecret {
  return crypto.getRandomValues(new Uint8Array(16)) as LinkSecret;
}

/** parseSecret decodes a fragment secret; undefined if it is not 16 base64url bytes. */
export function parseSecret(s: string): LinkSecret | undefined {
  if (!b64url22.test(s)) return undefined;
  const b = decodeBase64url(s);
  return b?.length === 16 ? (b as LinkSecret) : undefined;
}

/** meetingPath is the path of a meeting page, without the fragment. */
export function meetingPath(room: RoomID): string {
  return `/m/${room}`;
}

/** meetingFragment is the fragment of a link (without "#"). */
export function meetingFragment(secret: LinkSecret, opts: { forbidPhones?: boolean } = {}): string {
  return encodeBase64url(secret) + (opts.forbidPhones === true ? noPhonesSuffix : '');
}

/** meetingLink builds the full capability link for origin. */
export function meetingLink(origin: string, room: RoomID, secret: LinkSecret, opts: { forbidPhones?: boolean } = {}): string {
  return `${origin}${meetingPath(room)}#${meetingFragment(secret, opts)}`;
}

export type ParsedLink =
  | { ok: true; room: RoomID; secret: LinkSecret | undefined; forbidPhones: boolean }
  | { ok: false; reason: 'not-a-link' | 'other-server' | 'bad-secret' };

/**
 * parseLink reads a meeting link pasted by the user, or the page's own location.
 * Links to another server are refused: this page can only join meetings of the
 * server that served it. A missing fragment is reported as secret undefined; a
 * malformed one as bad-secret. forbidPhones is whether the fragment ends in
 * noPhonesSuffix (applied only if this browser creates the group).
 */
export function parseLink(input: string, origin: string): ParsedLink {
  let url: URL;
  try {
    url = new URL(input.trim(), origin);
  } catch {
    return { ok: false, reason: 'not-a-link' };
  }
  const m = /^\/m\/([^/]+)\/?$/.exec(url.pathname);
  const room = m?.[1] !== undefined ? parseRoomID(m[1]) : undefined;
  if (room === undefined) return { ok: false, reason: 'not-a-link' };
  if (url.origin !== origin) return { ok: false, reason: 'other-server' };
  let frag = url.hash.replace(/^#/, '');
  const forbidPhones = frag.endsWith(noPhonesSuffix);
  if (forbidPhones) frag = frag.slice(0, -noPhonesSuffix.length);
  if (frag === '') return { ok: true, room, secret: undefined, forbidPhones };
  const secret = parseSecret(frag);
  if (secret === undefined) return { ok: false, reason: 'bad-secret' };
  return { ok: true, room, secret, forbidPhones };
}

/** encodeBase64url encodes bytes as base64url without padding. */
export function encodeBase64url(b: Uint8Array): string {
  let s = '';
  for (const x of b) s += String.fromCharCode(x);
  return btoa(s).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

/** decodeBase64url decodes unpadded base64url; undefined on malformed input. */
export function decodeBase64url(s: string): Uint8Array | undefined {
  if (!/^[A-Za-z0-9_-]*$/.test(s) || s.length % 4 === 1) return undefined;
  const b64 = s.replace(/-/g, '+').replace(/_/g, '/') + '='.repeat((4 - (s.length % 4)) % 4);
  let bin: string;
  try {
    bin = atob(b64);
  } catch {
    return undefined;
  }
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  // Reject non-canonical encodings (stray low bits in the last character).
  return encodeBase64url(out) === s ? out : undefined;
}
