package opus

import (
	"math"
	"testing"
)

func goertzelPower(pcm []int16, freq, rate float64) float64 {
	k := 2 * math.Cos(2*math.Pi*freq/rate)
	var s1, s2 float64
	for _, x := range pcm {
		s := float64(x) + k*s1 - s2
		s2, s1 = s1, s
	}
	return s1*s1 + s2*s2 - k*s1*s2
}

func TestRoundTripKeepsTone(t *testing.T) {
	enc, err := NewEncoder(32000)
	if err != nil {
		t.Fatal(err)
	}
	defer enc.Close()
	dec, err := NewDecoder()
	if err != nil {
		t.Fatal(err)
	}
	defer dec.Close()
	var out []int16
	for f := 0; f < 50; f++ {
		pcm := make([]int16, FrameSamples)
		for i := range pcm {
			n := f*FrameSamples + i
			pcm[i] = int16(8000 * math.Sin(2*math.Pi*700*float64(n)/Rate))
		}
		pkt, err := enc.Encode(nil, pcm)
		if err != nil {
			t.Fatal(err)
		}
		if len(pkt) == 0 || len(pkt) > MaxPacket {
			t.Fatalf("packet of %d bytes", len(pkt))
		}
		out, err = dec.Decode(out, pkt)
		if err != nil {
			t.Fatal(err)
		}
	}
	if len(out) != 50*FrameSamples {
		t.Fatalf("decoded %d samples", len(out))
	}
	tail := out[len(out)/2:]
	on, off := goertzelPower(tail, 700, Rate), goertzelPower(tail, 1300, Rate)
	if on < 1000*off {
		t.Errorf("700 Hz power %.3g not above 1300 Hz power %.3g", on, off)
	}
	// Concealment produces a frame.
	plc, err := dec.Decode(nil, nil)
	if err != nil || len(plc) != FrameSamples {
		t.Errorf("PLC gave %d samples, %v", len(plc), err)
	}
}

func TestEncodeRejectsBadFrame(t *testing.T) {
	enc, err := NewEncoder(32000)
	if err != nil {
		t.Fatal(err)
	}
	defer enc.Close()
	if _, err := enc.Encode(nil, make([]int16, 100)); err == nil {
		t.Fatal("100-sample frame accepted")
	}
}

// Network bytes must never crash the decoder; a valid packet decodes to a
// whole number of 2.5 ms frames.
func FuzzDecode(f *testing.F) {
	enc, _ := NewEncoder(24000)
	pkt, _ := enc.Encode(nil, make([]int16, FrameSamples))
	enc.Close()
	f.Add(pkt)
	f.Add([]byte{0xfc, 0xff, 0xfe})
	f.Add([]byte{0x03, 0x83, 0x01})
	f.Fuzz(func(t *testing.T, b []byte) {
		dec, err := NewDecoder()
		if err != nil {
			t.Fatal(err)
		}
		defer dec.Close()
		out, err := dec.Decode(nil, b)
		if err == nil && len(out)%120 != 0 {
			t.Fatalf("%d samples is not a whole number of 2.5 ms frames", len(out))
		}
		if len(out) > MaxFrameSamples {
			t.Fatalf("%d samples", len(out))
		}
	})
}

func BenchmarkEncode20ms(b *testing.B) {
	enc, _ := NewEncoder(32000)
	defer enc.Close()
	pcm := make([]int16, FrameSamples)
	for i := range pcm {
		pcm[i] = int16(8000 * math.Sin(float64(i)/10))
	}
	buf := make([]byte, 0, MaxPacket)
	for b.Loop() {
		buf, _ = enc.Encode(buf[:0], pcm)
	}
}
