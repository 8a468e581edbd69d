package g722

import "errors"

// ErrOddFrame: Encode was given an odd number of samples (the QMF consumes
// pairs).
var ErrOddFrame = errors.New("g722: odd number of samples")

// band is the state of one sub-band's ADPCM loop (G.722 Section 3.6): the
// predictor's signal estimate s and zero-section estimate sz, the last
// quantized differences d, reconstructed signals r and partial signals p,
// the pole (a) and zero (b) predictor coefficients, and the scale factor
// (nb logarithmic, det linear).
type band struct {
	s, sp, sz int32
	r         [3]int32
	a, ap     [3]int32
	p         [3]int32
	d         [7]int32
	b, bp     [7]int32
	nb, det   int32
}

func sat16(x int32) int32 {
	if x > 32767 {
		return 32767
	}
	if x < -32768 {
		return -32768
	}
	return x
}

func clamp(x, lo, hi int32) int32 {
	if x < lo {
		return lo
	}
	if x > hi {
		return hi
	}
	return x
}

// sign is 0 for non-negative values and −1 for negative ones: the sign bit
// the recommendation's SG blocks take.
func sign(x int32) int32 { return x >> 15 }

// adapt is the predictor update of Section 3.6 for a new quantized
// difference d: PARREC, RECONS, UPPOL2, UPPOL1, UPZERO, DELAYA, FILTEP,
// FILTEZ and PREDIC, in that order.
func (b *band) adapt(d int32) {
	b.d[0] = d
	b.r[0] = sat16(b.s + d)  // RECONS
	b.p[0] = sat16(b.sz + d) // PARREC

	// UPPOL2: second pole coefficient.
	sg0, sg1, sg2 := sign(b.p[0]), sign(b.p[1]), sign(b.p[2])
	wd1 := sat16(b.a[1] << 2)
	wd2 := wd1
	if sg0 == sg1 {
		wd2 = -wd1
	}
	if wd2 > 32767 {
		wd2 = 32767
	}
	wd3 := wd2 >> 7
	if sg0 == sg2 {
		wd3 += 128
	} else {
		wd3 -= 128
	}
	wd3 += (b.a[2] * 32512) >> 15
	b.ap[2] = clamp(wd3, -12288, 12288)

	// UPPOL1: first pole coefficient, limited by the second.
	wd1 = -192
	if sg0 == sg1 {
		wd1 = 192
	}
	wd2 = (b.a[1] * 32640) >> 15
	b.ap[1] = sat16(wd1 + wd2)
	lim := sat16(15360 - b.ap[2])
	b.ap[1] = clamp(b.ap[1], -lim, lim)

	// UPZERO: six zero coefficients, sign-sign LMS with leakage.
	var step int32
	if d != 0 {
		step = 128
	}
	sgd := sign(d)
	for i := 1; i < 7; i++ {
		w := -step
		if sign(b.d[i]) == sgd {
			w = step
		}
		b.bp[i] = sat16(w + (b.b[i]*32640)>>15)
	}

	// DELAYA
	for i := 6; i > 0; i-- {
		b.d[i] = b.d[i-1]
		b.b[i] = b.bp[i]
	}
	for i := 2; i > 0; i-- {
		b.r[i] = b.r[i-1]
		b.p[i] = b.p[i-1]
		b.a[i] = b.ap[i]
	}

	// FILTEP: pole section.
	wd1 = (b.a[1] * sat16(b.r[1]+b.r[1])) >> 15
	wd2 = (b.a[2] * sat16(b.r[2]+b.r[2])) >> 15
	b.sp = sat16(wd1 + wd2)

	// FILTEZ: zero section.
	var sz int32
	for i := 6; i > 0; i-- {
		sz += (b.b[i] * sat16(b.d[i]+b.d[i])) >> 15
	}
	b.sz = sat16(sz)

	// PREDIC
	b.s = sat16(b.sp + b.sz)
}

// scale computes det from nb (SCALEL with shift base 8, SCALEH with 10).
func scale(nb, base int32) int32 {
	wd1 := (nb >> 6) & 31
	wd2 := base - (nb >> 11)
	var wd3 int32
	if wd2 < 0 {
		wd3 = ilb[wd1] << -wd2
	} else {
		wd3 = ilb[wd1] >> wd2
	}
	return wd3 << 2
}

// lowUpdate runs INVQAL, LOGSCL and SCALEL for a lower band code and
// adapts the predictor (Sections 3.4-3.6).
func (b *band) lowUpdate(code int32) {
	ril := code >> 2
	dlt := (b.det * qm4[ril]) >> 15 // INVQAL
	nb := (b.nb*127)>>7 + wl[rl42[ril]]
	b.nb = clamp(nb, 0, nbLowMax) // LOGSCL
	b.det = scale(b.nb, 8)        // SCALEL
	b.adapt(dlt)
}

