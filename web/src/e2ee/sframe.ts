// SFrame, RFC 9605, on WebCrypto: cipher suites (Section 4.5), header
// (Section 4.3), key derivation (Section 4.4.2), encryption and decryption
// with metadata (Sections 4.4.3, 4.4.4), per-KID replay windows, the MLS key
// binding (Section 5.2). It is the
// twin of the Go package conclave/e2ee/sframe and passes the same vectors.
//
// Keys are non-extractable CryptoKeys; raw key bytes exist only for the
// moment between HKDF and importKey. Nothing here logs.

/** Bytes backed by a plain ArrayBuffer, as WebCrypto wants them. */
export type Bytes = Uint8Array<ArrayBuffer>;

/** SFrame cipher suite identifiers, RFC 9605 Section 8.1. */
export const CipherSuite = {
  AES_128_CTR_HMAC_SHA256_80: 0x0001,
  AES_128_CTR_HMAC_SHA256_64: 0x0002,
  AES_128_CTR_HMAC_SHA256_32: 0x0003,
  AES_128_GCM_SHA256_128: 0x0004,
  AES_256_GCM_SHA512_128: 0x0005,
} as const;
export type CipherSuite = (typeof CipherSuite)[keyof typeof CipherSuite];

interface SuiteParams {
  readonly name: string;
  readonly hash: 'SHA-256' | 'SHA-512';
  readonly nk: number; // AEAD.Nk
  readonly nka: number; // AEAD.Nka, 0 for GCM
  readonly nt: number; // AEAD.Nt
}

const NONCE_SIZE = 12; // AEAD.Nn for every suite

const SUITES: ReadonlyMap<number, SuiteParams> = new Map([
  [0x0001, { name: 'AES_128_CTR_HMAC_SHA256_80', hash: 'SHA-256', nk: 48, nka: 16, nt: 10 }],
  [0x0002, { name: 'AES_128_CTR_HMAC_SHA256_64', hash: 'SHA-256', nk: 48, nka: 16, nt: 8 }],
  [0x0003, { name: 'AES_128_CTR_HMAC_SHA256_32', hash: 'SHA-256', nk: 48, nka: 16, nt: 4 }],
  [0x0004, { name: 'AES_128_GCM_SHA256_128', hash: 'SHA-256', nk: 16, nka: 0, nt: 16 }],
  [0x0005, { name: 'AES_256_GCM_SHA512_128', hash: 'SHA-512', nk: 32, nka: 0, nt: 16 }],
]);

/** Why an SFrame operation failed; mirrors the Go sentinels. */
export type SFrameErrorReason =
  | 'malformedHeader'
  | 'shortFrame'
  | 'unknownKey'
  | 'auth'
  | 'replay'
  | 'counterRange'
  | 'counterExhausted'
  | 'unsupportedSuite'
  | 'badKey'
  | 'tooManyKeys'
  | 'badLayout';

export class SFrameError extends Error {
  readonly reason: SFrameErrorReason;
  constructor(reason: SFrameErrorReason, message: string) {
    super(`sframe: ${message}`);
    this.name = 'SFrameError';
    this.reason = reason;
  }
}

export function suiteParams(suite: number): SuiteParams {
  const p = SUITES.get(suite);
  if (!p) throw new SFrameError('unsupportedSuite', `unsupported cipher suite ${suite}`);
  return p;
}

export function suiteName(suite: number): string {
  return SUITES.get(suite)?.name ?? `CipherSuite(0x${suite.toString(16)})`;
}

const subtle = (): SubtleCrypto => globalThis.crypto.subtle;
const MAX_U64 = (1n << 64n) - 1n;

// ---- Header, RFC 9605 Section 4.3 ----

export const MAX_HEADER_SIZE = 17;

export interface Header {
  readonly kid: bigint;
  readonly ctr: bigint;
}

function byteLen(v: bigint): number {
  let n = 0;
  for (let x = v; x > 0n; x >>= 8n) n++;
  return n;
}

/** Encodes an SFrame header: values below 8 inline, otherwise length-1 in
 * the config byte and the value big-endian in the fewest bytes, KID first. */
