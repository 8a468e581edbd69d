package g711

// μ-law (G.711 Table 2b): 14-bit magnitudes are biased by 33, the segment is
// the position of the highest set bit above bit 5 of the biased magnitude,
// and the 4-bit step is the next four bits. The code is sent inverted.
const (
	ulawBias = 0x84 // 33 in 14-bit units, ×4 for 16-bit input
	ulawClip = 32635
)

// EncodeUlaw returns the μ-law code of a 16-bit linear sample.
func EncodeUlaw(x int16) byte {
	v := int(x)
	sign := 0
	if v < 0 {
		// Magnitudes of negative values are taken of −x−1 so that the
		// negative range mirrors the positive one (G.711 Table 2b lists
		// symmetric decision values).
		v = -v - 1
		sign = 0x80
	}
	if v > ulawClip {
		v = ulawClip
	}
	v += ulawBias
	seg := 7
	for mask := 0x4000; seg > 0 && v&mask == 0; mask >>= 1 {
		seg--
	}
	step := (v >> (seg + 3)) & 0x0f
	return ^byte(sign | seg<<4 | step)
}

// DecodeUlaw returns the 16-bit reconstruction value of a μ-law code
// (G.711 Table 2b, "decoder output value"): (2·step + 33)·2^seg − 33 in
// 14-bit units, scaled by 4.
func DecodeUlaw(c byte) int16 {
	c = ^c
	seg := int(c>>4) & 7
	step := int(c & 0x0f)
	v := ((step<<3)+ulawBias)<<seg - ulawBias
	if c&0x80 != 0 {
		return int16(-v)
	}
	return int16(v)
}

// EncodeAlaw returns the A-law code of a 16-bit linear sample (G.711
// Table 1a): 13-bit magnitudes, segment 0 and 1 share a step of 2, each
// further segment doubles it; even bits are inverted on the line.
func EncodeAlaw(x int16) byte {
	v := int(x) >> 3 // 13-bit
	sign := 0x80     // A-law: bit 8 set means positive
	if v < 0 {
		v = -v - 1
		sign = 0
	}
	if v > 0xfff {
		v = 0xfff
	}
	var c int
	if v < 32 {
		c = v >> 1
	} else {
		seg := 1
		for v>>(seg+5) != 0 && seg < 7 {
			seg++
		}
		c = seg<<4 | (v>>seg)&0x0f
	}
	return byte(sign|c) ^ 0x55
}

// DecodeAlaw returns the 16-bit reconstruction value of an A-law code
// (G.711 Table 1a): 2·step + 1 in segment 0, (2·step + 33)·2^(seg−1) above,
// in 13-bit units scaled by 8.
func DecodeAlaw(c byte) int16 {
	c ^= 0x55
	seg := int(c>>4) & 7
	step := int(c & 0x0f)
	var v int
	if seg == 0 {
		v = 2*step + 1
	} else {
		v = (2*step + 33) << (seg - 1)
	}
	v <<= 3
	if c&0x80 == 0 {
		return int16(-v)
	}
	return int16(v)
}

// EncodeUlawFrame appends the μ-law codes of pcm to dst.
func EncodeUlawFrame(dst []byte, pcm []int16) []byte {
	for _, s := range pcm {
		dst = append(dst, EncodeUlaw(s))
	}
	return dst
}

// DecodeUlawFrame appends the samples of the μ-law codes in b to dst.
func DecodeUlawFrame(dst []int16, b []byte) []int16 {
	for _, c := range b {
		dst = append(dst, DecodeUlaw(c))
	}
	return dst
}

// EncodeAlawFrame appends the A-law codes of pcm to dst.
func EncodeAlawFrame(dst []byte, pcm []int16) []byte {
	for _, s := range pcm {
		dst = append(dst, EncodeAlaw(s))
	}
	return dst
}

// DecodeAlawFrame appends the samples of the A-law codes in b to dst.
func DecodeAlawFrame(dst []int16, b []byte) []int16 {
	for _, c := range b {
		dst = append(dst, DecodeAlaw(c))
	}
	return dst
}
