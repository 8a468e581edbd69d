package interop_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"testing"
	"time"

	"conclave/e2ee/mls"
	"conclave/e2ee/mls/interop"
)

// member is either a Go group or a ts-mls client, for agreement checks.
type member struct {
	name string
	g    *mls.Group // nil for a ts-mls client
}

type scenario struct {
	t     *testing.T
	ctx   context.Context
	peer  *interop.Peer
	suite mls.CipherSuite
	cfg   mls.Config
}

func (s *scenario) goKeyPackage(name string) *mls.KeyPackageBundle {
	s.t.Helper()
	sk, err := mls.GenerateSignatureKey(s.suite, rand.Reader)
	if err != nil {
		s.t.Fatal(err)
	}
	kp, err := mls.NewKeyPackage(mls.KeyPackageOptions{
		CipherSuite:  s.suite,
		Credential:   mls.BasicCredential([]byte(name)),
		SignatureKey: sk,
	}, s.cfg)
	if err != nil {
		s.t.Fatal(err)
	}
	return kp
}

// tsKeyPackage has a ts-mls client make a KeyPackage, parsed (and so
// verified) by the Go side.
func (s *scenario) tsKeyPackage(name string) *mls.KeyPackage {
	s.t.Helper()
	b, err := s.peer.KeyPackage(s.ctx, name, uint16(s.suite))
	if err != nil {
		s.t.Fatal(err)
	}
	kp, err := mls.ParseKeyPackage(b)
	if err != nil {
		s.t.Fatalf("Go rejects ts-mls KeyPackage: %v", err)
	}
	return kp
}

// goCommit commits on g and merges it.
func (s *scenario) goCommit(g *mls.Group, opts mls.CommitOptions) *mls.CommitResult {
	s.t.Helper()
	res, err := g.Commit(opts)
	if err != nil {
		s.t.Fatalf("Go commit: %v", err)
	}
	if _, err := g.MergePendingCommit(); err != nil {
		s.t.Fatalf("Go merge: %v", err)
	}
	return res
}

func (s *scenario) goProcess(g *mls.Group, msg []byte) {
	s.t.Helper()
	if _, err := g.ProcessMessage(msg); err != nil {
		s.t.Fatalf("Go rejects ts-mls message: %v", err)
	}
}

func (s *scenario) tsProcess(client string, msg []byte) {
	s.t.Helper()
	if _, err := s.peer.Process(s.ctx, client, msg); err != nil {
		s.t.Fatalf("ts-mls %s rejects Go message: %v", client, err)
	}
}

// agree checks that every member is in epoch and that all export the same
// secret and epoch authenticator (RFC 9420, Sections 8.5 and 8.7).
func (s *scenario) agree(epoch uint64, members ...member) {
	s.t.Helper()
	const label = "conclave interop"
	ctxt := []byte("epoch check")
	var auth0, exp0 []byte
	for i, m := range members {
		var e uint64
		var auth, exp []byte
		var err error
		if m.g != nil {
			e, auth = m.g.Epoch(), m.g.EpochAuthenticator()
			exp, err = m.g.Export(label, ctxt, 32)
		} else {
			var ep interop.Epoch
			ep, err = s.peer.EpochAuthenticator(s.ctx, m.name)
			if err == nil {
				e, auth = ep.Epoch, ep.EpochAuthenticator
				exp, err = s.peer.Export(s.ctx, m.name, label, ctxt, 32)
			}
		}
		if err != nil {
			s.t.Fatalf("%s: %v", m.name, err)
		}
		if e != epoch {
			s.t.Fatalf("%s is in epoch %d, want %d", m.name, e, epoch)
		}
		if i == 0 {
			auth0, exp0 = auth, exp
			continue
		}
		if !bytes.Equal(auth, auth0) {
			s.t.Fatalf("epoch %d: %s's epoch authenticator differs from %s's", epoch, m.name, members[0].name)
		}
		if !bytes.Equal(exp, exp0) {
			s.t.Fatalf("epoch %d: %s's exported secret differs from %s's", epoch, m.name, members[0].name)
		}
	}
}