export function encodeHeader(kid: bigint, ctr: bigint): Bytes {
  if (kid < 0n || kid > MAX_U64 || ctr < 0n || ctr > MAX_U64) {
    throw new SFrameError('malformedHeader', 'KID and CTR must be 64-bit unsigned');
  }
  const klen = kid < 8n ? 0 : byteLen(kid);
  const clen = ctr < 8n ? 0 : byteLen(ctr);
  const out = new Uint8Array(1 + klen + clen);
  let config = 0;
  config |= klen === 0 ? Number(kid) << 4 : 0x80 | ((klen - 1) << 4);
  config |= clen === 0 ? Number(ctr) : 0x08 | (clen - 1);
  out[0] = config;
  for (let i = 0; i < klen; i++) out[klen - i] = Number((kid >> BigInt(8 * i)) & 0xffn);
  for (let i = 0; i < clen; i++) out[klen + clen - i] = Number((ctr >> BigInt(8 * i)) & 0xffn);
  return out;
}

/** Decodes the header at the start of b; rejects truncated and non-minimal
 * encodings. Returns the header and its length. */
export function parseHeader(b: Uint8Array): { header: Header; length: number } {
  const config = b[0];
  if (config === undefined) throw new SFrameError('malformedHeader', 'empty header');
  let off = 1;
  const field = (extended: boolean, value: number, name: string): bigint => {
    if (!extended) return BigInt(value);
    const n = value + 1;
    if (b.length - off < n) throw new SFrameError('malformedHeader', `${name} truncated`);
    if (b[off] === 0) throw new SFrameError('malformedHeader', `${name} has a leading zero byte`);
    let v = 0n;
    for (let i = 0; i < n; i++) v = (v << 8n) | BigInt(b[off + i] ?? 0);
    off += n;
    if (v < 8n) throw new SFrameError('malformedHeader', `${name} must be inline`);
    return v;
  };
  const kid = field((config & 0x80) !== 0, (config >> 4) & 7, 'KID');
  const ctr = field((config & 0x08) !== 0, config & 7, 'CTR');
  return { header: { kid, ctr }, length: off };
}

// ---- Key derivation, RFC 9605 Section 4.4.2 ----

const textEncoder = new TextEncoder();

function label(prefix: string, kid: bigint, suite: number): Bytes {
  const p = textEncoder.encode(prefix);
  const out = new Uint8Array(p.length + 10);
  out.set(p);
  const view = new DataView(out.buffer);
  view.setBigUint64(p.length, kid);
  view.setUint16(p.length + 8, suite);
  return out;
}

/** sframe_key_label: "SFrame 1.0 Secret key " + KID (8 bytes) + suite (2 bytes). */
export const keyLabel = (kid: bigint, suite: number): Bytes => label('SFrame 1.0 Secret key ', kid, suite);
/** sframe_salt_label: "SFrame 1.0 Secret salt " + KID + suite. */
export const saltLabel = (kid: bigint, suite: number): Bytes => label('SFrame 1.0 Secret salt ', kid, suite);

/** Imports base key bytes as a non-extractable HKDF key. */
export function importBaseKey(raw: Bytes): Promise<CryptoKey> {
  if (raw.length === 0) throw new SFrameError('badKey', 'empty base key');
  return subtle().importKey('raw', raw, 'HKDF', false, ['deriveBits', 'deriveKey']);
}

/** HKDF-Expand(HKDF-Extract("", baseKey), info, n) as bytes. Used for the
 * salt, the CTR suites' compound key and in tests. */
export async function hkdfBits(hash: 'SHA-256' | 'SHA-512', baseKey: CryptoKey, info: Bytes, n: number): Promise<Bytes> {
  const bits = await subtle().deriveBits({ name: 'HKDF', hash, salt: new Uint8Array(0), info }, baseKey, n * 8);
  return new Uint8Array(bits);
}

/** The AEAD of one KID: key(s) as non-extractable CryptoKeys and the salt. */
export class FrameKey {
  private constructor(
    readonly suite: CipherSuite,
    readonly kid: bigint,
    private readonly salt: Bytes,
    private readonly encKey: CryptoKey,
    private readonly authKey: CryptoKey | undefined,
    private readonly nt: number,
  ) {}

