package stream

import (
	"fmt"

	"conclave/clients/phone/jitter"
	"conclave/clients/phone/media/g711"
	"conclave/clients/phone/media/g722"
	"conclave/clients/phone/media/opus"
	"conclave/clients/phone/sdp"
)

// codec is one negotiated codec's encoder and decoder at its own rate.
type codec interface {
	encode(dst []byte, pcm []int16) ([]byte, error)
	decode(dst []int16, payload []byte) ([]int16, error)
	// conceal appends a replacement for one lost 20 ms frame.
	conceal(dst []int16) []int16
	close()
}

func newCodec(c sdp.Codec) (codec, error) {
	switch c {
	case sdp.PCMU:
		return &pcm8{enc: g711.EncodeUlawFrame, dec: g711.DecodeUlawFrame}, nil
	case sdp.PCMA:
		return &pcm8{enc: g711.EncodeAlawFrame, dec: g711.DecodeAlawFrame}, nil
	case sdp.G722:
		return &g722c{e: g722.NewEncoder(), d: g722.NewDecoder()}, nil
	case sdp.Opus:
		e, err := opus.NewEncoder(32000)
		if err != nil {
			return nil, err
		}
		d, err := opus.NewDecoder()
		if err != nil {
			e.Close()
			return nil, err
		}
		return &opusc{e: e, d: d}, nil
	}
	return nil, fmt.Errorf("stream: codec %v", c)
}

type pcm8 struct {
	enc func([]byte, []int16) []byte
	dec func([]int16, []byte) []int16
	plc jitter.Concealer
}

func (c *pcm8) encode(dst []byte, pcm []int16) ([]byte, error) { return c.enc(dst, pcm), nil }
func (c *pcm8) decode(dst []int16, p []byte) ([]int16, error) {
	n := len(dst)
	dst = c.dec(dst, p)
	c.plc.Good(dst[n:])
	return dst, nil
}
func (c *pcm8) conceal(dst []int16) []int16 { return c.plc.Conceal(dst, 160) }
func (c *pcm8) close()                      {}

type g722c struct {
	e   *g722.Encoder
	d   *g722.Decoder
	plc jitter.Concealer
}

func (c *g722c) encode(dst []byte, pcm []int16) ([]byte, error) { return c.e.Encode(dst, pcm) }
func (c *g722c) decode(dst []int16, p []byte) ([]int16, error) {
	n := len(dst)
	dst = c.d.Decode(dst, p)
	c.plc.Good(dst[n:])
	return dst, nil
}

// conceal repeats the last frame; the ADPCM predictors keep the state of
// the last good frame (G.722 Appendices III and IV describe better
// concealment; repetition is enough for rare losses on a LAN).
func (c *g722c) conceal(dst []int16) []int16 { return c.plc.Conceal(dst, 320) }
func (c *g722c) close()                      {}

type opusc struct {
	e *opus.Encoder
	d *opus.Decoder
}

func (c *opusc) encode(dst []byte, pcm []int16) ([]byte, error) { return c.e.Encode(dst, pcm) }
func (c *opusc) decode(dst []int16, p []byte) ([]int16, error)  { return c.d.Decode(dst, p) }
func (c *opusc) conceal(dst []int16) []int16 {
	out, err := c.d.Decode(dst, nil)
	if err != nil {
		return append(dst, make([]int16, opus.FrameSamples)...)
	}
	return out
}
func (c *opusc) close() { c.e.Close(); c.d.Close() }
