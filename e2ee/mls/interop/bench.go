package interop

import (
	"context"
	"time"
)

// Timing is how long ts-mls took per operation in bench.mjs: wall time and
// the Node process's CPU time (user and system, all threads).
type Timing struct {
	NsPerOp    float64 `json:"ns_per_op"`
	CPUNsPerOp float64 `json:"cpu_ns_per_op"`
}

// Wall returns the wall time per operation.
func (t Timing) Wall() time.Duration { return time.Duration(t.NsPerOp) }

// BenchCommit times client creating a commit with no proposals and an
// UpdatePath, iterations times from the same state (which it keeps), and
// returns the last commit created (an MLSMessage).
func (p *Peer) BenchCommit(ctx context.Context, client string, iterations int, wire Wire) (Timing, []byte, error) {
	var r struct {
		Timing
		Commit Bytes `json:"commit"`
	}
	err := p.Call(ctx, "bench_commit", map[string]any{"client": client, "iterations": iterations, "wire": wire}, &r)
	return r.Timing, r.Commit, err
}

// BenchProcess times client processing message (a commit from another
// member), iterations times from the same state (which it keeps).
func (p *Peer) BenchProcess(ctx context.Context, client string, iterations int, message []byte) (Timing, error) {
	var r Timing
	err := p.Call(ctx, "bench_process", map[string]any{"client": client, "iterations": iterations, "message": Bytes(message)}, &r)
	return r, err
}

// BenchAdd times client committing the addition of keyPackage, with the
// ratchet_tree extension in the Welcome, iterations times from the same
// state, and returns the size of the Welcome MLSMessage.
func (p *Peer) BenchAdd(ctx context.Context, client string, iterations int, keyPackage []byte, wire Wire) (Timing, int, error) {
	var r struct {
		Timing
		WelcomeBytes int `json:"welcome_bytes"`
	}
	err := p.Call(ctx, "bench_add", map[string]any{"client": client, "iterations": iterations, "key_package": Bytes(keyPackage), "wire": wire}, &r)
	return r.Timing, r.WelcomeBytes, err
}