  /** derive_key_salt of Section 4.4.2, from a base key imported with importBaseKey. */
  static async derive(suite: CipherSuite, kid: bigint, baseKey: CryptoKey): Promise<FrameKey> {
    const p = suiteParams(suite);
    const salt = await hkdfBits(p.hash, baseKey, saltLabel(kid, suite), NONCE_SIZE);
    const info = { name: 'HKDF', hash: p.hash, salt: new Uint8Array(0), info: keyLabel(kid, suite) };
    if (p.nka === 0) {
      const key = await subtle().deriveKey(info, baseKey, { name: 'AES-GCM', length: p.nk * 8 }, false, ['encrypt', 'decrypt']);
      return new FrameKey(suite, kid, salt, key, undefined, p.nt);
    }
    const raw = new Uint8Array(await subtle().deriveBits(info, baseKey, p.nk * 8));
    try {
      return await FrameKey.fromCompoundKey(suite, kid, salt, raw);
    } finally {
      raw.fill(0);
    }
  }

  /** Builds a CTR+HMAC key from enc_key || auth_key (Section 4.5.1). */
  static async fromCompoundKey(suite: CipherSuite, kid: bigint, salt: Bytes, key: Bytes): Promise<FrameKey> {
    const p = suiteParams(suite);
    if (p.nka === 0 || key.length !== p.nk) throw new SFrameError('badKey', `${p.name} compound key must be ${p.nk} bytes`);
    const enc = await subtle().importKey('raw', key.slice(0, p.nka), 'AES-CTR', false, ['encrypt', 'decrypt']);
    const auth = await subtle().importKey('raw', key.slice(p.nka), { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']);
    return new FrameKey(suite, kid, salt, enc, auth, p.nt);
  }

  /** sframe_salt XOR CTR, CTR big-endian in AEAD.Nn bytes (Section 4.4.3). */
  nonce(ctr: bigint): Bytes {
    const n = this.salt.slice();
    const view = new DataView(n.buffer);
    view.setBigUint64(4, view.getBigUint64(4) ^ ctr);
    return n;
  }

  /** AEAD.Encrypt: returns ciphertext || tag. */
  async seal(nonce: Bytes, aad: Bytes, pt: Bytes): Promise<Bytes> {
    if (!this.authKey) {
      const ct = await subtle().encrypt({ name: 'AES-GCM', iv: nonce, additionalData: aad, tagLength: 128 }, this.encKey, pt);
      return new Uint8Array(ct);
    }
    const ct = new Uint8Array(await subtle().encrypt(ctrParams(nonce), this.encKey, pt));
    const tag = await this.tag(this.authKey, nonce, aad, ct);
    const out = new Uint8Array(ct.length + tag.length);
    out.set(ct);
    out.set(tag, ct.length);
    return out;
  }

  /** AEAD.Decrypt: throws SFrameError('auth') on any failure. */
  async open(nonce: Bytes, aad: Bytes, ct: Bytes): Promise<Bytes> {
    if (ct.length < this.nt) throw new SFrameError('auth', 'authentication failed');
    if (!this.authKey) {
      try {
        return new Uint8Array(await subtle().decrypt({ name: 'AES-GCM', iv: nonce, additionalData: aad, tagLength: 128 }, this.encKey, ct));
      } catch {
        throw new SFrameError('auth', 'authentication failed');
      }
    }
    const inner = ct.subarray(0, ct.length - this.nt);
    const want = await this.tag(this.authKey, nonce, aad, inner);
    if (!constantTimeEqual(want, ct.subarray(ct.length - this.nt))) throw new SFrameError('auth', 'authentication failed');
    return new Uint8Array(await subtle().encrypt(ctrParams(nonce), this.encKey, inner));
  }

  // compute_tag of Section 4.5.1.
  private async tag(authKey: CryptoKey, nonce: Bytes, aad: Bytes, ct: Uint8Array): Promise<Uint8Array> {
    const data = new Uint8Array(24 + nonce.length + aad.length + ct.length);
    const view = new DataView(data.buffer);
    view.setBigUint64(0, BigInt(aad.length));
    view.setBigUint64(8, BigInt(ct.length));
    view.setBigUint64(16, BigInt(this.nt));
    data.set(nonce, 24);
    data.set(aad, 24 + nonce.length);
    data.set(ct, 24 + nonce.length + aad.length);
    const mac = new Uint8Array(await subtle().sign('HMAC', authKey, data));
    return mac.subarray(0, this.nt);
  }
}

// AES-CTR with initial counter nonce || 0x00000000, 32 counter bits (Section 4.5.1).
function ctrParams(nonce: Bytes): AesCtrParams {
  const counter = new Uint8Array(16);
  counter.set(nonce);
  return { name: 'AES-CTR', counter, length: 32 };
}

function constantTimeEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let d = 0;
  for (let i = 0; i < a.length; i++) d |= (a[i] ?? 0) ^ (b[i] ?? 0);
  return d === 0;
}

function concat(a: Uint8Array, b: Uint8Array): Bytes {
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}

// ---- Sender, Section 4.4.3 ----

/** Encrypts under one KID with a counter that starts at 0 and never repeats. */
export class Sender {
  private next = 0n;
  private exhausted = false;
  private constructor(private readonly key: FrameKey) {}