// highUpdate runs INVQAH, LOGSCH and SCALEH for a higher band code and
// adapts the predictor (Section 3.7).
func (b *band) highUpdate(code int32) {
	dh := (b.det * qm2[code]) >> 15 // INVQAH
	nb := (b.nb*127)>>7 + wh[rh2[code]]
	b.nb = clamp(nb, 0, nbHighMax) // LOGSCH
	b.det = scale(b.nb, 10)        // SCALEH
	b.adapt(dh)
}

func newBands() [2]band {
	// Initial scale factors (Section 6, reset): det = 32 lower, 8 higher.
	return [2]band{{det: 32}, {det: 8}}
}

// Encoder is a G.722 mode 1 encoder; it keeps the QMF and ADPCM state of
// one stream. The zero value is not ready: use NewEncoder.
type Encoder struct {
	x    [24]int32
	band [2]band
}

// NewEncoder returns an encoder in the reset state of Section 6.
func NewEncoder() *Encoder { return &Encoder{band: newBands()} }

// Encode appends the codes of pcm (16 kHz, 16-bit, an even number of
// samples) to dst: one octet per pair of samples, the upper band's two
// bits above the lower band's six (Section 1.4, Figure 3).
func (e *Encoder) Encode(dst []byte, pcm []int16) ([]byte, error) {
	if len(pcm)%2 != 0 {
		return dst, ErrOddFrame
	}
	for j := 0; j < len(pcm); j += 2 {
		// Transmit QMF (Section 3.1): two new samples in, one low and one
		// high band sample out. 16-bit input gives 15-bit sub-band
		// signals, the ADPCM's range.
		copy(e.x[:], e.x[2:])
		e.x[22] = int32(pcm[j])
		e.x[23] = int32(pcm[j+1])
		var odd, even int32
		for i := 0; i < 12; i++ {
			odd += e.x[2*i] * qmf[i]
			even += e.x[2*i+1] * qmf[11-i]
		}
		xl := (even + odd) >> 14
		xh := (even - odd) >> 14

		// Lower band: SUBTRA and QUANTL (Section 3.3).
		lo := &e.band[0]
		el := sat16(xl - lo.s)
		wd := el
		if el < 0 {
			wd = -(el + 1)
		}
		i := int32(1)
		for ; i < 30; i++ {
			if wd < (q6[i]*lo.det)>>12 {
				break
			}
		}
		il := ilp[i]
		if el < 0 {
			il = iln[i]
		}
		lo.lowUpdate(il)

		// Higher band: SUBTRA and QUANTH (Section 3.7).
		hi := &e.band[1]
		eh := sat16(xh - hi.s)
		wd = eh
		if eh < 0 {
			wd = -(eh + 1)
		}
		mih := int32(1)
		if wd >= (quanthM*hi.det)>>12 {
			mih = 2
		}
		ih := ihp[mih]
		if eh < 0 {
			ih = ihn[mih]
		}
		hi.highUpdate(ih)

		dst = append(dst, byte(ih<<6|il))
	}
	return dst, nil
}

// Decoder is a G.722 mode 1 decoder. The zero value is not ready: use
// NewDecoder.
type Decoder struct {
	x    [24]int32
	band [2]band
}

// NewDecoder returns a decoder in the reset state of Section 6.
func NewDecoder() *Decoder { return &Decoder{band: newBands()} }

// Decode appends two 16 kHz samples per code in codes to dst (Section 4).
func (d *Decoder) Decode(dst []int16, codes []byte) []int16 {
	for _, c := range codes {
		il := int32(c & 0x3f)
		ih := int32(c >> 6)

		// Lower band: INVQBL gives the reconstructed signal (Section 4.2).
		lo := &d.band[0]
		rl := clamp(lo.s+(lo.det*qm6[il])>>15, -16384, 16383)
		lo.lowUpdate(il)

		// Higher band (Section 4.3).
		hi := &d.band[1]
		dh := (hi.det * qm2[ih]) >> 15
		rh := clamp(hi.s+dh, -16384, 16383)
		hi.highUpdate(ih)

		// Receive QMF (Section 4.4).
		copy(d.x[:], d.x[2:])
		d.x[22] = rl + rh
		d.x[23] = rl - rh
		var o1, o2 int32
		for i := 0; i < 12; i++ {
			o2 += d.x[2*i] * qmf[i]
			o1 += d.x[2*i+1] * qmf[11-i]
		}
		dst = append(dst, int16(sat16(o1>>11)), int16(sat16(o2>>11)))
	}
	return dst
}
