package audit

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	_ "modernc.org/sqlite"
)

func openDB(t *testing.T, path string) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+path+"?_txlock=immediate&_pragma=journal_mode(WAL)&_pragma=busy_timeout(5000)")
	if err != nil {
		t.Fatal(err)
	}
	db.SetMaxOpenConns(1)
	t.Cleanup(func() { db.Close() })
	return db
}

func newLog(t *testing.T, n int) (*Log, *sql.DB) {
	t.Helper()
	db := openDB(t, filepath.Join(t.TempDir(), "admin.db"))
	clock := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	l, err := Open(context.Background(), db, nil, func() time.Time { clock = clock.Add(time.Second); return clock })
	if err != nil {
		t.Fatal(err)
	}
	for i := range n {
		if _, err := l.Append(context.Background(), Record{
			Actor: "key:k1", Action: "meeting.end", Target: fmt.Sprintf("room%02d", i), Source: "127.0.0.1", Result: "ok",
		}); err != nil {
			t.Fatal(err)
		}
	}
	return l, db
}

// unlock drops the append-only triggers, as someone editing the file would.
func unlock(t *testing.T, db *sql.DB) {
	t.Helper()
	for _, q := range []string{`DROP TRIGGER audit_log_no_update`, `DROP TRIGGER audit_log_no_delete`} {
		if _, err := db.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
}

func TestVerifyIntactChain(t *testing.T) {
	l, _ := newLog(t, 5)
	rep, err := l.Verify(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if rep.Entries != 5 || rep.Head.Seq != 5 {
		t.Fatalf("report %+v", rep)
	}
	es, err := l.List(context.Background(), 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	if es[0].Prev != (Hash{}) {
		t.Fatal("first entry must chain to the zero hash")
	}
	for i := 1; i < len(es); i++ {
		if es[i].Prev != es[i-1].Hash {
			t.Fatalf("entry %d does not name its predecessor", es[i].Seq)
		}
	}
	// A head recorded earlier still verifies as the log grows.
	mid := Head{Seq: es[2].Seq, Hash: es[2].Hash}
	if _, err := l.Append(context.Background(), Record{Actor: "admin:ada", Action: "login", Result: "ok"}); err != nil {
		t.Fatal(err)
	}
	if _, err := l.Verify(context.Background(), mid, rep.Head); err != nil {
		t.Fatalf("recorded heads: %v", err)
	}
}

func TestTriggersRefuseEdits(t *testing.T) {
	l, db := newLog(t, 2)
	if _, err := db.Exec(`UPDATE audit_log SET actor = 'x' WHERE seq = 1`); err == nil || !strings.Contains(err.Error(), "append-only") {
		t.Fatalf("update: %v", err)
	}
	if _, err := db.Exec(`DELETE FROM audit_log WHERE seq = 2`); err == nil || !strings.Contains(err.Error(), "append-only") {
		t.Fatalf("delete: %v", err)
	}
	if _, err := l.Verify(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func TestVerifyDetectsTampering(t *testing.T) {
	cases := []struct {
		name    string
		tamper  []string
		anchor  bool // verify against the head recorded before tampering
		wantMsg string
	}{
		{"edit actor", []string{`UPDATE audit_log SET actor = 'key:other' WHERE seq = 3`}, false, "entry 3 was edited"},
		{"edit result", []string{`UPDATE audit_log SET result = 'ok ' WHERE seq = 1`}, false, "entry 1 was edited"},
		{"edit time", []string{`UPDATE audit_log SET at = at + 1 WHERE seq = 5`}, false, "entry 5 was edited"},
		{"edit target of last", []string{`UPDATE audit_log SET target = '' WHERE seq = 6`}, false, "entry 6 was edited"},
		{"delete middle", []string{`DELETE FROM audit_log WHERE seq = 4`}, false, "entry 4 is missing"},
		{"delete first", []string{`DELETE FROM audit_log WHERE seq = 1`}, false, "entry 1 is missing"},
		{"delete and renumber", []string{
			`DELETE FROM audit_log WHERE seq = 4`,
			`UPDATE audit_log SET seq = seq - 1 WHERE seq > 4`,
		}, false, "entry 4 does not follow"},
		{"swap two", []string{
			`UPDATE audit_log SET seq = 100 WHERE seq = 2`,
			`UPDATE audit_log SET seq = 2 WHERE seq = 3`,
			`UPDATE audit_log SET seq = 3 WHERE seq = 100`,
		}, false, "entry 2 does not follow"},
		{"replace hash", []string{`UPDATE audit_log SET hash = zeroblob(32) WHERE seq = 2`}, false, "entry 2 was edited"},
		{"malformed hash", []string{`UPDATE audit_log SET hash = x'00' WHERE seq = 2`}, false, "malformed"},
		{"cut tail, anchored", []string{`DELETE FROM audit_log WHERE seq >= 5`}, true, "cut off"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			l, db := newLog(t, 6)
			before, err := l.Verify(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			unlock(t, db)
			for _, q := range tc.tamper {
				if _, err := db.Exec(q); err != nil {
					t.Fatalf("%s: %v", q, err)
				}
			}
			var anchors []Head
			if tc.anchor {
				anchors = append(anchors, before.Head)
			}
			_, err = l.Verify(context.Background(), anchors...)
			if !errors.Is(err, ErrTampered) || !strings.Contains(err.Error(), tc.wantMsg) {
				t.Fatalf("verify after tampering: %v, want ErrTampered mentioning %q", err, tc.wantMsg)
			}
		})
	}
}

// TestRecomputedChainNeedsAnchor shows the limit of an unkeyed chain and how
// the recorded head closes it: an edit followed by recomputing every later
// hash passes a bare Verify but not one against a head recorded earlier.
func TestRecomputedChainNeedsAnchor(t *testing.T) {
	l, db := newLog(t, 4)
	before, err := l.Verify(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	unlock(t, db)
	if _, err := db.Exec(`UPDATE audit_log SET actor = 'key:innocent' WHERE seq = 2`); err != nil {
		t.Fatal(err)
	}
	es, err := l.List(context.Background(), 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	var prev Hash
	for _, e := range es {
		h := entryHash(e.Seq, e.Time.UnixMicro(), e.Record, prev)
		if _, err := db.Exec(`UPDATE audit_log SET prev = ?, hash = ? WHERE seq = ?`, prev[:], h[:], e.Seq); err != nil {
			t.Fatal(err)
		}
		prev = h
	}
	if _, err := l.Verify(context.Background()); err != nil {
		t.Fatalf("a recomputed chain is self-consistent: %v", err)
	}
	if _, err := l.Verify(context.Background(), before.Head); !errors.Is(err, ErrTampered) {
		t.Fatalf("verify against recorded head: %v, want ErrTampered", err)
	}
}

// TestConcurrentWritersKeepOneChain appends from two handles on one file (as
// the server and the CLI do) and checks that the chain never forks.
func TestConcurrentWritersKeepOneChain(t *testing.T) {
	path := filepath.Join(t.TempDir(), "admin.db")
	var logs []*Log
	for range 2 {
		l, err := Open(context.Background(), openDB(t, path), nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		logs = append(logs, l)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 40)
	for i := range 40 {
		wg.Go(func() {
			_, err := logs[i%2].Append(context.Background(), Record{Actor: "local:root", Action: "key.create", Target: fmt.Sprint(i), Result: "ok"})
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	rep, err := logs[0].Verify(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if rep.Entries != 40 {
		t.Fatalf("%d entries, want 40", rep.Entries)
	}
}

func TestRecordLimits(t *testing.T) {
	l, _ := newLog(t, 0)
	bad := map[string]Record{
		"no actor":   {Action: "x"},
		"no action":  {Actor: "x"},
		"long field": {Actor: "x", Action: "y", Target: strings.Repeat("a", maxField+1)},
	}
	for name, r := range bad {
		t.Run(name, func(t *testing.T) {
			if _, err := l.Append(context.Background(), r); err == nil {
				t.Fatal("accepted")
			}
		})
	}
}

func TestParseHead(t *testing.T) {
	h := Head{Seq: 7, Hash: Hash{1, 2, 3}}
	got, err := ParseHead(h.String())
	if err != nil || got != h {
		t.Fatalf("round trip: %v %v", got, err)
	}
	for _, s := range []string{"", "7", "0:" + h.Hash.String(), "x:" + h.Hash.String(), "7:abcd", "7:" + strings.Repeat("zz", 32)} {
		if _, err := ParseHead(s); err == nil {
			t.Errorf("ParseHead(%q) accepted", s)
		}
	}
}
