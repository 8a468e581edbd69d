package g722

// qmf holds the even-indexed coefficients h0, h2, …, h22 of the 24-tap QMF
// (G.722 Table 11); the odd ones are the same values reversed (the filter
// is symmetric: h(i) = h(23−i)). Each branch sums to 4096.
var qmf = [12]int32{3, -11, 12, 32, -210, 951, 3876, -805, 362, -156, 53, -11}

// q6 holds the lower sub-band decision levels (Table 6), in the units of
// the scale factor, for magnitude intervals 1…29.
var q6 = [32]int32{
	0, 35, 72, 110, 150, 190, 233, 276, 323, 370, 422, 473, 530, 587, 650, 714,
	786, 858, 940, 1023, 1121, 1219, 1339, 1458, 1612, 1765, 1980, 2195, 2557, 2919, 0, 0,
}

// iln and ilp map a magnitude interval to the 6-bit code for a negative
// and a positive difference (Table 6).
var iln = [32]int32{
	0, 63, 62, 31, 30, 29, 28, 27, 26, 25, 24, 23, 22, 21, 20, 19,
	18, 17, 16, 15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 0,
}

var ilp = [32]int32{
	0, 61, 60, 59, 58, 57, 56, 55, 54, 53, 52, 51, 50, 49, 48, 47,
	46, 45, 44, 43, 42, 41, 40, 39, 38, 37, 36, 35, 34, 33, 32, 0,
}

// qm6 is the 6-bit inverse quantizer of the lower band (Table 7, INVQBL in
// mode 1); codes 0-3 are not produced by an encoder.
var qm6 = [64]int32{
	-136, -136, -136, -136, -24808, -21904, -19008, -16704,
	-14984, -13512, -12280, -11192, -10232, -9360, -8576, -7856,
	-7192, -6576, -6000, -5456, -4944, -4464, -4008, -3576,
	-3168, -2776, -2400, -2032, -1688, -1360, -1040, -728,
	24808, 21904, 19008, 16704, 14984, 13512, 12280, 11192,
	10232, 9360, 8576, 7856, 7192, 6576, 6000, 5456,
	4944, 4464, 4008, 3576, 3168, 2776, 2400, 2032,
	1688, 1360, 1040, 728, 432, 136, -432, -136,
}

// qm4 is the 4-bit inverse quantizer used in the predictor loop (Table 7,
// INVQAL), indexed by the code's four most significant bits.
var qm4 = [16]int32{
	0, -20456, -12896, -8968, -6288, -4240, -2584, -1200,
	20456, 12896, 8968, 6288, 4240, 2584, 1200, 0,
}

// rl42 maps the 4-bit code to the index of the scale factor multiplier wl
// (Table 8, LOGSCL).
var rl42 = [16]int32{0, 7, 6, 5, 4, 3, 2, 1, 7, 6, 5, 4, 3, 2, 1, 0}

// wl are the lower band's logarithmic scale factor multipliers (Table 8).
var wl = [8]int32{-60, -30, 58, 172, 334, 538, 1198, 3042}

// ilb is the inverse logarithm table used by SCALEL and SCALEH (Table 9):
// 2048·2^(i/32).
var ilb = [32]int32{
	2048, 2093, 2139, 2186, 2233, 2282, 2332, 2383,
	2435, 2489, 2543, 2599, 2656, 2714, 2774, 2834,
	2896, 2960, 3025, 3091, 3158, 3228, 3298, 3371,
	3444, 3520, 3597, 3676, 3756, 3838, 3922, 4008,
}

// Higher band (Tables 14-17): the 2-bit codes for small/large negative and
// positive differences, their inverse quantizer, and the scale factor
// multipliers.
var (
	ihn = [3]int32{0, 1, 0}
	ihp = [3]int32{0, 3, 2}
	qm2 = [4]int32{-7408, -1616, 7408, 1616}
	rh2 = [4]int32{2, 1, 2, 1}
	wh  = [3]int32{0, -214, 798}
)

// Limits of the scale factors (LOGSCL, LOGSCH) and the decision threshold
// of QUANTH.
const (
	nbLowMax  = 18432
	nbHighMax = 22528
	quanthM   = 564
)
