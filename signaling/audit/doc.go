// Package audit is the tamper-evident log of admin actions (DESIGN.md P7).
//
// Entries are appended to a SQLite table and chained: each entry carries the
// SHA-256 of the previous entry, and its own hash covers its sequence number,
// time, actor, action, target, source, result and that previous hash. Verify
// walks the chain and reports the first entry that was edited, removed or
// inserted out of order. Triggers refuse UPDATE and DELETE on the table, so
// the server cannot change history by mistake; the chain is what catches
// someone who edits the database file directly.
//
// A plain hash chain cannot tell that its newest entries were cut off, or
// that the whole chain was recomputed by someone with write access to the
// file. Both are caught by comparing against an anchor kept elsewhere: every
// append logs the new head (sequence number and hash) through slog, and
// `conclave admin audit verify --head SEQ:HASH` checks that a head recorded
// earlier is still part of the chain.
//
// What it must never see: secrets of any kind (API keys, passwords, TOTP
// codes, tokens), room IDs, display names or content. Targets are room keys,
// node IDs, API key IDs and admin names.
package audit
