package loadtest

import (
	"strings"
	"testing"
	"time"

	"conclave/clients/bot"
)

// TestRotationLatency checks how one receiver's epoch history turns into
// the key-rotation latency of one membership change.
func TestRotationLatency(t *testing.T) {
	t0 := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	rec := func(epoch uint64, opened time.Time, members ...string) bot.EpochRecord {
		return bot.EpochRecord{Epoch: epoch, Members: members, FirstOpen: opened}
	}
	cases := []struct {
		name            string
		kind, identity  string
		hist            []bot.EpochRecord
		want            time.Duration
		applies, isDone bool
	}{
		{"leave: first frame of the epoch without the leaver", eventLeave, "x",
			[]bot.EpochRecord{rec(3, at(-900), "r", "x"), rec(4, at(700), "r"), rec(5, at(1500), "r", "y")},
			700 * time.Millisecond, true, true},
		{"vanish: a later epoch's frame came first", eventVanish, "x",
			[]bot.EpochRecord{rec(3, at(-900), "r", "x"), rec(4, time.Time{}, "r"), rec(5, at(5200), "r", "y")},
			5200 * time.Millisecond, true, true},
		{"leave: not committed yet", eventLeave, "x",
			[]bot.EpochRecord{rec(3, at(-900), "r", "x")}, 0, true, false},
		{"leave: committed, nothing decrypted yet", eventLeave, "x",
			[]bot.EpochRecord{rec(3, at(-900), "r", "x"), rec(4, time.Time{}, "r")}, 0, true, false},
		{"leave: the leaver never was in the receiver's group", eventLeave, "x",
			[]bot.EpochRecord{rec(3, at(-900), "r")}, 0, false, false},
		{"join: first frame of the epoch with the joiner", eventJoin, "y",
			[]bot.EpochRecord{rec(3, at(-900), "r"), rec(4, at(250), "r", "y")},
			250 * time.Millisecond, true, true},
		{"join: the receiver came after the joiner", eventJoin, "y",
			[]bot.EpochRecord{rec(4, at(250), "r", "y")}, 0, false, false},
		{"join: not added yet", eventJoin, "y",
			[]bot.EpochRecord{rec(3, at(-900), "r")}, 0, true, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			d, applies, done := rotationLatency(tc.kind, tc.identity, t0, tc.hist)
			if d != tc.want || applies != tc.applies || done != tc.isDone {
				t.Errorf("got %v applies %v done %v, want %v %v %v", d, applies, done, tc.want, tc.applies, tc.isDone)
			}
		})
	}
}

// TestCompareKeyRotation: compare shows the key-rotation medians of the
// MLS-keyed runs and "n/a" for a server whose runs have none, with no
// ratio; a run's report says why it has none.
func TestCompareKeyRotation(t *testing.T) {
	c := func(p50, p95 float64) *Result {
		return &Result{Server: ServerConclave, Scenario: ScenarioChurn, Publishers: 6, Participants: 6, Keying: KeyingMLS,
			KeyRotationMS:        &MSStats{Count: 40, P50: p50, P95: p95, Max: p95 + 1},
			KeyRotationByEventMS: map[string]*MSStats{eventJoin: {Count: 30, P50: p50 - 10, P95: p50, Max: p50}}}
	}
	lk := &Result{Server: ServerLiveKit, Scenario: ScenarioChurn, Publishers: 6, Participants: 6, Keying: KeyingBench}
	md := Compare("t", ServerLiveKit, []*Result{c(200, 5000), c(220, 5200), c(300, 5400), lk}, nil)
	for _, want := range []string{
		"| key rotation, median (ms) (-) | 220 [200-300] n=3 | n/a | - |",
		"| key rotation, p95 (ms) (-) | 5200 [5000-5400] n=3 | n/a | - |",
		"| key rotation after a join, median (ms) (-) | 210 [190-290] n=3 | n/a | - |",
		"| key rotation after a leave, median (ms) (-) | n/a | n/a | - |",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("compare lacks %q:\n%s", want, md)
		}
	}
	for _, tc := range []struct {
		name string
		r    *Result
		want string
	}{
		{"no MLS", lk, "| key rotation (ms), changes x receivers / median / p95 / max | n/a (no MLS) |"},
		{"no change", &Result{KeyRotationMS: &MSStats{}}, "| key rotation, median (ms) | n/a (no membership change) |"},
		{"measured", c(200, 5000), "| key rotation (ms), changes x receivers / median / p95 / max | 40 / 200 / 5000 / 5001 |"},
		{"by change", c(200, 5000), "| key rotation after a join (ms), changes x receivers / median / p95 / max | 30 / 190 / 200 / 200 |"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if md := MarkdownResult(tc.r); !strings.Contains(md, tc.want) {
				t.Errorf("report lacks %q:\n%s", tc.want, md)
			}
		})
	}
}
