// Package store keeps the little state Conclave's server needs: which
// meetings exist (by the SHA-256 of their room ID, never the ID), when they
// were created and last joined. It holds no content, no names and no keys
// (DESIGN.md P5). SQLite (modernc.org/sqlite, no cgo) is the embedded default.
package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	_ "modernc.org/sqlite" // registers the "sqlite" driver
)

// ErrNotFound is returned when no meeting has the given hash.
var ErrNotFound = errors.New("store: not found")

// Meeting is a meeting's record. Hash is SHA-256 of the room ID.
type Meeting struct {
	Hash       [32]byte
	CreatedAt  time.Time
	LastJoinAt time.Time
}

// Store is what the server persists about meetings.
type Store interface {
	CreateMeeting(ctx context.Context, hash [32]byte, now time.Time) error
	// TouchMeeting records a join at now; it returns ErrNotFound for an
	// unknown hash.
	TouchMeeting(ctx context.Context, hash [32]byte, now time.Time) error
	// PurgeIdle deletes meetings whose last activity is before cutoff and
	// returns how many it removed.
	PurgeIdle(ctx context.Context, cutoff time.Time) (int64, error)
	CountMeetings(ctx context.Context) (int64, error)
	Close() error
}

// SQLite is the embedded Store.
type SQLite struct {
	db *sql.DB
}

var _ Store = (*SQLite)(nil)

const schemaVersion = 1

// OpenSQLite opens (creating if needed) the database conclave.db in dir.
// The folder is created with mode 0700.
func OpenSQLite(ctx context.Context, dir string) (*SQLite, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("store: create data dir: %w", err)
	}
	path := filepath.Join(dir, "conclave.db")
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=journal_mode(WAL)&_pragma=busy_timeout(5000)&_pragma=foreign_keys(1)&_pragma=secure_delete(1)")
	if err != nil {
		return nil, fmt.Errorf("store: open %s: %w", path, err)
	}
	db.SetMaxOpenConns(1) // SQLite writes are serial; one connection avoids SQLITE_BUSY
	s := &SQLite{db: db}
	if err := s.migrate(ctx); err != nil {
		db.Close()
		return nil, err
	}
	if err := os.Chmod(path, 0o600); err != nil {
		db.Close()
		return nil, fmt.Errorf("store: chmod %s: %w", path, err)
	}
	return s, nil
}

func (s *SQLite) migrate(ctx context.Context) error {
	var v int
	if err := s.db.QueryRowContext(ctx, "PRAGMA user_version").Scan(&v); err != nil {
		return fmt.Errorf("store: read schema version: %w", err)
	}
	switch {
	case v == schemaVersion:
		return nil
	case v > schemaVersion:
		return fmt.Errorf("store: database schema %d is newer than this binary's %d", v, schemaVersion)
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("store: migrate: %w", err)
	}
	defer tx.Rollback()
	stmts := []string{
		`CREATE TABLE IF NOT EXISTS meetings (
			hash BLOB PRIMARY KEY CHECK (length(hash) = 32),
			created_at INTEGER NOT NULL,
			last_join_at INTEGER NOT NULL
		) WITHOUT ROWID`,
		fmt.Sprintf("PRAGMA user_version = %d", schemaVersion),
	}
	for _, q := range stmts {
		if _, err := tx.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("store: migrate: %w", err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("store: migrate: %w", err)
	}
	return nil
}

// CreateMeeting records a new meeting.
func (s *SQLite) CreateMeeting(ctx context.Context, hash [32]byte, now time.Time) error {
	_, err := s.db.ExecContext(ctx, `INSERT INTO meetings (hash, created_at, last_join_at) VALUES (?, ?, ?)`,
		hash[:], now.Unix(), now.Unix())
	if err != nil {
		return fmt.Errorf("store: create meeting: %w", err)
	}
	return nil
}

// TouchMeeting records a join.
func (s *SQLite) TouchMeeting(ctx context.Context, hash [32]byte, now time.Time) error {
	res, err := s.db.ExecContext(ctx, `UPDATE meetings SET last_join_at = ? WHERE hash = ?`, now.Unix(), hash[:])
	if err != nil {
		return fmt.Errorf("store: touch meeting: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("store: touch meeting: %w", err)
	}
	if n == 0 {
		return ErrNotFound
	}
	return nil
}

// PurgeIdle deletes meetings idle since before cutoff.
func (s *SQLite) PurgeIdle(ctx context.Context, cutoff time.Time) (int64, error) {
	res, err := s.db.ExecContext(ctx, `DELETE FROM meetings WHERE last_join_at < ?`, cutoff.Unix())
	if err != nil {
		return 0, fmt.Errorf("store: purge: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("store: purge: %w", err)
	}
	return n, nil
}

// CountMeetings returns how many meetings are recorded.
func (s *SQLite) CountMeetings(ctx context.Context) (int64, error) {
	var n int64
	if err := s.db.QueryRowContext(ctx, `SELECT count(*) FROM meetings`).Scan(&n); err != nil {
		return 0, fmt.Errorf("store: count: %w", err)
	}
	return n, nil
}

// Close flushes and closes the database.
func (s *SQLite) Close() error {
	if _, err := s.db.Exec("PRAGMA wal_checkpoint(TRUNCATE)"); err != nil {
		s.db.Close()
		return fmt.Errorf("store: checkpoint: %w", err)
	}
	return s.db.Close()
}
