package loadtest

import (
	"math"
	"math/rand/v2"
	"slices"
)

// Permutation test limits: up to exactSplits ways to split the pooled runs
// are all enumerated; beyond that, randomSplits are drawn.
const (
	exactSplits  = 20000
	randomSplits = 20000
)

// rankSumP is the two-sided p-value of the Mann-Whitney U test of the runs
// a against the runs b, computed by permutation: the share of the ways to
// split the pooled values into groups of len(a) and len(b) whose U statistic
// is at least as far from its mean as a's is. A large p means the runs cannot
// tell the two apart: their difference is within run-to-run noise. Ties
// count one half (latencies are bucketed, so they are common) and the
// permutation makes the test exact with them. Random splits use a fixed
// seed, so that the same files give the same report. It returns 1 when
// either side is empty.
func rankSumP(a, b []float64) float64 {
	if len(a) == 0 || len(b) == 0 {
		return 1
	}
	pool := append(slices.Clone(a), b...)
	mean := float64(len(a)*len(b)) / 2
	observed := math.Abs(mannWhitneyU(a, b) - mean)
	var hits, total int
	count := func(x, y []float64) {
		total++
		// U moves in halves: an exact comparison is safe.
		if math.Abs(mannWhitneyU(x, y)-mean) >= observed {
			hits++
		}
	}
	if binomial(len(pool), len(a)) <= exactSplits {
		x := make([]float64, 0, len(a))
		y := make([]float64, 0, len(b))
		var walk func(i int)
		walk = func(i int) {
			if len(x) == len(a) || len(y) == len(b) {
				// The rest all go to the side with room.
				xs, ys := x, y
				if len(x) == len(a) {
					ys = append(slices.Clone(y), pool[i:]...)
				} else {
					xs = append(slices.Clone(x), pool[i:]...)
				}
				count(xs, ys)
				return
			}
			x = append(x, pool[i])
			walk(i + 1)
			x = x[:len(x)-1]
			y = append(y, pool[i])
			walk(i + 1)
			y = y[:len(y)-1]
		}
		walk(0)
		return float64(hits) / float64(total)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	p := slices.Clone(pool)
	for range randomSplits {
		rng.Shuffle(len(p), func(i, j int) { p[i], p[j] = p[j], p[i] })
		count(p[:len(a)], p[len(a):])
	}
	// The observed split counts as one of the draws (hits+1)/(draws+1).
	return float64(hits+1) / float64(total+1)
}

// mannWhitneyU counts the pairs (x of a, y of b) with x > y, ties one half.
func mannWhitneyU(a, b []float64) float64 {
	var u float64
	for _, x := range a {
		for _, y := range b {
			switch {
			case x > y:
				u++
			case x == y:
				u += 0.5
			}
		}
	}
	return u
}

// binomial is n choose k, saturating at math.MaxInt.
func binomial(n, k int) int {
	if k < 0 || k > n {
		return 0
	}
	k = min(k, n-k)
	r := 1.0
	for i := 1; i <= k; i++ {
		r = r * float64(n-k+i) / float64(i)
	}
	if r >= math.MaxInt {
		return math.MaxInt
	}
	return int(math.Round(r))
}
