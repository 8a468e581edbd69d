package audit

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"database/sql"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"
)

// ErrTampered is wrapped by Verify when the chain does not hold: an entry was
// edited, deleted, inserted or reordered, or a recorded head is missing.
var ErrTampered = errors.New("audit: log has been tampered with")

// maxField bounds every text field of an entry, so that a caller cannot turn
// the log into a store of arbitrary data.
const maxField = 256

// HashSize is the size of an entry hash (SHA-256).
const HashSize = sha256.Size

// Hash is the SHA-256 chaining value of an entry.
type Hash [HashSize]byte

// String is the lowercase hex form used on the command line.
func (h Hash) String() string { return hex.EncodeToString(h[:]) }

// Record is what a caller appends: who did what to which object, from where,
// and how it ended.
type Record struct {
	Actor  string // "key:<id>", "admin:<name>", "local:<user>"
	Action string // e.g. "meeting.end", "node.drain", "login"
	Target string // room key, node ID, key ID; empty if none
	Source string // client address of the admin API request, or "cli"
	Result string // "ok" or a short error text
}

// Entry is a Record placed in the chain.
type Entry struct {
	Seq  int64
	Time time.Time
	Record
	Prev Hash
	Hash Hash
}

// Head names the newest entry: its sequence number and hash. Admins record
// heads outside the server (the log line of every append carries one) to
// detect a truncated or recomputed chain later.
type Head struct {
	Seq  int64
	Hash Hash
}

// String formats h as SEQ:HASH.
func (h Head) String() string { return strconv.FormatInt(h.Seq, 10) + ":" + h.Hash.String() }

// ParseHead parses SEQ:HASH.
func ParseHead(s string) (Head, error) {
	seqStr, hashStr, ok := strings.Cut(s, ":")
	if !ok {
		return Head{}, fmt.Errorf("audit: head %q: want SEQ:HASH", s)
	}
	seq, err := strconv.ParseInt(seqStr, 10, 64)
	if err != nil || seq < 1 {
		return Head{}, fmt.Errorf("audit: head %q: bad sequence number", s)
	}
	b, err := hex.DecodeString(hashStr)
	if err != nil || len(b) != HashSize {
		return Head{}, fmt.Errorf("audit: head %q: hash must be %d bytes of hex", s, HashSize)
	}
	var h Head
	h.Seq = seq
	copy(h.Hash[:], b)
	return h, nil
}

// Log appends to and verifies the audit chain in a SQLite database.
// Safe for concurrent use, also by several processes sharing the file: two
// appends racing for the same sequence number cannot both commit.
type Log struct {
	db  *sql.DB
	log *slog.Logger
	now func() time.Time
}

// Open creates the audit table in db if needed and returns a Log. db should
// be opened with _txlock=immediate (as admin.OpenDB does), so that writers in
// several processes wait for each other instead of failing. logger
// (may be nil) receives one line per append with the new head.
func Open(ctx context.Context, db *sql.DB, logger *slog.Logger, now func() time.Time) (*Log, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if now == nil {
		now = time.Now
	}
	stmts := []string{
		`CREATE TABLE IF NOT EXISTS audit_log (
			seq INTEGER PRIMARY KEY,
			at INTEGER NOT NULL,
			actor TEXT NOT NULL,
			action TEXT NOT NULL,
			target TEXT NOT NULL,
			source TEXT NOT NULL,
			result TEXT NOT NULL,
			prev BLOB NOT NULL,
			hash BLOB NOT NULL
		)`,
		// Append-only by construction: the server never edits history. A
		// person with the file can drop these; the chain catches that.
		`CREATE TRIGGER IF NOT EXISTS audit_log_no_update BEFORE UPDATE ON audit_log
			BEGIN SELECT RAISE(ABORT, 'audit log is append-only'); END`,
		`CREATE TRIGGER IF NOT EXISTS audit_log_no_delete BEFORE DELETE ON audit_log
			BEGIN SELECT RAISE(ABORT, 'audit log is append-only'); END`,
	}
	for _, q := range stmts {
		if _, err := db.ExecContext(ctx, q); err != nil {
			return nil, fmt.Errorf("audit: create table: %w", err)
		}
	}
	return &Log{db: db, log: logger, now: now}, nil
}

