// The MLS session of this member (Go package conclave/e2ee/session, compiled
// to WebAssembly by build.mjs as assets/session.wasm and started with Go's
// assets/wasm_exec.js). This file loads the module and types its API; the
// meeting's use of it is security-mls.ts.
//
// The module runs in the page: it performs no I/O and reads no clock, so
// every call is short (a commit or a Welcome is the longest, a few ms).
// Keys stay inside it, except each epoch's SFrame base key, which
// security-mls.ts hands to the SFrame worker as a non-extractable CryptoKey.

/** Kinds of client a credential names (docs/e2ee-protocol.md, "Identity"). */
export type ClientKind = 'browser' | 'bot' | 'phone' | 'unknown';

export interface MlsMember {
  leaf: number;
  participant: string;
  displayName: string;
  kind: ClientKind;
  detail: string;
  self: boolean;
}

export interface LobbyJoiner {
  ref: Uint8Array;
  participant: string;
  displayName: string;
  kind: ClientKind;
  detail: string;
  badProof: boolean;
}

export type SessionEvent =
  | { type: 'epoch'; epoch: number; securityCode: string; baseKey?: Uint8Array<ArrayBuffer>; leaf: number; canSend: boolean }
  | { type: 'roster'; members: MlsMember[] }
  | { type: 'lobby'; waiting: LobbyJoiner[] }
  | { type: 'lobbyStatus'; waiting: boolean; refused: boolean; admitted: boolean; reason: string }
  | { type: 'chat'; from: MlsMember; epoch: number; late: boolean; text: string }
  | { type: 'status'; from: MlsMember; epoch: number; kind: 'hand' | 'recording'; on: boolean }
  | { type: 'rejected'; what: string; error: string }
  | { type: 'removed' }
  | { type: 'serverError'; code: number; text: string }
  /** A fresh access token from the delivery service (a credential: never log or display it). */
  | { type: 'token'; token: string };

export interface SessionOutput {
  send: Uint8Array<ArrayBuffer>[];
  events: SessionEvent[];
  error?: string;
}

export interface SessionConfig {
  participant: string;
  displayName: string;
  kind: 'browser';
  roomId: string;
  /** The link's fragment secret, or undefined to knock. */
  secret: Uint8Array | undefined;
  /** If this member creates the group, forbid phone gateways in it (group context extension 0xF0C1). */
  forbidPhones?: boolean;
  log?: boolean;
}

type Handle = number;

/** The global the module installs (e2ee/session/wasm/main.go). */
interface ConclaveSessionAPI {
  create(cfg: SessionConfig): Handle | Error;
  start(h: Handle, nowMs: number): SessionOutput | Error;
  handle(h: Handle, msg: Uint8Array, nowMs: number): SessionOutput | Error;
  tick(h: Handle, nowMs: number): SessionOutput | Error;
  deadline(h: Handle): number | Error;
  admit(h: Handle, ref: Uint8Array, nowMs: number): SessionOutput | Error;
  refuse(h: Handle, ref: Uint8Array): SessionOutput | Error;
  sendChat(h: Handle, text: string): SessionOutput | Error;
  sendStatus(h: Handle, kind: 'hand' | 'recording', on: boolean): SessionOutput | Error;
  phonesForbidden(h: Handle): boolean | Error;
  close(h: Handle): null | Error;
}

/** Go's loader (wasm_exec.js). */
interface GoRuntime {
  importObject: WebAssembly.Imports;
  run(instance: WebAssembly.Instance): Promise<void>;
}

declare global {
  var conclaveSession: ConclaveSessionAPI | undefined;
  var Go: (new () => GoRuntime) | undefined;
}

export const wasmURL = '/assets/session.wasm';
export const wasmExecURL = '/assets/wasm_exec.js';

let loading: Promise<ConclaveSessionAPI> | undefined;

function loadScript(src: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const s = document.createElement('script');
    s.src = src;
    s.onload = () => resolve();
    s.onerror = () => reject(new Error(`could not load ${src}`));
    document.head.appendChild(s);
  });
}

/** loadSessionModule fetches and starts the module once per page. */
export function loadSessionModule(): Promise<ConclaveSessionAPI> {
  loading ??= (async () => {
    if (globalThis.Go === undefined) await loadScript(wasmExecURL);
    const GoCtor = globalThis.Go;
    if (GoCtor === undefined) throw new Error('wasm_exec.js did not define Go');
    const go = new GoCtor();
    const { instance } = await WebAssembly.instantiateStreaming(fetch(wasmURL, { cache: 'no-cache' }), go.importObject);
    void go.run(instance);
    const api = globalThis.conclaveSession;
    if (api === undefined) throw new Error('the MLS module did not start');
    return api;
  })();
  loading.catch(() => (loading = undefined));
  return loading;
}

function check<T>(v: T | Error): T {
  if (v instanceof Error) throw v;
  return v;
}

/** MlsSession is one member's session, named by its handle in the module. */
export class MlsSession {
  private constructor(
    private readonly api: ConclaveSessionAPI,
    private readonly h: Handle,
  ) {}

  static async create(cfg: SessionConfig): Promise<MlsSession> {
    const api = await loadSessionModule();
    return new MlsSession(api, check(api.create(cfg)));
  }

  start(): SessionOutput {
    return check(this.api.start(this.h, Date.now()));
  }
  handle(msg: Uint8Array): SessionOutput {
    return check(this.api.handle(this.h, msg, Date.now()));
  }
  tick(): SessionOutput {
    return check(this.api.tick(this.h, Date.now()));
  }
  /** deadline is when tick must next run, in ms since 1970 (0: only on input). */
  deadline(): number {
    return check(this.api.deadline(this.h));
  }
  admit(ref: Uint8Array): SessionOutput {
    return check(this.api.admit(this.h, ref, Date.now()));
  }
  refuse(ref: Uint8Array): SessionOutput {
    return check(this.api.refuse(this.h, ref));
  }
  sendChat(text: string): SessionOutput {
    return check(this.api.sendChat(this.h, text));
  }
  sendStatus(kind: 'hand' | 'recording', on: boolean): SessionOutput {
    return check(this.api.sendStatus(this.h, kind, on));
  }
  /** phonesForbidden reports whether the group's context forbids phone gateways (false before joining). */
  phonesForbidden(): boolean {
    return check(this.api.phonesForbidden(this.h));
  }
  close(): void {
    this.api.close(this.h);
  }
}
