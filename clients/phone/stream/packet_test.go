package stream

import (
	"bytes"
	"testing"

	"github.com/pion/rtcp"
	"github.com/pion/rtp"
)

func TestDemux(t *testing.T) {
	rr, _ := (&rtcp.ReceiverReport{SSRC: 1}).Marshal()
	p, _ := (&rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 101, SSRC: 9}, Payload: []byte{1, 2, 3, 4}}).Marshal()
	if !IsRTCP(rr) || IsRTCP(p) {
		t.Fatal("demux by packet type")
	}
	if _, err := ParseRTP(rr[:8]); err == nil {
		t.Fatal("short packet parsed")
	}
	bad := append([]byte(nil), p...)
	bad[0] = 0x40 // version 1
	if _, err := ParseRTP(bad); err == nil {
		t.Fatal("version 1 parsed")
	}
}

// Network bytes: RTP and RTCP parse without panics, and accepted RTP
// packets round-trip through marshalling (header fields and payload).
func FuzzParseRTP(f *testing.F) {
	p, _ := (&rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 0, SequenceNumber: 5, Timestamp: 160, SSRC: 9}, Payload: make([]byte, 160)}).Marshal()
	f.Add(p)
	ext := &rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 96, SSRC: 1, CSRC: []uint32{7}}, Payload: []byte{0xfc, 1, 2}}
	_ = ext.SetExtension(1, []byte{0xaa})
	e, _ := ext.Marshal()
	f.Add(e)
	f.Fuzz(func(t *testing.T, b []byte) {
		pkt, err := ParseRTP(b)
		if err != nil {
			return
		}
		out, err := pkt.Marshal()
		if err != nil {
			t.Fatalf("re-marshal: %v", err)
		}
		again, err := ParseRTP(out)
		if err != nil {
			t.Fatalf("re-parse: %v", err)
		}
		if again.SequenceNumber != pkt.SequenceNumber || again.Timestamp != pkt.Timestamp ||
			again.SSRC != pkt.SSRC || again.PayloadType != pkt.PayloadType || !bytes.Equal(again.Payload, pkt.Payload) {
			t.Fatalf("round trip changed the packet")
		}
	})
}

func FuzzParseRTCP(f *testing.F) {
	sr, _ := (&rtcp.SenderReport{SSRC: 1, NTPTime: 2, RTPTime: 3, PacketCount: 4, OctetCount: 5}).Marshal()
	rr, _ := rtcp.Marshal([]rtcp.Packet{&rtcp.ReceiverReport{SSRC: 1, Reports: []rtcp.ReceptionReport{{SSRC: 2, Jitter: 3}}}, &rtcp.Goodbye{Sources: []uint32{1}}})
	f.Add(sr)
	f.Add(rr)
	f.Fuzz(func(t *testing.T, b []byte) {
		ps, err := ParseRTCP(b)
		if err != nil {
			return
		}
		if len(ps) == 0 {
			t.Fatal("no packets from an accepted compound packet")
		}
		if !IsRTCP(b) {
			// Every RTCP packet type is in 192-223 except the ones pion
			// reads as raw; demux must agree for the standard ones.
			if _, ok := ps[0].(*rtcp.RawPacket); !ok {
				t.Fatalf("parsed RTCP %T that the demux calls RTP", ps[0])
			}
		}
	})
}