// entryHash computes an entry's chaining value: SHA-256 over a domain label,
// then every field in a fixed order, each length-prefixed so that no two
// different entries encode alike, then the previous hash.
func entryHash(seq int64, at int64, r Record, prev Hash) Hash {
	h := sha256.New()
	h.Write([]byte("conclave audit v1\x00"))
	var n [8]byte
	binary.BigEndian.PutUint64(n[:], uint64(seq))
	h.Write(n[:])
	binary.BigEndian.PutUint64(n[:], uint64(at))
	h.Write(n[:])
	for _, f := range []string{r.Actor, r.Action, r.Target, r.Source, r.Result} {
		var l [2]byte
		binary.BigEndian.PutUint16(l[:], uint16(len(f)))
		h.Write(l[:])
		h.Write([]byte(f))
	}
	h.Write(prev[:])
	var out Hash
	h.Sum(out[:0])
	return out
}

func (r Record) check() error {
	if r.Actor == "" || r.Action == "" {
		return errors.New("audit: actor and action are required")
	}
	for _, f := range []string{r.Actor, r.Action, r.Target, r.Source, r.Result} {
		if len(f) > maxField {
			return fmt.Errorf("audit: field longer than %d bytes", maxField)
		}
	}
	return nil
}

// appendAttempts bounds retries when another writer took the next sequence
// number first.
const appendAttempts = 8

// Append adds r at the end of the chain and returns the new entry.
func (l *Log) Append(ctx context.Context, r Record) (Entry, error) {
	if err := r.check(); err != nil {
		return Entry{}, err
	}
	var lastErr error
	for range appendAttempts {
		e, err := l.tryAppend(ctx, r)
		if err == nil {
			l.log.Info("audit", "seq", e.Seq, "action", e.Action, "head", Head{Seq: e.Seq, Hash: e.Hash}.String())
			return e, nil
		}
		lastErr = err
		if ctx.Err() != nil {
			break
		}
	}
	return Entry{}, fmt.Errorf("audit: append: %w", lastErr)
}

func (l *Log) tryAppend(ctx context.Context, r Record) (Entry, error) {
	tx, err := l.db.BeginTx(ctx, nil)
	if err != nil {
		return Entry{}, err
	}
	defer tx.Rollback()
	var (
		seq  int64
		prev Hash
		pb   []byte
	)
	err = tx.QueryRowContext(ctx, `SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1`).Scan(&seq, &pb)
	switch {
	case errors.Is(err, sql.ErrNoRows):
	case err != nil:
		return Entry{}, err
	default:
		if len(pb) != HashSize {
			return Entry{}, fmt.Errorf("%w: entry %d has a malformed hash", ErrTampered, seq)
		}
		copy(prev[:], pb)
	}
	e := Entry{Seq: seq + 1, Time: l.now().UTC().Truncate(time.Microsecond), Record: r, Prev: prev}
	at := e.Time.UnixMicro()
	e.Hash = entryHash(e.Seq, at, r, prev)
	// seq is the primary key: a concurrent writer that read the same head
	// fails here instead of forking the chain.
	if _, err := tx.ExecContext(ctx, `INSERT INTO audit_log (seq, at, actor, action, target, source, result, prev, hash)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`, e.Seq, at, r.Actor, r.Action, r.Target, r.Source, r.Result, prev[:], e.Hash[:]); err != nil {
		return Entry{}, err
	}
	if err := tx.Commit(); err != nil {
		return Entry{}, err
	}
	return e, nil
}

