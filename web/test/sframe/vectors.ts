// Loads the official RFC 9605 vectors: $CONCLAVE_VECTORS/sframe/rfc9605.json,
// or ../shared/vectors/sframe/rfc9605.json beside the repository root (the
// folder holding go.mod). A missing file fails the test; it never skips.
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

export interface HeaderVector {
  kid: number | bigint;
  ctr: number | bigint;
  encoded: string;
}
export interface CtrHmacVector {
  cipher_suite: number;
  key: string;
  enc_key: string;
  auth_key: string;
  nonce: string;
  aad: string;
  pt: string;
  ct: string;
}
export interface SFrameVector {
  cipher_suite: number;
  kid: bigint;
  ctr: bigint;
  base_key: string;
  sframe_key_label: string;
  sframe_salt_label: string;
  sframe_secret: string;
  sframe_key: string;
  sframe_salt: string;
  metadata: string;
  nonce: string;
  aad: string;
  pt: string;
  ct: string;
}
export interface Vectors {
  header: { kid: bigint; ctr: bigint; encoded: string }[];
  aes_ctr_hmac: CtrHmacVector[];
  sframe: SFrameVector[];
}

function repoRoot(): string {
  let dir = process.cwd();
  for (;;) {
    if (existsSync(join(dir, 'go.mod'))) return dir;
    const up = dirname(dir);
    if (up === dir) throw new Error('vectors: no go.mod above the working directory');
    dir = up;
  }
}

export function vectorPath(): string {
  const root = process.env['CONCLAVE_VECTORS'] ?? join(repoRoot(), '..', 'shared', 'vectors');
  return join(root, 'sframe', 'rfc9605.json');
}

// KIDs and CTRs reach 2^64-1, beyond JSON numbers' exact range: read every
// integer of the file as a bigint.
function parseBig(text: string): unknown {
  const quoted = text.replace(/("(?:kid|ctr|cipher_suite)"\s*:\s*)(\d+)/g, '$1"$2"');
  return JSON.parse(quoted, (key, value: unknown) => {
    if ((key === 'kid' || key === 'ctr') && typeof value === 'string') return BigInt(value);
    if (key === 'cipher_suite' && typeof value === 'string') return Number(value);
    return value;
  });
}

export function loadVectors(): Vectors {
  const path = vectorPath();
  if (!existsSync(path)) throw new Error(`vectors: ${path} is missing (set CONCLAVE_VECTORS)`);
  const v = parseBig(readFileSync(path, 'utf8')) as Vectors;
  if (!v.header?.length || !v.aes_ctr_hmac?.length || !v.sframe?.length) throw new Error(`vectors: ${path} has an empty section`);
  return v;
}

export function hex(s: string): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(s.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(s.slice(2 * i, 2 * i + 2), 16);
  return out;
}

export function toHex(b: Uint8Array): string {
  return Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
}
