package loadtest

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// Command implements `conclave loadtest`:
//
//	conclave loadtest --url URL --scenario video --publishers N --subscribers M
//	    --duration 30s --server-pid PID --json
//	conclave loadtest --url URL --scenario video --sweep 2,4,8 --out DIR
//	conclave loadtest compare --out DIR RESULT.json...
//
// A run prints its report (one JSON object with --json, Markdown
// otherwise) on stdout and a progress line every second on stderr; with
// --out it also writes result.json, report.md and, for a sweep, plot.svg.
func Command(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) > 0 && args[0] == "compare" {
		return compareCommand(args[1:], stdout, stderr)
	}
	fs := flag.NewFlagSet("loadtest", flag.ContinueOnError)
	fs.SetOutput(stderr)
	o := Options{}
	fs.StringVar(&o.URL, "url", "", "server under test, on loopback: http://127.0.0.1:PORT (Conclave) or ws://127.0.0.1:PORT (LiveKit)")
	fs.StringVar(&o.Server, "server", "", "conclave or livekit (default: livekit when --livekit-key is set)")
	fs.StringVar(&o.LiveKitKey, "livekit-key", "", "LiveKit API key, to mint access tokens")
	fs.StringVar(&o.LiveKitSecret, "livekit-secret", "", "LiveKit API secret (or $LOADTEST_LIVEKIT_SECRET)")
	fs.StringVar(&o.Scenario, "scenario", ScenarioVideo, "scenario: "+strings.Join(Scenarios, ", "))
	fs.IntVar(&o.Publishers, "publishers", -1, "participants publishing media (default: the scenario's)")
	fs.IntVar(&o.Subscribers, "subscribers", -1, "receive-only participants (default: the scenario's)")
	fs.DurationVar(&o.Duration, "duration", 30*time.Second, "measured window")
	fs.DurationVar(&o.Warmup, "warmup", 5*time.Second, "wait after joining before measuring")
	fs.IntVar(&o.JoinConcurrency, "join-concurrency", 4, "participants joining at a time (joinstorm: all)")
	fs.IntVar(&o.ServerPID, "server-pid", 0, "server process ID, to read its CPU time and memory from /proc")
	fs.DurationVar(&o.ChurnInterval, "churn-interval", 2*time.Second, "churn: time between replacements")
	fs.StringVar(&o.Keying, "keying", "", "how bots key SFrame: mls (Conclave default: join the meeting's MLS group, as browsers do) or bench (per-run keys; LiveKit)")
	fs.StringVar(&o.Label, "label", "", "free text copied into the report")
	fs.StringVar(&o.Quality, "quality", "high", "video layer every participant asks for: low, medium or high")
	sweep := fs.String("sweep", "", "comma-separated publisher counts: run the scenario at each size")
	asJSON := fs.Bool("json", false, "print the report as one JSON object")
	out := fs.String("out", "", "directory to write result.json, report.md (and plot.svg for a sweep)")
	quiet := fs.Bool("quiet", false, "no progress line")
	logLevel := fs.String("log-level", "error", "bots' log level on stderr")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("loadtest: unexpected arguments %q", fs.Args())
	}
	if o.URL == "" {
		return errors.New("loadtest: --url is required")
	}
	if o.LiveKitSecret == "" {
		o.LiveKitSecret = os.Getenv("LOADTEST_LIVEKIT_SECRET")
	}
	if o.Server == "" && o.LiveKitKey != "" {
		o.Server = ServerLiveKit
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(*logLevel)); err != nil {
		return fmt.Errorf("loadtest: --log-level: %w", err)
	}
	o.Logger = slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	if !*quiet {
		o.Progress = stderr
	}

	if *sweep != "" {
		sizes, err := parseSizes(*sweep)
		if err != nil {
			return err
		}
		sw, err := RunSweep(ctx, o, sizes)
		if err != nil {
			return err
		}
		if *out != "" {
			if err := writeFiles(*out, sw, MarkdownSweep(sw), []*Sweep{sw}); err != nil {
				return err
			}
		}
		if *asJSON {
			return writeJSON(stdout, sw)
		}
		_, err = io.WriteString(stdout, MarkdownSweep(sw))
		return err
	}

	res, err := Run(ctx, o)
	if err != nil {
		return err
	}
	if *out != "" {
		if err := writeFiles(*out, res, MarkdownResult(res), nil); err != nil {
			return err
		}
	}
	if *asJSON {
		return writeJSON(stdout, res)
	}
	_, err = io.WriteString(stdout, MarkdownResult(res))
	return err
}

// RunSweep runs o's scenario once per publisher count in sizes, each in a
// fresh room, and stops at the first size that fails to run at all.
func RunSweep(ctx context.Context, o Options, sizes []int) (*Sweep, error) {
	sw := &Sweep{Server: o.Server, Scenario: o.Scenario}
	if sw.Server == "" {
		sw.Server = ServerConclave
	}
	for _, n := range sizes {
		oo := o
		oo.Publishers = n
		res, err := Run(ctx, oo)
		if err != nil {
			if len(sw.Points) == 0 {
				return nil, err
			}
			fmt.Fprintf(progressOr(o.Progress), "loadtest: sweep stopped at %d publishers: %v\n", n, err)
			break
		}
		sw.Points = append(sw.Points, res)
		// Let the server forget the previous room before the next size.
		select {
		case <-ctx.Done():
			return sw, ctx.Err()
		case <-time.After(2 * time.Second):
		}
	}
	return sw, nil
}

func parseSizes(s string) ([]int, error) {
	var sizes []int
	for _, f := range strings.Split(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 || n > maxParticipants {
			return nil, fmt.Errorf("loadtest: --sweep %q: want comma-separated counts in 1..%d", s, maxParticipants)
		}
		sizes = append(sizes, n)
	}
	return sizes, nil
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return fmt.Errorf("loadtest: write report: %w", err)
	}
	return nil
}

// writeFiles writes result.json and report.md into dir, and plot.svg when
// there are sweeps to plot.
func writeFiles(dir string, v any, md string, sweeps []*Sweep) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("loadtest: --out: %w", err)
	}
	f, err := os.Create(filepath.Join(dir, "result.json"))
	if err != nil {
		return fmt.Errorf("loadtest: --out: %w", err)
	}
	werr := writeJSON(f, v)
	if err := errors.Join(werr, f.Close()); err != nil {
		return err
	}
	if len(sweeps) > 0 {
		if err := os.WriteFile(filepath.Join(dir, "plot.svg"), []byte(PlotSVG(sweeps)), 0o644); err != nil {
			return fmt.Errorf("loadtest: --out: %w", err)
		}
		md += "\n![latency and CPU against participants](plot.svg)\n"
	}
	if err := os.WriteFile(filepath.Join(dir, "report.md"), []byte(md), 0o644); err != nil {
		return fmt.Errorf("loadtest: --out: %w", err)
	}
	return nil
}
