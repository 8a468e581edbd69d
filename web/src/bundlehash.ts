// The SHA-256 of the web bundle, computed in the browser over the files the
// server serves (DESIGN.md P8). Same definition as web/embed.go: SHA-256 over
// the sha256sum lines "<hex SHA-256 of file>  <path>\n" of every file, sorted
// bytewise by path. The list of files is assets/files.json, itself part of the
// bundle, so a server that serves an extra or a different file changes the hash.

const manifestPath = 'assets/files.json';

function hex(b: ArrayBuffer): string {
  return Array.from(new Uint8Array(b), (x) => x.toString(16).padStart(2, '0')).join('');
}

function compareBytewise(a: string, b: string): number {
  // Paths are ASCII (the build refuses others), so UTF-16 order is byte order.
  return a < b ? -1 : a > b ? 1 : 0;
}

async function fetchBytes(path: string, signal?: AbortSignal): Promise<ArrayBuffer> {
  const res = await fetch(`/${path}`, { cache: 'no-cache', signal });
  if (!res.ok) throw new Error(`bundle file ${path}: HTTP ${res.status}`);
  return res.arrayBuffer();
}

/** computeBundleHash fetches every file of the bundle and hashes them. */
export async function computeBundleHash(signal?: AbortSignal): Promise<string> {
  const list: unknown = JSON.parse(new TextDecoder().decode(await fetchBytes(manifestPath, signal)));
  if (!Array.isArray(list) || !list.every((p): p is string => typeof p === 'string' && /^[\x21-\x7e]+$/.test(p))) {
    throw new Error('bundle file list is malformed');
  }
  const paths = [...list].sort(compareBytewise);
  const sums = await Promise.all(paths.map(async (p) => hex(await crypto.subtle.digest('SHA-256', await fetchBytes(p, signal)))));
  const manifest = paths.map((p, i) => `${sums[i]}  ${p}\n`).join('');
  return hex(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(manifest)));
}
