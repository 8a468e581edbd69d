// Client of the server's HTTP API (interfaces.md point 1). Only the room ID and
// the display name are ever sent; the link secret stays in this page.

import { parseRoomID, type RoomID } from './link';

/** ApiError is a failed API call with a message that can be shown to the user. */
export class ApiError extends Error {
  constructor(
    message: string,
    readonly status: number,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

export interface JoinGrant {
  /** HS256 access token for livekit-client. */
  token: string;
  /** WebSocket URL of the node hosting the room. */
  url: string;
  /** The room key the media layer sees (never the room ID). */
  room: string;
  identity: string;
}

async function post(path: string, body: unknown, signal?: AbortSignal): Promise<unknown> {
  let res: Response;
  try {
    res = await fetch(path, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify(body),
      credentials: 'same-origin',
      cache: 'no-store',
      signal,
    });
  } catch (e) {
    if (signal?.aborted) throw e;
    throw new ApiError('The server cannot be reached. Check your connection and try again.', 0);
  }
  if (res.status === 404) throw new ApiError('This meeting does not exist. Check the link.', 404);
  if (res.status === 429) throw new ApiError('Too many attempts. Wait a minute and try again.', 429);
  if (!res.ok) throw new ApiError(`The server refused the request (HTTP ${res.status}).`, res.status);
  try {
    return await res.json();
  } catch {
    throw new ApiError('The server sent an unreadable answer.', res.status);
  }
}

function field(obj: unknown, name: string): string {
  const v = typeof obj === 'object' && obj !== null ? (obj as Record<string, unknown>)[name] : undefined;
  if (typeof v !== 'string' || v === '') throw new ApiError(`The server's answer lacks "${name}".`, 200);
  return v;
}

/** createMeeting asks the server for a new room ID. */
export async function createMeeting(signal?: AbortSignal): Promise<RoomID> {
  const body = await post('/api/meetings', {}, signal);
  const room = parseRoomID(field(body, 'room'));
  if (room === undefined) throw new ApiError('The server sent a malformed meeting ID.', 201);
  return room;
}

/** join asks for an access token to room under a display name. */
export async function join(room: RoomID, name: string, signal?: AbortSignal): Promise<JoinGrant> {
  const body = await post('/api/join', { room, name, kind: 'browser' }, signal);
  return {
    token: field(body, 'token'),
    url: field(body, 'url'),
    room: field(body, 'room'),
    identity: field(body, 'identity'),
  };
}

/** serverBundleHash reads the bundle hash the server announces at /api/version; undefined if it does not answer. */
export async function serverBundleHash(signal?: AbortSignal): Promise<string | undefined> {
  try {
    const res = await fetch('/api/version', { cache: 'no-store', signal });
    if (!res.ok) return undefined;
    const body: unknown = await res.json();
    const v = typeof body === 'object' && body !== null ? (body as Record<string, unknown>)["bundle_sha256"] : undefined;
    return typeof v === 'string' ? v : undefined;
  } catch {
    return undefined;
  }
}
