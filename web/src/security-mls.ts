// MeetingSecurity over the meeting's MLS group (docs/e2ee-protocol.md):
// this browser's member runs in the Go session compiled to WebAssembly
// (mls.ts), talks to the server's delivery service over the /e2ee WebSocket,
// and keys the SFrame worker from each epoch (RFC 9605, Section 5.2). The
// link secret proves admission (it never leaves the page); without it the
// browser knocks and waits in the lobby.
//
// Order matters for "nothing before keys": the events of a session call are
// applied (keys imported and handed to the worker) before its outgoing
// messages go out, so that the server's media gate, which opens when it
// sees our Joined, never opens before the worker holds the keys.

import { type Participant, type Room, RoomEvent } from 'livekit-client';
import { bannersFor } from './banners';
import { createConclaveE2EE } from './e2ee/manager.ts';
import type { LinkSecret, RoomID } from './link';
import { type ClientKind, type LobbyJoiner, type MlsMember, MlsSession, type SessionOutput, loadSessionModule } from './mls';
import type { ChatMessage, FrameStats, MeetingSecurity, MemberKind, Outsider, RosterMember, SecurityEnd, SecurityInfo } from './security';

/** Where build.mjs puts the SFrame worker (src/e2ee/worker.ts). */
export const workerURL = '/assets/e2ee-worker.js';

const statsIntervalMs = 1000;
/** How long a member may lack a media connection before it is flagged. */
const notConnectedGraceMs = 8000;
/** How long a media participant may lack a leaf before it is flagged as an outsider. */
const outsiderGraceMs = 5000;
const maxChat = 500;
const maxRejections = 20;
/** The waits before each redial of /e2ee after it dropped: 5 attempts, as a bot makes. */
export const reconnectDelaysMs: readonly number[] = [500, 1000, 2000, 4000, 8000];

/** The delivery service's Error codes (docs/e2ee-protocol.md, "Error
 * codes"; Go: e2ee/dsproto Code*). */
export const DSCode = {
  malformed: 1,
  tooLarge: 2,
  version: 3,
  unknown: 4,
  notAllowed: 5,
  replaced: 6,
  limit: 7,
  internal: 8,
  shutdown: 9,
  removed: 10,
  slow: 11,
  ended: 12,
} as const;

/** Why the /e2ee connection ended for good. */
export type E2EEEnd =
  | SecurityEnd
  /** A member did not let this browser in from the lobby. */
  | 'refused'
  /** A commit removed this member from the MLS group. */
  | 'removedFromGroup'
  /** A room limit was reached. */
  | 'full'
  /** The DS refused this browser's messages (malformed, too large, another
   * version, an unknown type) or sent an unknown code: redialling would
   * send the same. */
  | 'protocol'
  /** The access token expired and a redial did not open (the DS answers 401). */
  | 'expired'
  /** Every redial failed. */
  | 'lost';

/** What a page knows when its /e2ee WebSocket closed. */
export interface E2EEClosed {
  /** The DS's last Error code on this connection, 0 if none. */
  lastCode: number;
  /** A member refused this browser from the lobby. */
  refused: boolean;
  /** A commit removed this member from the group. */
  removed: boolean;
  /** The WebSocket never opened (the dial failed: network, or an HTTP
   * error the page cannot read, such as a 401). */
  neverOpened: boolean;
  /** The token the next dial would carry expired by this browser's clock. */
  tokenExpired: boolean;
  /** Redials made since a WebSocket last opened. */
  attempts: number;
}

export type E2EENext = { redial: true; delayMs: number } | { redial: false; end: E2EEEnd };

/**
 * afterE2EEClose decides whether the page redials /e2ee, the rule of
 * clients/bot (resumableE2EE, reconnect; docs/e2ee-protocol.md, "Token
 * refresh"): a network drop, a message not allowed (which closes nothing),
 * too slow a reader, or a server fault are redialled, up to
 * reconnectDelaysMs.length times in a row with growing waits; being
 * replaced, removed (by an admin or from the group), refused from the
 * lobby, a room limit, the meeting's or the server's end, a protocol error
 * and a refused token are final. A browser cannot read the status of a
 * WebSocket handshake: a dial that did not open while the token it carried
 * has expired is taken for the DS's 401.
 */