// List returns up to limit entries with seq > after, oldest first.
func (l *Log) List(ctx context.Context, after int64, limit int) ([]Entry, error) {
	if limit <= 0 || limit > 1000 {
		limit = 1000
	}
	rows, err := l.db.QueryContext(ctx, `SELECT seq, at, actor, action, target, source, result, prev, hash
		FROM audit_log WHERE seq > ? ORDER BY seq LIMIT ?`, after, limit)
	if err != nil {
		return nil, fmt.Errorf("audit: list: %w", err)
	}
	defer rows.Close()
	var out []Entry
	for rows.Next() {
		e, err := scanEntry(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("audit: list: %w", err)
	}
	return out, nil
}

func scanEntry(rows *sql.Rows) (Entry, error) {
	var (
		e      Entry
		at     int64
		pb, hb []byte
	)
	if err := rows.Scan(&e.Seq, &at, &e.Actor, &e.Action, &e.Target, &e.Source, &e.Result, &pb, &hb); err != nil {
		return Entry{}, fmt.Errorf("audit: read entry: %w", err)
	}
	if len(pb) != HashSize || len(hb) != HashSize {
		return Entry{}, fmt.Errorf("%w: entry %d has a malformed hash", ErrTampered, e.Seq)
	}
	e.Time = time.UnixMicro(at).UTC()
	copy(e.Prev[:], pb)
	copy(e.Hash[:], hb)
	return e, nil
}

// Report is the outcome of a successful Verify.
type Report struct {
	Entries int64
	Head    Head // zero when the log is empty
}

// Verify walks the whole chain. It checks that sequence numbers run 1, 2, 3...
// without gaps, that every entry's hash is what its fields give, and that
// every entry names its predecessor's hash. For each anchor it also checks
// that the entry at that sequence number exists and has that hash, which is
// what detects a cut-off tail or a recomputed chain. The first problem found
// is returned wrapped in ErrTampered, naming the entry.
func (l *Log) Verify(ctx context.Context, anchors ...Head) (Report, error) {
	rows, err := l.db.QueryContext(ctx, `SELECT seq, at, actor, action, target, source, result, prev, hash
		FROM audit_log ORDER BY seq`)
	if err != nil {
		return Report{}, fmt.Errorf("audit: verify: %w", err)
	}
	defer rows.Close()
	want := make(map[int64]Hash, len(anchors))
	for _, a := range anchors {
		want[a.Seq] = a.Hash
	}
	var (
		rep  Report
		prev Hash
	)
	for rows.Next() {
		e, err := scanEntry(rows)
		if err != nil {
			return rep, err
		}
		next := rep.Head.Seq + 1
		switch {
		case e.Seq != next:
			return rep, fmt.Errorf("%w: entry %d is missing (next entry is %d)", ErrTampered, next, e.Seq)
		case subtle.ConstantTimeCompare(e.Prev[:], prev[:]) != 1:
			return rep, fmt.Errorf("%w: entry %d does not follow entry %d", ErrTampered, e.Seq, e.Seq-1)
		}
		got := entryHash(e.Seq, e.Time.UnixMicro(), e.Record, e.Prev)
		if got != e.Hash {
			return rep, fmt.Errorf("%w: entry %d was edited", ErrTampered, e.Seq)
		}
		if h, ok := want[e.Seq]; ok {
			if h != e.Hash {
				return rep, fmt.Errorf("%w: entry %d differs from the recorded head", ErrTampered, e.Seq)
			}
			delete(want, e.Seq)
		}
		prev = e.Hash
		rep.Entries++
		rep.Head = Head{Seq: e.Seq, Hash: e.Hash}
	}
	if err := rows.Err(); err != nil {
		return rep, fmt.Errorf("audit: verify: %w", err)
	}
	for seq := range want {
		return rep, fmt.Errorf("%w: recorded head %d is beyond the log's last entry %d (entries were cut off)", ErrTampered, seq, rep.Head.Seq)
	}
	return rep, nil
}