  static async create(suite: CipherSuite, kid: bigint, baseKey: CryptoKey): Promise<Sender> {
    return new Sender(await FrameKey.derive(suite, kid, baseKey));
  }

  /** For tests: a sender whose next counter is ctr. */
  static async createAt(suite: CipherSuite, kid: bigint, baseKey: CryptoKey, ctr: bigint): Promise<Sender> {
    const s = await Sender.create(suite, kid, baseKey);
    s.next = ctr;
    return s;
  }

  get kid(): bigint {
    return this.key.kid;
  }

  get suite(): CipherSuite {
    return this.key.suite;
  }

  /** Returns header || ciphertext, with metadata authenticated, after
   * `reserve` bytes left zero for the caller: encryptFrame writes the
   * frame's clear prefix there instead of copying the whole frame again.
   * The counter is taken synchronously, so concurrent calls never share one. */
  async encrypt(metadata: Uint8Array, plaintext: Bytes, reserve = 0): Promise<Bytes> {
    if (this.exhausted) throw new SFrameError('counterExhausted', `kid ${this.kid} used every counter`);
    const ctr = this.next;
    if (ctr === MAX_U64) this.exhausted = true;
    else this.next = ctr + 1n;
    const header = encodeHeader(this.key.kid, ctr);
    const ct = await this.key.seal(this.key.nonce(ctr), concat(header, metadata), plaintext);
    const out = new Uint8Array(reserve + header.length + ct.length);
    out.set(header, reserve);
    out.set(ct, reserve + header.length);
    return out;
  }
}

// ---- Receiver, Section 4.4.4, with anti-replay (Section 9.3) ----

export const DEFAULT_REPLAY_WINDOW = 1024;
export const DEFAULT_MAX_COUNTER_JUMP = 1n << 24n;
export const DEFAULT_MAX_KEYS = 4096;

/** Sliding-window anti-replay on the CTR, as in RFC 3711 Section 3.3.2. */
export class ReplayWindow {
  private started = false;
  private top = 0n;
  private readonly seen: Uint32Array;
  constructor(
    private readonly size: number,
    private readonly maxJump: bigint,
  ) {
    this.seen = new Uint32Array(size / 32);
  }

  private index(c: bigint): [number, number] {
    const i = Number(c % BigInt(this.size));
    return [i >>> 5, 1 << (i & 31)];
  }

  /** Throws if c is a replay, too old, or too far ahead. */
  check(c: bigint): void {
    if (!this.started) return;
    if (c > this.top) {
      if (c - this.top > this.maxJump) throw new SFrameError('counterRange', `counter ${c} too far ahead`);
      return;
    }
    if (this.top - c >= BigInt(this.size)) throw new SFrameError('replay', `counter ${c} older than window`);
    const [w, m] = this.index(c);
    if (((this.seen[w] ?? 0) & m) !== 0) throw new SFrameError('replay', `counter ${c} replayed`);
  }

  /** Records an authenticated counter that check allowed. */
  accept(c: bigint): void {
    if (!this.started) {
      this.started = true;
      this.top = c;
    } else if (c > this.top) {
      if (c - this.top >= BigInt(this.size)) this.seen.fill(0);
      else {
        for (let x = this.top + 1n; x <= c; x++) {
          const [w, m] = this.index(x);
          this.seen[w] = (this.seen[w] ?? 0) & ~m;
        }
      }
      this.top = c;
    }
    const [w, m] = this.index(c);
    this.seen[w] = (this.seen[w] ?? 0) | m;
  }
}

/** Finds the base key (and its group, e.g. MLS epoch) of a KID not seen yet. */
export type BaseKeySource = (kid: bigint) => { baseKey: CryptoKey; group: number } | undefined;

interface RecvKey {
  readonly key: Promise<FrameKey>;
  readonly window: ReplayWindow;
  readonly group: number;
  readonly derived: boolean;
  authenticated: boolean;
}

export interface ReceiverOptions {
  replayWindow?: number;
  maxCounterJump?: bigint;
  maxKeys?: number;
}

/** Decrypts frames of many senders, with a key and replay window per KID.
 * Keys come from addKey or, with a source, are derived on first use. */
export class Receiver {
  private readonly keys = new Map<bigint, RecvKey>();
  private readonly window: number;
  private readonly maxJump: bigint;
  private readonly maxKeys: number;