// TestInteropWithTSMLS plays mixed groups of Go and ts-mls members in every
// cipher suite: a Go-created group joined from ts-mls via Welcome and a
// ts-mls-created group joined from Go, with adds, removes and path commits
// from both sides, checking after each epoch that everyone exports the same
// secret and epoch authenticator.
func TestInteropWithTSMLS(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	peer, err := interop.Start(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := peer.Close(); err != nil {
			t.Error(err)
		}
	}()
	for _, suite := range []mls.CipherSuite{1, 2, 3, 4, 5, 6, 7} {
		t.Run(fmt.Sprintf("suite-%d", suite), func(t *testing.T) {
			s := &scenario{t: t, ctx: ctx, peer: peer, suite: suite}
			p := func(n string) string { return fmt.Sprintf("%s-%d", n, suite) }

			t.Run("go-creates", func(t *testing.T) {
				s.t = t
				alice, err := mls.CreateGroup([]byte(p("go-room")), s.goKeyPackage(p("alice")), mls.GroupOptions{}, s.cfg)
				if err != nil {
					t.Fatal(err)
				}
				A, B, C := member{p("alice"), alice}, member{name: p("bob")}, member{name: p("carol")}

				// Go adds ts-mls Bob; Bob joins from the Welcome.
				res := s.goCommit(alice, mls.CommitOptions{Add: []*mls.KeyPackage{s.tsKeyPackage(B.name)}})
				if _, err := peer.Join(ctx, B.name, res.Welcome, nil); err != nil {
					t.Fatalf("ts-mls cannot join from Go Welcome: %v", err)
				}
				s.agree(1, A, B)

				// Bob commits a path update (PrivateMessage).
				up, err := peer.Commit(ctx, B.name, interop.PrivateMessage)
				if err != nil {
					t.Fatal(err)
				}
				s.goProcess(alice, up.Commit)
				s.agree(2, A, B)

				// Bob adds ts-mls Carol with a PublicMessage commit.
				add, err := peer.Add(ctx, B.name, [][]byte{s.tsKeyPackage(C.name).Bytes()}, interop.PublicMessage)
				if err != nil {
					t.Fatal(err)
				}
				s.goProcess(alice, add.Commit)
				if _, err := peer.Join(ctx, C.name, add.Welcome, nil); err != nil {
					t.Fatal(err)
				}
				s.agree(3, A, B, C)

				// Alice commits a path update; both ts-mls members follow.
				res = s.goCommit(alice, mls.CommitOptions{})
				s.tsProcess(B.name, res.Commit)
				s.tsProcess(C.name, res.Commit)
				s.agree(4, A, B, C)

				// Alice removes Bob (leaf 1); Carol follows.
				res = s.goCommit(alice, mls.CommitOptions{Remove: []uint32{1}})
				s.tsProcess(C.name, res.Commit)
				s.agree(5, A, C)

				// Carol removes nobody but updates; then Alice is removed by Carol.
				rm, err := peer.Remove(ctx, C.name, []uint32{0}, interop.PrivateMessage)
				if err != nil {
					t.Fatal(err)
				}
				s.goProcess(alice, rm.Commit)
				if alice.Active() {
					t.Fatal("Alice still active after ts-mls removed her")
				}
			})

			t.Run("ts-creates", func(t *testing.T) {
				s.t = t
				D, E := member{name: p("dave")}, member{name: p("erin")}
				if _, err := peer.CreateGroup(ctx, D.name, uint16(suite), []byte(p("ts-room"))); err != nil {
					t.Fatal(err)
				}
				// ts-mls Dave adds Go Erin and Go Frank; both join from the Welcome.
				erinKP, frankKP := s.goKeyPackage(p("erin")), s.goKeyPackage(p("frank"))
				add, err := peer.Add(ctx, D.name, [][]byte{erinKP.KeyPackage().Bytes(), frankKP.KeyPackage().Bytes()}, interop.PrivateMessage)
				if err != nil {
					t.Fatal(err)
				}
				erin, err := mls.JoinFromWelcome(add.Welcome, erinKP, mls.JoinOptions{}, s.cfg)
				if err != nil {
					t.Fatalf("Go cannot join from ts-mls Welcome: %v", err)
				}
				frank, err := mls.JoinFromWelcome(add.Welcome, frankKP, mls.JoinOptions{}, s.cfg)
				if err != nil {
					t.Fatal(err)
				}
				E.g = erin
				F := member{p("frank"), frank}
				s.agree(1, D, E, F)

				// Erin commits a path update; Dave and Frank follow.
				res := s.goCommit(erin, mls.CommitOptions{})
				s.tsProcess(D.name, res.Commit)
				s.goProcess(frank, res.Commit)
				s.agree(2, D, E, F)

				// Frank removes Erin (leaf 1) and adds ts-mls Gus.
				G := member{name: p("gus")}
				res = s.goCommit(frank, mls.CommitOptions{Remove: []uint32{1}, Add: []*mls.KeyPackage{s.tsKeyPackage(G.name)}})
				s.tsProcess(D.name, res.Commit)
				if _, err := peer.Join(ctx, G.name, res.Welcome, nil); err != nil {
					t.Fatal(err)
				}
				if _, err := erin.ProcessMessage(res.Commit); err != nil || erin.Active() {
					t.Fatalf("Erin after her removal: active %v, %v", erin.Active(), err)
				}
				s.agree(3, D, F, G)

				// Dave removes Frank; Gus follows.
				rm, err := peer.Remove(ctx, D.name, []uint32{2}, interop.PublicMessage)
				if err != nil {
					t.Fatal(err)
				}
				s.tsProcess(G.name, rm.Commit)
				s.goProcess(frank, rm.Commit)
				if frank.Active() {
					t.Fatal("Frank still active after removal")
				}
				s.agree(4, D, G)
			})
		})
	}
}