export function afterE2EEClose(c: E2EEClosed): E2EENext {
  if (c.refused) return { redial: false, end: 'refused' };
  if (c.removed) return { redial: false, end: 'removedFromGroup' };
  switch (c.lastCode) {
    case 0:
    case DSCode.notAllowed:
    case DSCode.slow:
    case DSCode.internal:
      break;
    case DSCode.replaced:
      return { redial: false, end: 'replaced' };
    case DSCode.removed:
      return { redial: false, end: 'removed' };
    case DSCode.ended:
      return { redial: false, end: 'ended' };
    case DSCode.shutdown:
      return { redial: false, end: 'shutdown' };
    case DSCode.limit:
      return { redial: false, end: 'full' };
    default:
      return { redial: false, end: 'protocol' };
  }
  if (c.neverOpened && c.tokenExpired) return { redial: false, end: 'expired' };
  const delayMs = reconnectDelaysMs[c.attempts];
  if (delayMs === undefined) return { redial: false, end: 'lost' };
  return { redial: true, delayMs };
}

/** What the page tells the user for each final end. */
export function e2eeEndMessage(end: E2EEEnd): string {
  switch (end) {
    case 'refused':
      return 'A member of the meeting did not let you in.';
    case 'removedFromGroup':
      return 'You are no longer a member of the encrypted meeting.';
    case 'replaced':
      return 'You joined this meeting from another tab or window, which took over.';
    case 'removed':
      return 'You were removed from the meeting.';
    case 'ended':
      return 'The meeting was ended.';
    case 'shutdown':
      return 'The server is restarting.';
    case 'full':
      return 'The meeting is full.';
    case 'protocol':
      return 'The meeting’s key service refused this browser’s messages.';
    case 'expired':
      return 'Your access to the meeting expired while the connection to its key service was down.';
    case 'lost':
      return 'The connection to the meeting’s key service was lost.';
  }
}

/**
 * tokenExpired reports whether an access token (a JWT) has expired by the
 * clock now (ms since 1970), from its unverified exp claim; false if it has
 * none or cannot be read. It only helps to tell a refused dial from a
 * network failure; the server is the judge of the token.
 */
export function tokenExpired(token: string, now: number): boolean {
  const payload = token.split('.')[1];
  if (payload === undefined || payload.length > 8192) return false;
  try {
    const b64 = payload.replace(/-/g, '+').replace(/_/g, '/');
    const claims: unknown = JSON.parse(atob(b64 + '='.repeat((4 - (b64.length % 4)) % 4)));
    if (typeof claims !== 'object' || claims === null || !('exp' in claims) || typeof claims.exp !== 'number') return false;
    return claims.exp * 1000 <= now;
  } catch {
    return false;
  }
}

export interface MlsSecurityOptions {
  room: RoomID;
  /** The link's fragment secret; undefined to knock. */
  secret: LinkSecret | undefined;
  name: string;
  /** If this browser creates the meeting's group, forbid phones in it (the link's "~nophones"). */
  forbidPhones?: boolean;
}

function kindOf(k: ClientKind): MemberKind {
  return k === 'browser' || k === 'bot' || k === 'phone' ? k : 'unknown';
}

function hex(b: Uint8Array): string {
  return Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
}

/** e2eeURL is the delivery service's URL next to the signal URL /api/join returned. */
export function e2eeURL(signalURL: string, token: string, base: string = location.href): string {
  const u = new URL(signalURL, base);
  if (u.protocol === 'http:') u.protocol = 'ws:';
  if (u.protocol === 'https:') u.protocol = 'wss:';
  u.pathname = u.pathname.replace(/\/$/, '') + '/e2ee';
  u.search = '';
  u.searchParams.set('access_token', token);
  u.hash = '';
  return u.toString();
}

