package treemath

import (
	"fmt"
	"testing"

	"conclave/internal/vectors"
)

// treeMathVector is one entry of tree-math.json (vectors FORMAT.md, "Tree Math").
type treeMathVector struct {
	NLeaves uint32    `json:"n_leaves"`
	NNodes  uint32    `json:"n_nodes"`
	Root    uint32    `json:"root"`
	Left    []*uint32 `json:"left"`
	Right   []*uint32 `json:"right"`
	Parent  []*uint32 `json:"parent"`
	Sibling []*uint32 `json:"sibling"`
}

func TestTreeMathVectors(t *testing.T) {
	var vs []treeMathVector
	vectors.Load(t, "mls", "tree-math.json", &vs)
	if len(vs) == 0 {
		t.Fatal("tree-math.json has no vectors")
	}
	for _, v := range vs {
		t.Run(fmt.Sprintf("n_leaves=%d", v.NLeaves), func(t *testing.T) {
			n := LeafCount(v.NLeaves)
			if !n.Valid() {
				t.Fatalf("leaf count %d not valid", v.NLeaves)
			}
			if got := n.Width(); got != v.NNodes {
				t.Fatalf("Width = %d, want %d", got, v.NNodes)
			}
			if got := n.Root(); uint32(got) != v.Root {
				t.Fatalf("Root = %d, want %d", got, v.Root)
			}
			check := func(name string, want []*uint32, f func(NodeIndex) (NodeIndex, error)) {
				t.Helper()
				if len(want) != int(v.NNodes) {
					t.Fatalf("%s: %d entries for %d nodes", name, len(want), v.NNodes)
				}
				for i, w := range want {
					got, err := f(NodeIndex(i))
					switch {
					case w == nil && err == nil:
						t.Fatalf("%s(%d) = %d, want none", name, i, got)
					case w != nil && err != nil:
						t.Fatalf("%s(%d): %v, want %d", name, i, err, *w)
					case w != nil && uint32(got) != *w:
						t.Fatalf("%s(%d) = %d, want %d", name, i, got, *w)
					}
				}
			}
			check("left", v.Left, Left)
			check("right", v.Right, Right)
			check("parent", v.Parent, func(x NodeIndex) (NodeIndex, error) { return Parent(x, n) })
			check("sibling", v.Sibling, func(x NodeIndex) (NodeIndex, error) { return Sibling(x, n) })
		})
	}
}

// TestPathsAgainstDefinition checks DirectPath, Copath, CommonAncestor and
// IsAncestor against their definitions in RFC 9420, Appendix C, built from
// Parent and Sibling alone.
func TestPathsAgainstDefinition(t *testing.T) {
	for _, n := range []LeafCount{1, 2, 4, 8, 16, 64} {
		t.Run(fmt.Sprintf("n=%d", n), func(t *testing.T) {
			ancestors := func(x NodeIndex) map[NodeIndex]bool {
				m := map[NodeIndex]bool{x: true}
				for x != n.Root() {
					p, err := Parent(x, n)
					if err != nil {
						t.Fatal(err)
					}
					m[p] = true
					x = p
				}
				return m
			}
			for x := NodeIndex(0); uint32(x) < n.Width(); x++ {
				dp := DirectPath(x, n)
				cp := Copath(x, n)
				if len(dp) != len(cp) {
					t.Fatalf("node %d: direct path %v and copath %v differ in length", x, dp, cp)
				}
				prev := x
				for i, p := range dp {
					if want, _ := Parent(prev, n); want != p {
						t.Fatalf("node %d: direct path[%d] = %d, want %d", x, i, p, want)
					}
					if want, _ := Sibling(prev, n); want != cp[i] {
						t.Fatalf("node %d: copath[%d] = %d, want %d", x, i, cp[i], want)
					}
					prev = p
				}
				if len(dp) > 0 && dp[len(dp)-1] != n.Root() {
					t.Fatalf("node %d: direct path does not end at the root", x)
				}
				ax := ancestors(x)
				for y := NodeIndex(0); uint32(y) < n.Width(); y++ {
					ay := ancestors(y)
					// Semantic common ancestor: lowest common member.
					var want NodeIndex
					best := uint32(1 << 31)
					for a := range ax {
						if ay[a] && Level(a) < best {
							best, want = Level(a), a
						}
					}
					if got := CommonAncestor(x, y); got != want {
						t.Fatalf("CommonAncestor(%d, %d) = %d, want %d", x, y, got, want)
					}
					if got := IsAncestor(y, x); got != ax[y] {
						t.Fatalf("IsAncestor(%d, %d) = %v, want %v", y, x, got, ax[y])
					}
				}
			}
		})
	}
}

func TestLeafCountValid(t *testing.T) {
	for _, tc := range []struct {
		n    LeafCount
		want bool
	}{{0, false}, {1, true}, {2, true}, {3, false}, {6, false}, {1 << 30, true}, {1 << 31, false}} {
		if got := tc.n.Valid(); got != tc.want {
			t.Errorf("LeafCount(%d).Valid() = %v, want %v", tc.n, got, tc.want)
		}
	}
}
