package loadtest

import "testing"

func TestRankSumP(t *testing.T) {
	// Every split of identical runs has the same medians: p is 1.
	if p := rankSumP([]float64{3, 3, 3}, []float64{3, 3, 3}); p != 1 {
		t.Errorf("identical runs: p %v, want 1", p)
	}
	// Interleaved runs of one distribution: nothing to tell apart.
	if p := rankSumP([]float64{2.4, 3.2, 3.8, 4.5, 5.3}, []float64{2.7, 3.4, 3.8, 4.1, 4.9}); p < 0.5 {
		t.Errorf("interleaved runs: p %v, want > 0.5", p)
	}
	// Three runs against three can never be told apart at 5%: of the 20
	// splits, the observed one and its mirror image are the most extreme.
	if p := rankSumP([]float64{1, 2, 3}, []float64{10, 11, 12}); p != 0.1 {
		t.Errorf("3 + 3 separated runs: p %v, want 0.1 (2 of 20 splits)", p)
	}
	// Eight against eight, well apart: exact enumeration (12,870 splits).
	a := []float64{2.4, 2.7, 2.9, 3.0, 3.2, 3.4, 3.4, 3.6}
	b := []float64{4.1, 4.5, 4.5, 4.9, 5.3, 5.3, 5.8, 6.3}
	if p := rankSumP(a, b); p > 0.01 {
		t.Errorf("8 + 8 separated runs: p %v, want < 0.01", p)
	}
	// Fifteen against fifteen: random splits, reproducible.
	var c, d []float64
	for i := range 15 {
		c = append(c, 3+float64(i%5)*0.1)
		d = append(d, 4+float64(i%5)*0.1)
	}
	p1, p2 := rankSumP(c, d), rankSumP(c, d)
	if p1 > 0.01 || p1 != p2 {
		t.Errorf("15 + 15 separated runs: p %v then %v, want the same value < 0.01", p1, p2)
	}
	if p := rankSumP(nil, d); p != 1 {
		t.Errorf("no runs on one side: p %v, want 1", p)
	}
}

func TestBinomial(t *testing.T) {
	for _, tc := range []struct{ n, k, want int }{{6, 3, 20}, {16, 8, 12870}, {5, 0, 1}, {5, 6, 0}, {30, 15, 155117520}} {
		if got := binomial(tc.n, tc.k); got != tc.want {
			t.Errorf("binomial(%d, %d) = %d, want %d", tc.n, tc.k, got, tc.want)
		}
	}
}

func TestMannWhitneyU(t *testing.T) {
	if u := mannWhitneyU([]float64{1, 2, 3}, []float64{2, 2}); u != 3 {
		t.Errorf("U = %v, want 3 (3 > 2 twice, 2 = 2 twice at a half)", u)
	}
}