export function mlsSecurity(opts: MlsSecurityOptions): MeetingSecurity {
  const e2ee = createConclaveE2EE(workerURL);
  // Start fetching the module while the page connects.
  void loadSessionModule().catch(() => undefined);
  const listeners = new Set<() => void>();
  let phase: SecurityInfo['phase'] = 'securing';
  let failure: string | undefined;
  let end: SecurityEnd | undefined;
  let stats: FrameStats | undefined;
  let statsTimer = 0;
  let tickTimer = 0;
  let closed = false;
  let session: MlsSession | undefined;
  let ws: WebSocket | undefined;
  let room: Room | undefined;
  // The delivery service's URL base and the latest access token it sent: a
  // reconnect after the first token expired (TokenTTL) must use a fresh one.
  // A credential: never logged or shown.
  let signalURL = '';
  let token = '';
  let epoch: number | undefined;
  let code: string | undefined;
  let canSend = false;
  let members: MlsMember[] | undefined;
  let waiting: LobbyJoiner[] = [];
  const chat: ChatMessage[] = [];
  let chatId = 0;
  const hands = new Set<string>();
  const recorders = new Set<string>();
  let myHand = false;
  let myRecording = false;
  const rejections: string[] = [];
  const missingSince = new Map<string, number>();
  const outsiderSince = new Map<string, number>();
  let queue: Promise<void> = Promise.resolve();
  let keyed: (() => void) | undefined;
  let keyFailed: ((e: Error) => void) | undefined;
  // What decides a redial of /e2ee (afterE2EEClose).
  let lastCode = 0;
  let refused = false;
  let removed = false;

  const notify = (): void => {
    for (const fn of listeners) fn();
  };

  const fail = (why: string): void => {
    if (phase === 'failed') return;
    phase = 'failed';
    failure = why;
    e2ee.stopSending();
    keyFailed?.(new Error(why));
    notify();
  };

  /** finish ends the meeting's security for good, saying why. */
  const finish = (why: E2EEEnd): void => {
    if (phase === 'failed') return;
    if (why === 'replaced' || why === 'removed' || why === 'ended' || why === 'shutdown') end = why;
    fail(e2eeEndMessage(why));
  };

  const pollStats = async (): Promise<string> => {
    const s = await e2ee.stats();
    if (closed) return '';
    stats = {
      encrypted: s.encrypted,
      decrypted: s.decrypted,
      encryptDropped: s.encryptDroppedNoKey + s.encryptDroppedError,
      decryptFailures: Object.values(s.decryptDropped).reduce((a, b) => a + b, 0),
      decryptDropped: { ...s.decryptDropped },
      held: s.held,
      heldDropped: s.heldDropped,
    };
    notify();
    return s.senderKid;
  };

  const send = (msgs: Uint8Array<ArrayBuffer>[]): void => {
    for (const m of msgs) {
      if (ws?.readyState === WebSocket.OPEN) ws.send(m);
    }
  };

  /** apply handles a session call's output: events first (keys to the worker), then messages. */
  const apply = async (out: SessionOutput): Promise<void> => {
    let epochChanged = false;
    for (const ev of out.events) {
      switch (ev.type) {
        case 'epoch': {
          if (ev.baseKey === undefined) break;
          // The bytes are imported as a non-extractable key and zeroed.
          await e2ee.setEpoch(BigInt(ev.epoch), ev.baseKey, ev.leaf, { send: ev.canSend });
          epoch = ev.epoch;
          code = ev.securityCode;
          canSend = ev.canSend;
          epochChanged = true;
          break;
        }
        case 'roster': {
          members = ev.members;
          const present = new Set(ev.members.map((m) => m.participant));
          for (const p of [...hands]) if (!present.has(p)) hands.delete(p);
          for (const p of [...recorders]) if (!present.has(p)) recorders.delete(p);
          break;
        }
        case 'lobby':
          waiting = ev.waiting;
          break;
        case 'lobbyStatus':
          if (ev.refused) {
            refused = true;
            finish('refused');
          } else if (ev.waiting && phase === 'securing') phase = 'lobby';
          break;
        case 'chat':
          chat.push({ id: ++chatId, from: ev.from.displayName, kind: kindOf(ev.from.kind), self: false, text: ev.text, at: Date.now() });
          if (chat.length > maxChat) chat.splice(0, chat.length - maxChat);
          break;
        case 'status': {
          const set = ev.kind === 'hand' ? hands : recorders;
          if (ev.on) set.add(ev.from.participant);
          else set.delete(ev.from.participant);
          break;
        }
        case 'rejected':
          if (ev.what === 'attestation') fail('The meeting could not prove that it knows this link’s secret: the link is wrong or old, or the server is not honest.');
          rejections.push(`${ev.what}: ${ev.error}`);
          if (rejections.length > maxRejections) rejections.shift();
          break;
        case 'removed':
          removed = true;
          finish('removedFromGroup');
          break;
        case 'serverError':
          lastCode = ev.code;
          rejections.push(`server error ${ev.code}: ${ev.text}`);
          if (rejections.length > maxRejections) rejections.shift();
          break;
        case 'token':
          token = ev.token;
          break;
      }
    }
    send(out.send);
    if (out.error !== undefined) {
      rejections.push(`message refused: ${out.error}`);
      if (rejections.length > maxRejections) rejections.shift();
    }
    if (epochChanged && canSend) {
      // Members who joined in this epoch did not see earlier announcements.
      if (myHand) run((s) => s.sendStatus('hand', true));
      if (myRecording) run((s) => s.sendStatus('recording', true));
      if (keyed !== undefined) {
        // Keys are in place once the worker reports the KID it sends under.
        void waitForSenderKid().then(() => keyed?.());
      }
    }
    schedule();
    notify();
  };

  const waitForSenderKid = async (): Promise<void> => {
    for (let i = 0; i < 200 && !closed; i++) {
      if ((await pollStats()) !== '') return;
      await new Promise((r) => setTimeout(r, 25));
    }
    throw new Error('the encryption worker did not take the key');
  };

  /** run calls the session and applies its output, one call at a time. */
  const run = (f: (s: MlsSession) => SessionOutput): Promise<void> => {
    const p = queue.then(async () => {
      if (closed || session === undefined) return;
      await apply(f(session));
    });
    queue = p.catch((e: unknown) => {
      rejections.push(String(e instanceof Error ? e.message : e));
      if (rejections.length > maxRejections) rejections.shift();
    });
    return p;
  };

  const schedule = (): void => {
    if (closed || session === undefined) return;
    window.clearTimeout(tickTimer);
    const d = session.deadline();
    const wait = d === 0 ? 1000 : Math.min(1000, Math.max(1, d - Date.now()));
    tickTimer = window.setTimeout(() => void run((s) => s.tick()), wait);
  };

  let attempts = 0;
  /** connect opens /e2ee with the latest token (docs/e2ee-protocol.md, "Token refresh"). */
  const connect = (): void => {
    const sock = new WebSocket(e2eeURL(signalURL, token));
    sock.binaryType = 'arraybuffer';
    ws = sock;
    let opened = false;
    sock.onopen = () => {
      opened = true;
      attempts = 0;
      lastCode = 0;
      void run((s) => s.start());
    };
    sock.onmessage = (ev: MessageEvent<unknown>) => {
      if (!(ev.data instanceof ArrayBuffer)) return;
      const data = new Uint8Array(ev.data);
      void run((s) => s.handle(data));
    };
    sock.onclose = () => {
      if (ws !== sock || closed) return;
      // The messages that came before the close (a DS Error says why it
      // closes) are applied first: run queued them in order.
      void queue.then(() => {
        if (ws !== sock || closed || phase === 'failed') return;
        const next = afterE2EEClose({ lastCode, refused, removed, neverOpened: !opened, tokenExpired: tokenExpired(token, Date.now()), attempts });
        if (!next.redial) {
          finish(next.end);
          return;
        }
        attempts++;
        // Resume: the session says hello with its epoch; the server replays what we missed.
        // The URL is made at each attempt, from the token the server refreshed last.
        window.setTimeout(() => {
          if (!closed && phase !== 'failed') connect();
        }, next.delayMs);
      });
    };
  };

  const roster = (): RosterMember[] | undefined => {
    if (members === undefined) return undefined;
    const now = Date.now();
    const connected = new Set<string>();
    if (room !== undefined) {
      connected.add(room.localParticipant.identity);
      for (const p of room.remoteParticipants.values()) connected.add(p.identity);
    }
    return members.map((m) => {
      let notConnected = false;
      if (!m.self && room !== undefined && !connected.has(m.participant)) {
        const since = missingSince.get(m.participant) ?? now;
        missingSince.set(m.participant, since);
        notConnected = now - since > notConnectedGraceMs;
      } else {
        missingSince.delete(m.participant);
      }
      return {
        identity: m.participant,
        name: m.displayName,
        kind: kindOf(m.kind),
        self: m.self,
        hand: m.self ? myHand : hands.has(m.participant),
        recording: m.self ? myRecording : recorders.has(m.participant),
        notConnected,
      };
    });
  };

  const outsiders = (): Outsider[] => {
    if (room === undefined || members === undefined) return [];
    const inTree = new Set(members.map((m) => m.participant));
    const lobby = new Set(waiting.map((w) => w.participant));
    const now = Date.now();
    const out: Outsider[] = [];
    const seen = new Set<string>();
    for (const p of room.remoteParticipants.values()) {
      if (inTree.has(p.identity)) continue;
      seen.add(p.identity);
      const since = outsiderSince.get(p.identity) ?? now;
      outsiderSince.set(p.identity, since);
      const inLobby = lobby.has(p.identity);
      if (inLobby || now - since > outsiderGraceMs) out.push({ identity: p.identity, name: nameOf(p), inLobby });
    }
    for (const id of [...outsiderSince.keys()]) if (!seen.has(id)) outsiderSince.delete(id);
    return out;
  };

  return {
    keyProvider: e2ee.roomOptions.keyProvider,
    worker: e2ee.roomOptions.worker,
    async start(r, grant, signal) {
      room = r;
      const onRoom = (): void => notify();
      r.on(RoomEvent.ParticipantConnected, onRoom).on(RoomEvent.ParticipantDisconnected, onRoom);
      try {
        session = await MlsSession.create({
          participant: grant.identity,
          displayName: opts.name,
          kind: 'browser',
          roomId: opts.room,
          secret: opts.secret,
          forbidPhones: opts.forbidPhones === true,
        });
        signal.throwIfAborted();
        // Counters from the start: they show that nothing arrives or leaves before keys.
        statsTimer = window.setInterval(() => void pollStats().catch(() => undefined), statsIntervalMs);
        const ready = new Promise<void>((resolve, reject) => {
          keyed = resolve;
          keyFailed = reject;
          signal.addEventListener('abort', () => reject(signal.reason), { once: true });
        });
        signalURL = grant.url;
        token = grant.token;
        connect();
        await ready;
        keyed = undefined;
        signal.throwIfAborted();
        phase = 'secured';
      } catch (e) {
        if (phase !== 'failed') {
          phase = 'failed';
          failure ??= e instanceof Error ? e.message : String(e);
        }
        throw e;
      } finally {
        notify();
      }
    },
    info() {
      const r = roster();
      const phonesForbidden = session?.phonesForbidden() ?? false;
      return {
        phase,
        failure,
        end,
        summary: 'Encrypted end to end',
        explanation:
          'Audio, video and chat are encrypted in each member’s device with keys that only the members of the meeting hold (MLS and SFrame); the server relays them but cannot read them. The keys change whenever someone joins or leaves, and so does the security code. To be sure nobody is listening in, read the code aloud: if everyone sees the same code, everyone is talking to the same members and nobody in between.',
        epoch,
        securityCode: code,
        roster: r,
        outsiders: outsiders(),
        lobby: waiting.map((w) => ({ id: hex(w.ref), name: w.displayName, kind: kindOf(w.kind), badProof: w.badProof, forbidden: phonesForbidden && w.kind === 'phone' })),
        phonesForbidden,
        chat: chat.slice(),
        banners: bannersFor(r),
        rejections: rejections.slice(),
      };
    },
    onChange(fn) {
      listeners.add(fn);
      return () => listeners.delete(fn);
    },
    stats: () => stats,
    admit(id) {
      const w = waiting.find((x) => hex(x.ref) === id);
      // The session would refuse it too (ErrPhonesForbidden); do not try.
      if (w === undefined || (w.kind === 'phone' && session?.phonesForbidden() === true)) return;
      void run((s) => s.admit(w.ref));
    },
    refuse(id) {
      const w = waiting.find((x) => hex(x.ref) === id);
      if (w !== undefined) void run((s) => s.refuse(w.ref));
    },
    sendChat(text) {
      if (session === undefined || phase !== 'secured' || !canSend) throw new Error('Chat is available once the meeting is secured.');
      // Validate now so that the caller can tell the user; the send itself is queued.
      const out = session.sendChat(text);
      if (out.error !== undefined) throw new Error('The message could not be sent.');
      chat.push({ id: ++chatId, from: opts.name, kind: 'browser', self: true, text, at: Date.now() });
      if (chat.length > maxChat) chat.splice(0, chat.length - maxChat);
      queue = queue.then(() => apply(out)).catch(() => undefined);
      notify();
    },
    setHand(on) {
      myHand = on;
      void run((s) => s.sendStatus('hand', on));
      notify();
    },
    setRecording(on) {
      if (session === undefined || !canSend) throw new Error('Recording is available once the meeting is secured.');
      myRecording = on;
      void run((s) => s.sendStatus('recording', on));
      notify();
    },
    close() {
      closed = true;
      window.clearInterval(statsTimer);
      window.clearTimeout(tickTimer);
      if (ws !== undefined) {
        ws.onclose = null;
        ws.close();
      }
      session?.close();
      session = undefined;
      e2ee.terminate();
      listeners.clear();
    },
  };
}

function nameOf(p: Participant): string {
  const n = p.name?.trim();
  return n !== undefined && n !== '' ? n : 'Guest';
}
