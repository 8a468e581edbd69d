package loadtest

import (
	"fmt"
	"html"
	"math"
	"slices"
	"strings"
)

// series is one line of a chart.
type series struct {
	name   string
	colour string
	points [][2]float64 // x, y; sorted by x
}

// PlotSVG draws, for each sweep, p99 latency and server CPU against the
// number of participants: two charts side by side, one line per sweep.
func PlotSVG(sweeps []*Sweep) string {
	colours := []string{"#1b6ac9", "#d1495b", "#2e9e5b", "#8a5cc2", "#d98c1f"}
	var lat, cpu []series
	for i, s := range sweeps {
		c := colours[i%len(colours)]
		l := series{name: s.Server, colour: c}
		u := series{name: s.Server, colour: c}
		for _, p := range s.Points {
			x := float64(p.Participants)
			l.points = append(l.points, [2]float64{x, p.P99LatencyMS})
			u.points = append(u.points, [2]float64{x, p.ServerCPUCores})
		}
		slices.SortFunc(l.points, func(a, b [2]float64) int { return cmpF(a[0], b[0]) })
		slices.SortFunc(u.points, func(a, b [2]float64) int { return cmpF(a[0], b[0]) })
		lat, cpu = append(lat, l), append(cpu, u)
	}
	title := "scenario"
	if len(sweeps) > 0 {
		title = sweeps[0].Scenario
	}
	const w, h = 960, 400
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="sans-serif" font-size="12">`+"\n", w, h, w, h)
	b.WriteString(`<rect width="100%" height="100%" fill="white"/>` + "\n")
	chart(&b, 0, 0, w/2, h, "p99 frame latency (ms), "+title, "participants", lat)
	chart(&b, w/2, 0, w/2, h, "server CPU (cores), "+title, "participants", cpu)
	b.WriteString("</svg>\n")
	return b.String()
}

func cmpF(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// chart draws one line chart with axes, ticks and a legend in the box
// (x0, y0, w, h).
func chart(b *strings.Builder, x0, y0, w, h int, title, xlabel string, ss []series) {
	const left, right, top, bottom = 60, 20, 36, 50
	pw, ph := float64(w-left-right), float64(h-top-bottom)
	xmax, ymax := 1.0, 0.0
	for _, s := range ss {
		for _, p := range s.points {
			xmax = math.Max(xmax, p[0])
			ymax = math.Max(ymax, p[1])
		}
	}
	ystep := niceStep(ymax)
	ymax = math.Max(ystep, math.Ceil(ymax/ystep)*ystep)
	xstep := niceStep(xmax)
	xmax = math.Max(xstep, math.Ceil(xmax/xstep)*xstep)
	px := func(x float64) float64 { return float64(x0+left) + x/xmax*pw }
	py := func(y float64) float64 { return float64(y0+top) + ph - y/ymax*ph }

	fmt.Fprintf(b, `<text x="%d" y="%d" font-size="14" font-weight="bold">%s</text>`+"\n", x0+left, y0+20, html.EscapeString(title))
	for y := 0.0; y <= ymax+ystep/2; y += ystep {
		fmt.Fprintf(b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#ddd"/>`+"\n", px(0), py(y), px(xmax), py(y))
		fmt.Fprintf(b, `<text x="%.1f" y="%.1f" text-anchor="end">%s</text>`+"\n", px(0)-6, py(y)+4, tick(y))
	}
	for x := 0.0; x <= xmax+xstep/2; x += xstep {
		fmt.Fprintf(b, `<text x="%.1f" y="%.1f" text-anchor="middle">%s</text>`+"\n", px(x), py(0)+16, tick(x))
	}
	fmt.Fprintf(b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="black"/>`+"\n", px(0), py(0), px(xmax), py(0))
	fmt.Fprintf(b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="black"/>`+"\n", px(0), py(0), px(0), py(ymax))
	fmt.Fprintf(b, `<text x="%.1f" y="%d" text-anchor="middle">%s</text>`+"\n", px(xmax/2), y0+h-12, html.EscapeString(xlabel))
	for i, s := range ss {
		var pts []string
		for _, p := range s.points {
			pts = append(pts, fmt.Sprintf("%.1f,%.1f", px(p[0]), py(p[1])))
		}
		if len(pts) > 0 {
			fmt.Fprintf(b, `<polyline fill="none" stroke="%s" stroke-width="2" points="%s"/>`+"\n", s.colour, strings.Join(pts, " "))
		}
		for _, p := range s.points {
			fmt.Fprintf(b, `<circle cx="%.1f" cy="%.1f" r="3" fill="%s"/>`+"\n", px(p[0]), py(p[1]), s.colour)
		}
		ly := y0 + top + 4 + 16*i
		fmt.Fprintf(b, `<rect x="%d" y="%d" width="12" height="4" fill="%s"/>`+"\n", x0+left+12, ly, s.colour)
		fmt.Fprintf(b, `<text x="%d" y="%d">%s</text>`+"\n", x0+left+30, ly+6, html.EscapeString(s.name))
	}
}

// niceStep returns a tick step of 1, 2 or 5 times a power of ten giving at
// most about six ticks up to max.
func niceStep(max float64) float64 {
	if max <= 0 || math.IsNaN(max) || math.IsInf(max, 0) {
		return 1
	}
	raw := max / 5
	p := math.Pow(10, math.Floor(math.Log10(raw)))
	for _, m := range []float64{1, 2, 5, 10} {
		if m*p >= raw {
			return m * p
		}
	}
	return 10 * p
}

func tick(v float64) string {
	if v == math.Trunc(v) {
		return fmt.Sprintf("%.0f", v)
	}
	return fmt.Sprintf("%.2g", v)
}
