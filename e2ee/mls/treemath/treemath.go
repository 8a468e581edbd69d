package treemath

import (
	"errors"
	"math/bits"
)

// LeafIndex is the index of a leaf among the leaves of a tree
// (RFC 9420, Section 4: "leaf index").
type LeafIndex uint32

// NodeIndex is the index of a node in the array representation of a tree
// (RFC 9420, Appendix C: "node index").
type NodeIndex uint32

// LeafCount is the number of leaves of a tree. It is always a power of two
// (RFC 9420, Section 7.7).
type LeafCount uint32

// MaxLeaves bounds the leaf count so that every node index fits in a uint32.
const MaxLeaves LeafCount = 1 << 30

// ErrNoNode is returned when a relation is asked of a node that does not
// have it (the parent of the root, the children of a leaf, a node outside the
// tree).
var ErrNoNode = errors.New("treemath: no such node")

// Node returns the node index of leaf l (RFC 9420, Appendix C: leaf n is node 2n).
func (l LeafIndex) Node() NodeIndex { return NodeIndex(2 * uint32(l)) }

// IsLeaf reports whether x is a leaf node (even index).
func (x NodeIndex) IsLeaf() bool { return x&1 == 0 }

// Leaf returns the leaf index of node x. It must only be called on a leaf.
func (x NodeIndex) Leaf() LeafIndex { return LeafIndex(x >> 1) }

// Valid reports whether n is a usable leaf count: a non-zero power of two no
// larger than MaxLeaves.
func (n LeafCount) Valid() bool {
	return n != 0 && n <= MaxLeaves && n&(n-1) == 0
}

// Width returns the number of nodes in a tree with n leaves
// (RFC 9420, Appendix C: node_width).
func (n LeafCount) Width() uint32 {
	if n == 0 {
		return 0
	}
	return 2*(uint32(n)-1) + 1
}

// Root returns the root node of a tree with n leaves (RFC 9420, Appendix C:
// root). n must be non-zero.
func (n LeafCount) Root() NodeIndex {
	w := n.Width()
	return NodeIndex((uint32(1) << log2(w)) - 1)
}

// Contains reports whether x is a node of a tree with n leaves.
func (n LeafCount) Contains(x NodeIndex) bool { return uint32(x) < n.Width() }

// ContainsLeaf reports whether l is a leaf of a tree with n leaves.
func (n LeafCount) ContainsLeaf(l LeafIndex) bool { return uint32(l) < uint32(n) }

// LeafCountForWidth returns the leaf count of a tree whose array has w nodes,
// and false if w is not the width of any tree (w must be odd).
func LeafCountForWidth(w uint32) (LeafCount, bool) {
	if w == 0 || w&1 == 0 {
		return 0, false
	}
	return LeafCount((w + 1) / 2), true
}

// log2 returns the exponent of the largest power of 2 not above x, and 0 for 0.
func log2(x uint32) uint32 {
	if x == 0 {
		return 0
	}
	return uint32(bits.Len32(x) - 1)
}

// Level returns the level of node x: 0 for leaves, 1 for their parents, and
// so on (RFC 9420, Appendix C: level).
func Level(x NodeIndex) uint32 {
	return uint32(bits.TrailingZeros32(^uint32(x)))
}

// Left returns the left child of the parent node x (RFC 9420, Appendix C).
func Left(x NodeIndex) (NodeIndex, error) {
	k := Level(x)
	if k == 0 {
		return 0, ErrNoNode
	}
	return x ^ (1 << (k - 1)), nil
}

// Right returns the right child of the parent node x (RFC 9420, Appendix C).
// For the full trees MLS uses, the right child is always inside the tree.
func Right(x NodeIndex) (NodeIndex, error) {
	k := Level(x)
	if k == 0 {
		return 0, ErrNoNode
	}
	return x ^ (3 << (k - 1)), nil
}

// Parent returns the parent of x in a tree with n leaves (RFC 9420,
// Appendix C).
func Parent(x NodeIndex, n LeafCount) (NodeIndex, error) {
	if x == n.Root() || !n.Contains(x) {
		return 0, ErrNoNode
	}
	k := Level(x)
	b := (uint32(x) >> (k + 1)) & 1
	return NodeIndex((uint32(x) | (1 << k)) ^ (b << (k + 1))), nil
}

// Sibling returns the other child of x's parent in a tree with n leaves
// (RFC 9420, Appendix C).
func Sibling(x NodeIndex, n LeafCount) (NodeIndex, error) {
	p, err := Parent(x, n)
	if err != nil {
		return 0, err
	}
	if x < p {
		return Right(p)
	}
	return Left(p)
}

// DirectPath returns the direct path of x, from its parent up to the root
// (RFC 9420, Section 4.1 and Appendix C). It is empty for the root.
func DirectPath(x NodeIndex, n LeafCount) []NodeIndex {
	if !n.Contains(x) {
		return nil
	}
	r := n.Root()
	var d []NodeIndex
	for x != r {
		p, err := Parent(x, n)
		if err != nil {
			return nil
		}
		d = append(d, p)
		x = p
	}
	return d
}

// Copath returns the copath of x: the sibling of x and of each node of its
// direct path except the root, ordered from leaf to root (RFC 9420,
// Section 4.1 and Appendix C).
func Copath(x NodeIndex, n LeafCount) []NodeIndex {
	d := DirectPath(x, n)
	if len(d) == 0 {
		return nil
	}
	out := make([]NodeIndex, 0, len(d))
	prev := x
	for _, p := range d {
		s, err := Sibling(prev, n)
		if err != nil {
			return nil
		}
		out = append(out, s)
		prev = p
	}
	return out
}

// CommonAncestor returns the lowest node that is x, y or in both of their
// direct paths (RFC 9420, Appendix C: common_ancestor_direct).
func CommonAncestor(x, y NodeIndex) NodeIndex {
	lx, ly := Level(x)+1, Level(y)+1
	if lx <= ly && uint32(x)>>ly == uint32(y)>>ly {
		return y
	}
	if ly <= lx && uint32(x)>>lx == uint32(y)>>lx {
		return x
	}
	xn, yn := uint32(x), uint32(y)
	k := uint32(0)
	for xn != yn {
		xn, yn = xn>>1, yn>>1
		k++
	}
	return NodeIndex((xn << k) + (1 << (k - 1)) - 1)
}

// IsAncestor reports whether a is x itself or one of x's ancestors, that is
// whether x lies in the subtree rooted at a.
func IsAncestor(a, x NodeIndex) bool {
	k := Level(a)
	// The subtree of a spans the node indices a-(2^k-1) .. a+(2^k-1).
	span := uint32(1)<<k - 1
	return uint32(x) >= uint32(a)-span && uint32(x) <= uint32(a)+span
}

// LeavesUnder returns the first leaf and the number of leaves of the subtree
// rooted at node x.
func LeavesUnder(x NodeIndex) (first LeafIndex, count uint32) {
	k := Level(x)
	span := uint32(1)<<k - 1
	return NodeIndex(uint32(x) - span).Leaf(), uint32(1) << k
}