  constructor(
    readonly suite: CipherSuite,
    opts: ReceiverOptions = {},
    private readonly source?: BaseKeySource,
  ) {
    suiteParams(suite);
    this.window = opts.replayWindow ?? DEFAULT_REPLAY_WINDOW;
    if (this.window < 64 || this.window > 65536 || this.window % 64 !== 0) {
      throw new SFrameError('badKey', `replay window ${this.window}: want a multiple of 64 in [64, 65536]`);
    }
    this.maxJump = opts.maxCounterJump ?? DEFAULT_MAX_COUNTER_JUMP;
    this.maxKeys = opts.maxKeys ?? DEFAULT_MAX_KEYS;
  }

  /** Installs (or replaces) the base key of kid. */
  async addKey(kid: bigint, baseKey: CryptoKey): Promise<void> {
    const key = FrameKey.derive(this.suite, kid, baseKey);
    await key;
    if (!this.keys.has(kid) && this.keys.size >= this.maxKeys) throw new SFrameError('tooManyKeys', 'key table full');
    this.keys.set(kid, { key, window: new ReplayWindow(this.window, this.maxJump), group: 0, derived: false, authenticated: true });
  }

  removeKey(kid: bigint): void {
    this.keys.delete(kid);
  }

  /** Forgets every derived key of group. */
  dropGroup(group: number): void {
    for (const [kid, k] of this.keys) if (k.derived && k.group === group) this.keys.delete(kid);
  }

  /** Authenticates and decrypts header || ciphertext with metadata. */
  async decrypt(metadata: Uint8Array, frame: Bytes): Promise<Bytes> {
    const { header, length } = parseHeader(frame);
    if (frame.length - length < suiteParams(this.suite).nt) throw new SFrameError('shortFrame', 'frame too short');
    let k = this.keys.get(header.kid);
    if (!k) {
      const src = this.source?.(header.kid);
      if (!src) throw new SFrameError('unknownKey', `no key for kid ${header.kid}`);
      if (this.keys.size >= this.maxKeys) throw new SFrameError('tooManyKeys', 'key table full');
      k = {
        key: FrameKey.derive(this.suite, header.kid, src.baseKey),
        window: new ReplayWindow(this.window, this.maxJump),
        group: src.group,
        derived: true,
        authenticated: false,
      };
      this.keys.set(header.kid, k);
    }
    const entry = k;
    entry.window.check(header.ctr);
    const hdr = frame.slice(0, length);
    try {
      const key = await entry.key;
      // WebCrypto copies its input when called: a view of the frame will do.
      const pt = await key.open(key.nonce(header.ctr), concat(hdr, metadata), frame.subarray(length));
      // Check again: another frame with this counter may have been accepted
      // while this one was being decrypted.
      entry.window.check(header.ctr);
      entry.window.accept(header.ctr);
      entry.authenticated = true;
      return pt;
    } catch (e) {
      // A derived key that never authenticated a frame is dropped, so frames
      // with made-up KIDs cannot fill the table.
      if (!entry.authenticated && this.keys.get(header.kid) === entry) this.keys.delete(header.kid);
      throw e;
    }
  }
}

// ---- MLS binding, RFC 9605 Section 5.2 ----

/** MLS-Exporter(label, context, length) of the epoch (RFC 9420, Section 8.5). */
export type Exporter = (label: string, context: Uint8Array, length: number) => Promise<Uint8Array>;

export const BASE_KEY_LABEL = 'SFrame 1.0 Base Key';

/** base_key = MLS-Exporter("SFrame 1.0 Base Key", "", AEAD.Nk), as a
 * non-extractable HKDF key. */
export async function mlsBaseKey(suite: CipherSuite, exporter: Exporter): Promise<CryptoKey> {
  const nk = suiteParams(suite).nk;
  const raw = await exporter(BASE_KEY_LABEL, new Uint8Array(0), nk);
  if (raw.length !== nk) throw new SFrameError('badKey', `exporter returned ${raw.length} bytes, want ${nk}`);
  const copy = new Uint8Array(raw);
  try {
    return await importBaseKey(copy);
  } finally {
    copy.fill(0);
  }
}

/** KID = (context << (S + E)) + (index << E) + (epoch % 2^E). */
export interface KidLayout {
  readonly epochBits: number; // E, 1..16
  readonly indexBits: number; // S, 1..32
}

/** Conclave's layout, the same as Go's DefaultKIDLayout. */
export const DEFAULT_KID_LAYOUT: KidLayout = { epochBits: 4, indexBits: 10 };

function validateLayout(l: KidLayout): void {
  if (!Number.isInteger(l.epochBits) || !Number.isInteger(l.indexBits) || l.epochBits < 1 || l.epochBits > 16 || l.indexBits < 1 || l.indexBits > 32) {
    throw new SFrameError('badLayout', `bad KID layout E=${l.epochBits} S=${l.indexBits}`);
  }
}

export function mlsKid(layout: KidLayout, context: bigint, index: number, epoch: bigint): bigint {
  validateLayout(layout);
  const e = BigInt(layout.epochBits);
  const s = BigInt(layout.indexBits);
  if (!Number.isInteger(index) || index < 0 || BigInt(index) >> s !== 0n) throw new SFrameError('badLayout', `leaf index ${index} does not fit`);
  if (context < 0n || context >> (64n - s - e) !== 0n) throw new SFrameError('badLayout', `context ${context} does not fit`);
  return (context << (s + e)) | (BigInt(index) << e) | (epoch & ((1n << e) - 1n));
}

export function splitKid(layout: KidLayout, kid: bigint): { context: bigint; index: number; epochBits: bigint } {
  const e = BigInt(layout.epochBits);
  const s = BigInt(layout.indexBits);
  return { context: kid >> (s + e), index: Number((kid >> e) & ((1n << s) - 1n)), epochBits: kid & ((1n << e) - 1n) };
}

interface Epoch {
  readonly epoch: bigint;
  readonly baseKey: CryptoKey;
  retireAt: number | undefined;
}

/** An MLS group's receiving side: a base key per live epoch, KID keys
 * derived lazily, older epochs retired graceMs after a newer one arrives
 * (the caller's clock, passed in as now). */
export class MlsReceiver {
  readonly receiver: Receiver;
  private readonly epochs = new Map<bigint, Epoch>();

