package store

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestSQLiteMeetings(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s, err := OpenSQLite(ctx, filepath.Join(dir, "data"))
	if err != nil {
		t.Fatal(err)
	}
	h := sha256.Sum256([]byte("a"))
	t0 := time.Unix(1_700_000_000, 0)
	if err := s.CreateMeeting(ctx, h, t0); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateMeeting(ctx, h, t0); err == nil {
		t.Fatal("duplicate meeting accepted")
	}
	if err := s.TouchMeeting(ctx, h, t0.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if err := s.TouchMeeting(ctx, sha256.Sum256([]byte("b")), t0); !errors.Is(err, ErrNotFound) {
		t.Fatalf("touch unknown = %v, want ErrNotFound", err)
	}
	if n, err := s.PurgeIdle(ctx, t0.Add(30*time.Minute)); err != nil || n != 0 {
		t.Fatalf("purge = %d, %v; want 0 (touched later)", n, err)
	}
	if n, err := s.PurgeIdle(ctx, t0.Add(2*time.Hour)); err != nil || n != 1 {
		t.Fatalf("purge = %d, %v; want 1", n, err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	// The file is private to its owner.
	st, err := os.Stat(filepath.Join(dir, "data", "conclave.db"))
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm()&0o077 != 0 {
		t.Fatalf("database mode %v is readable by others", st.Mode().Perm())
	}
}

// TestSQLiteStoresOnlyHashes reopens the database file as bytes and checks
// that a room's hash is there but nothing else identifying was written.
func TestSQLiteStoresOnlyHashes(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s, err := OpenSQLite(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	roomID := []byte("ROOM-ID-THAT-MUST-NOT-BE-STORED")
	h := sha256.Sum256(roomID)
	if err := s.CreateMeeting(ctx, h, time.Now()); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	var all []byte
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, b...)
	}
	if !bytes.Contains(all, h[:]) {
		t.Fatal("hash not found in the database files: test is not looking at the right bytes")
	}
	if bytes.Contains(all, roomID) {
		t.Fatal("raw room id found in the database files")
	}
}

func TestSQLiteReopen(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s, err := OpenSQLite(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	h := sha256.Sum256([]byte("x"))
	if err := s.CreateMeeting(ctx, h, time.Now()); err != nil {
		t.Fatal(err)
	}
	s.Close()
	s, err = OpenSQLite(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if n, err := s.CountMeetings(ctx); err != nil || n != 1 {
		t.Fatalf("after reopen count = %d, %v", n, err)
	}
}
