package simulcast

import "testing"

func threeLayers() []Layer {
	return []Layer{
		{Active: true, Width: 320, Height: 180, Bitrate: 150_000},
		{Active: true, Width: 640, Height: 360, Bitrate: 500_000},
		{Active: true, Width: 1280, Height: 720, Bitrate: 1_700_000},
	}
}

func TestSelect(t *testing.T) {
	tests := []struct {
		name   string
		layers func() []Layer
		req    Request
		bw     uint64
		want   Quality
	}{
		{"default gets high", threeLayers, DefaultRequest, 0, High},
		{"ask for low", threeLayers, Request{MaxQuality: Low}, 0, Low},
		{"ask for medium", threeLayers, Request{MaxQuality: Medium}, 10_000_000, Medium},
		{"disabled", threeLayers, Request{Disabled: true, MaxQuality: High}, 0, None},
		{"size picks smallest covering layer", threeLayers, Request{MaxQuality: High, Width: 400, Height: 200}, 0, Medium},
		{"size larger than all layers", threeLayers, Request{Width: 4000, Height: 4000}, 0, High},
		{"tiny size", threeLayers, Request{MaxQuality: High, Width: 100, Height: 50}, 0, Low},
		{"bandwidth limits to medium", threeLayers, DefaultRequest, 1_000_000, Medium},
		{"bandwidth limits to low", threeLayers, DefaultRequest, 400_000, Low},
		{"lowest kept under heavy congestion", threeLayers, DefaultRequest, 50_000, Low},
		{"wanted layer inactive falls back lower", func() []Layer {
			l := threeLayers()
			l[2].Active = false
			return l
		}, DefaultRequest, 0, Medium},
		{"only higher layer active", func() []Layer {
			l := threeLayers()
			l[0].Active, l[1].Active = false, false
			return l
		}, Request{MaxQuality: Low}, 0, High},
		{"nothing active", func() []Layer { return make([]Layer, 3) }, DefaultRequest, 0, None},
		{"single layer track", func() []Layer { return []Layer{{Active: true}} }, DefaultRequest, 100, Low},
		{"unknown bitrate does not constrain", func() []Layer {
			l := threeLayers()
			l[2].Bitrate = 0
			return l
		}, DefaultRequest, 100_000, High},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := Select(tc.layers(), tc.req, tc.bw); got != tc.want {
				t.Fatalf("Select = %d, want %d", got, tc.want)
			}
		})
	}
}

func TestQualityForRID(t *testing.T) {
	for rid, want := range map[string]Quality{"q": Low, "h": Medium, "f": High, "": Low} {
		if got, ok := QualityForRID(rid); !ok || got != want {
			t.Errorf("QualityForRID(%q) = %d, %v", rid, got, ok)
		}
	}
	if _, ok := QualityForRID("x"); ok {
		t.Error("unknown rid accepted")
	}
}
