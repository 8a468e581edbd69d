package dtmf

import (
	"errors"
	"testing"
)

func TestParseEvent(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   []byte
		want Event
		err  error
	}{
		{"digit 5 start", []byte{5, 10, 0, 160}, Event{Code: 5, Volume: 10, Duration: 160}, nil},
		{"hash end", []byte{11, 0x80 | 7, 0x03, 0x20}, Event{Code: 11, End: true, Volume: 7, Duration: 800}, nil},
		{"reserved bit ignored", []byte{1, 0x40 | 3, 0, 1}, Event{Code: 1, Volume: 3, Duration: 1}, nil},
		{"short", []byte{1, 2, 3}, Event{}, ErrShort},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseEvent(tc.in)
			if !errors.Is(err, tc.err) || got != tc.want {
				t.Fatalf("got %+v, %v; want %+v, %v", got, err, tc.want, tc.err)
			}
		})
	}
}

func TestDetector(t *testing.T) {
	var d Detector
	var got []byte
	feed := func(ts uint32, code uint8, end bool) {
		t.Helper()
		p := Event{Code: code, End: end, Volume: 10, Duration: 160}.Marshal(nil)
		if dg, ok, err := d.Packet(ts, p); err != nil {
			t.Fatal(err)
		} else if ok {
			got = append(got, dg)
		}
	}
	// "1" with three start packets and three end packets, then "1" again
	// (new timestamp), then "#" whose start packets were all lost.
	for range 3 {
		feed(1000, 1, false)
	}
	for range 3 {
		feed(1000, 1, true)
	}
	feed(2000, 1, false)
	feed(2000, 1, true)
	feed(3000, 11, true)
	feed(3000, 11, true)
	if string(got) != "11#" {
		t.Fatalf("digits %q, want %q", got, "11#")
	}
	if _, _, err := d.Packet(4000, []byte{16, 0, 0, 0}); !errors.Is(err, ErrNotDigit) {
		t.Fatalf("flash event: %v", err)
	}
}

func TestParseInfo(t *testing.T) {
	for _, tc := range []struct {
		name, ct, body string
		want           byte
		ok             bool
	}{
		{"relay", "application/dtmf-relay", "Signal=5\r\nDuration=160\r\n", '5', true},
		{"relay star", "Application/DTMF-Relay; x=y", "Signal= *\nDuration=100\n", '*', true},
		{"relay numeric hash", "application/dtmf-relay", "Signal=11\r\n", '#', true},
		{"relay lower d", "application/dtmf-relay", "Signal=d\r\n", 'D', true},
		{"plain", "application/dtmf", "9\r\n", '9', true},
		{"no signal", "application/dtmf-relay", "Duration=160\r\n", 0, false},
		{"bad digit", "application/dtmf-relay", "Signal=x\r\n", 0, false},
		{"out of range", "application/dtmf-relay", "Signal=16\r\n", 0, false},
		{"other type", "text/plain", "5", 0, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseInfo(tc.ct, []byte(tc.body))
			if tc.ok != (err == nil) || got != tc.want {
				t.Fatalf("got %q, %v", got, err)
			}
		})
	}
}

func FuzzParseEvent(f *testing.F) {
	f.Add([]byte{5, 10, 0, 160})
	f.Add([]byte{11, 0x8a, 3, 32, 1, 2, 3, 4})
	f.Fuzz(func(t *testing.T, b []byte) {
		ev, err := ParseEvent(b)
		if err != nil {
			if len(b) >= 4 {
				t.Fatalf("4+ bytes refused: %v", err)
			}
			return
		}
		// Round trip of the fields we keep (the R bit is dropped).
		enc := ev.Marshal(nil)
		want := []byte{b[0], b[1] &^ 0x40, b[2], b[3]}
		if string(enc) != string(want) {
			t.Fatalf("round trip %x -> %x", want, enc)
		}
	})
}

func FuzzParseInfo(f *testing.F) {
	f.Add("application/dtmf-relay", []byte("Signal=5\r\nDuration=160\r\n"))
	f.Add("application/dtmf", []byte("#"))
	f.Fuzz(func(t *testing.T, ct string, body []byte) {
		d, err := ParseInfo(ct, body)
		if err != nil {
			return
		}
		if _, err := Code(d); err != nil {
			t.Fatalf("returned non-digit %q", d)
		}
	})
}
