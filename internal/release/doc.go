// Package release makes Conclave's releases checkable (DESIGN.md P8): the
// SHA256SUMS file over a release's artifacts, and its signature with an
// Ed25519 key the admin holds, in minisign's formats, so that anyone can
// verify a release with the stock `minisign -V` tool or with
// `conclave admin release-verify`, without trusting the binary being checked.
//
// Formats (minisign 0.11, https://jedisct1.github.io/minisign/):
//
//   - public key: "untrusted comment: ..." then base64("Ed" || key ID (8
//     bytes) || Ed25519 public key (32 bytes));
//   - secret key (unencrypted only: "Ed", KDF "\0\0", checksum "B2", 32-byte
//     salt, two 8-byte KDF limits, all zero, then key ID || Ed25519 secret
//     key (64 bytes) || 32-byte checksum); encrypted minisign keys are
//     refused, sign with minisign itself then;
//   - signature: "untrusted comment: ..." then base64("ED" || key ID ||
//     Ed25519 signature over BLAKE2b-512 of the file), "trusted comment: TC",
//     then base64(Ed25519 signature over the first signature || TC). Legacy
//     "Ed" signatures (over the file itself) are verified too.
//
// Ed25519 is RFC 8032; BLAKE2b is RFC 7693. The package reads only the files
// it is given and never sees meeting data. Parsers of keys and signatures
// bound their input and never panic (FuzzVerify).
package release