  constructor(
    readonly suite: CipherSuite,
    readonly layout: KidLayout,
    readonly graceMs: number,
    opts: ReceiverOptions = {},
  ) {
    validateLayout(layout);
    this.receiver = new Receiver(suite, opts, (kid) => {
      const e = this.epochs.get(splitKid(this.layout, kid).epochBits);
      return e ? { baseKey: e.baseKey, group: Number(e.epoch) } : undefined;
    });
  }

  /** Adds epoch's base key at time now; older epochs start their grace
   * period, one with the same low bits is removed at once (Section 5.2). */
  addEpoch(epoch: bigint, baseKey: CryptoKey, now: number): void {
    const low = epoch & ((1n << BigInt(this.layout.epochBits)) - 1n);
    for (const [l, e] of this.epochs) {
      if (e.epoch >= epoch) throw new SFrameError('badLayout', `epoch ${epoch} is not newer than ${e.epoch}`);
      if (l === low) {
        this.epochs.delete(l);
        this.receiver.dropGroup(Number(e.epoch));
      } else if (e.retireAt === undefined) {
        e.retireAt = now + this.graceMs;
      }
    }
    this.epochs.set(low, { epoch, baseKey, retireAt: undefined });
  }

  /** Removes epochs whose grace period ended by now. */
  expire(now: number): void {
    for (const [l, e] of this.epochs) {
      if (e.retireAt !== undefined && now >= e.retireAt) {
        this.epochs.delete(l);
        this.receiver.dropGroup(Number(e.epoch));
      }
    }
  }

  /** has reports whether epoch's key is live. */
  has(epoch: bigint): boolean {
    return [...this.epochs.values()].some((e) => e.epoch === epoch);
  }

  liveEpochs(): bigint[] {
    return [...this.epochs.values()].map((e) => e.epoch);
  }

  decrypt(metadata: Uint8Array, frame: Bytes): Promise<Bytes> {
    return this.receiver.decrypt(metadata, frame);
  }
}
