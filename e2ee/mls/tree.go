package mls

import (
	"bytes"
	"fmt"
	"slices"

	"conclave/e2ee/mls/internal/tls"
	tm "conclave/e2ee/mls/treemath"
)

// hashFunc is the cipher suite's hash (RFC 9420, Section 5.1).
type hashFunc func(data []byte) []byte

// ratchetTree is the public ratchet tree of a group (RFC 9420, Section 7)
// in its array representation (Appendix C). nodes[i] is nil for a blank
// node. Nodes are never modified in place: a change replaces the pointer,
// so a clone shares every unchanged node and copying a tree costs one slice
// of pointers.
//
// The tree hash of every node is cached (treeHashes[i], nil when stale) and
// a change invalidates only the changed node and its ancestors, so a commit
// recomputes O(log n) hashes (RFC 9420, Section 7.8 notes the recursion).
type ratchetTree struct {
	nodes      []*node
	treeHashes [][]byte
}

func newTree(leaves tm.LeafCount) *ratchetTree {
	w := leaves.Width()
	return &ratchetTree{nodes: make([]*node, w), treeHashes: make([][]byte, w)}
}

// clone returns a copy sharing immutable nodes and cached hashes.
func (t *ratchetTree) clone() *ratchetTree {
	return &ratchetTree{nodes: slices.Clone(t.nodes), treeHashes: slices.Clone(t.treeHashes)}
}

func (t *ratchetTree) leafCount() tm.LeafCount {
	n, _ := tm.LeafCountForWidth(uint32(len(t.nodes)))
	return n
}

func (t *ratchetTree) root() tm.NodeIndex { return t.leafCount().Root() }

// leaf returns the leaf node at l, or nil if it is blank or outside the tree.
func (t *ratchetTree) leaf(l tm.LeafIndex) *leafNode {
	if !t.leafCount().ContainsLeaf(l) {
		return nil
	}
	if n := t.nodes[l.Node()]; n != nil {
		return n.leaf
	}
	return nil
}

// parentAt returns the parent node at x, or nil if it is blank.
func (t *ratchetTree) parentAt(x tm.NodeIndex) *parentNode {
	if int(x) >= len(t.nodes) || t.nodes[x] == nil {
		return nil
	}
	return t.nodes[x].parent
}

func (t *ratchetTree) blank(x tm.NodeIndex) bool {
	return int(x) >= len(t.nodes) || t.nodes[x] == nil
}

// set replaces node x and invalidates the cached hashes of x and its
// ancestors.
func (t *ratchetTree) set(x tm.NodeIndex, n *node) {
	t.nodes[x] = n
	t.invalidate(x)
}

func (t *ratchetTree) invalidate(x tm.NodeIndex) {
	t.treeHashes[x] = nil
	for _, p := range tm.DirectPath(x, t.leafCount()) {
		t.treeHashes[p] = nil
	}
}

func (t *ratchetTree) setLeaf(l tm.LeafIndex, ln *leafNode) {
	if ln == nil {
		t.set(l.Node(), nil)
		return
	}
	t.set(l.Node(), &node{leaf: ln})
}

// blankDirectPath blanks the direct path of leaf l (RFC 9420, Sections
// 12.1.2, 12.1.3, 7.5).
func (t *ratchetTree) blankDirectPath(l tm.LeafIndex) {
	for _, p := range tm.DirectPath(l.Node(), t.leafCount()) {
		if t.nodes[p] != nil {
			t.nodes[p] = nil
			t.treeHashes[p] = nil
		}
		t.treeHashes[p] = nil
	}
}

// members calls f for each non-blank leaf in order.
func (t *ratchetTree) members(f func(l tm.LeafIndex, ln *leafNode)) {
	for i := 0; i < len(t.nodes); i += 2 {
		if n := t.nodes[i]; n != nil {
			f(tm.NodeIndex(i).Leaf(), n.leaf)
		}
	}
}

// extend doubles the tree: a new blank root whose left subtree is the old
// tree and whose right subtree is blank (RFC 9420, Section 7.7).
func (t *ratchetTree) extend() error {
	n := t.leafCount()
	if n >= tm.MaxLeaves {
		return fmt.Errorf("%w: tree is full", ErrUnsupported)
	}
	w := (2 * n).Width()
	t.nodes = append(t.nodes, make([]*node, int(w)-len(t.nodes))...)
	t.treeHashes = append(t.treeHashes, make([][]byte, int(w)-len(t.treeHashes))...)
	return nil
}

// truncate removes right subtrees that hold no non-blank leaf, keeping at
// least one leaf (RFC 9420, Sections 7.7 and 12.1.3).
func (t *ratchetTree) truncate() {
	for n := t.leafCount(); n > 1; n = t.leafCount() {
		half := n / 2
		for l := tm.LeafIndex(half); uint32(l) < uint32(n); l++ {
			if t.nodes[l.Node()] != nil {
				return
			}
		}
		w := half.Width()
		t.nodes = t.nodes[:w:w]
		t.treeHashes = t.treeHashes[:w:w]
	}
}

// addLeaf places ln in the leftmost blank leaf, extending the tree if there
// is none, and adds the leaf to the unmerged_leaves of every non-blank node
// on its direct path (RFC 9420, Section 12.1.1).
func (t *ratchetTree) addLeaf(ln *leafNode) (tm.LeafIndex, error) {
	l := tm.LeafIndex(0)
	for ; t.leafCount().ContainsLeaf(l); l++ {
		if t.nodes[l.Node()] == nil {
			break
		}
	}
	if !t.leafCount().ContainsLeaf(l) {
		if err := t.extend(); err != nil {
			return 0, err
		}
	}
	for _, p := range tm.DirectPath(l.Node(), t.leafCount()) {
		pn := t.parentAt(p)
		if pn == nil {
			continue
		}
		c := pn.clone()
		i, _ := slices.BinarySearch(c.unmergedLeaves, uint32(l))
		c.unmergedLeaves = slices.Insert(c.unmergedLeaves, i, uint32(l))
		t.set(p, &node{parent: c})
	}
	t.setLeaf(l, ln)
	return l, nil
}

// removeLeaf blanks leaf l and its direct path and truncates the tree
// (RFC 9420, Section 12.1.3).
func (t *ratchetTree) removeLeaf(l tm.LeafIndex) {
	t.setLeaf(l, nil)
	t.blankDirectPath(l)
	t.truncate()
}

// resolution returns the resolution of node x (RFC 9420, Section 4.1.1):
// x itself when non-blank, plus its unmerged leaves for a parent; the
// resolutions of its children when blank; nothing for a blank leaf. Leaves
// in exclude are left out (new members of a commit, Section 12.4.2).
func (t *ratchetTree) resolution(x tm.NodeIndex, exclude map[tm.LeafIndex]bool) []tm.NodeIndex {
	var out []tm.NodeIndex
	var walk func(x tm.NodeIndex)
	walk = func(x tm.NodeIndex) {
		n := t.nodes[x]
		if n != nil {
			if x.IsLeaf() {
				if !exclude[x.Leaf()] {
					out = append(out, x)
				}
				return
			}
			out = append(out, x)
			for _, u := range n.parent.unmergedLeaves {
				if !exclude[tm.LeafIndex(u)] {
					out = append(out, tm.LeafIndex(u).Node())
				}
			}
			return
		}
		if x.IsLeaf() {
			return
		}
		l, _ := tm.Left(x)
		r, _ := tm.Right(x)
		walk(l)
		walk(r)
	}
	walk(x)
	return out
}

// pathStep is one node of a filtered direct path with its copath child.
type pathStep struct {
	parent, copathChild tm.NodeIndex
}

// filteredDirectPath returns the filtered direct path of leaf l: its direct
// path without the nodes whose copath child has an empty resolution
// (RFC 9420, Section 4.1.2).
func (t *ratchetTree) filteredDirectPath(l tm.LeafIndex) []pathStep {
	n := t.leafCount()
	x := l.Node()
	var out []pathStep
	for _, p := range tm.DirectPath(x, n) {
		s, _ := tm.Sibling(x, n)
		if len(t.resolution(s, nil)) > 0 {
			out = append(out, pathStep{parent: p, copathChild: s})
		}
		x = p
	}
	return out
}

// encode returns the ratchet_tree extension value (RFC 9420, Section
// 12.4.3.3): the node array without trailing blank nodes.
func (t *ratchetTree) encode() []byte {
	end := len(t.nodes)
	for end > 0 && t.nodes[end-1] == nil {
		end--
	}
	return mustEncode(ratchetTreeNodes(t.nodes[:end]))
}

// decodeTree parses a ratchet_tree extension value. The last node must be
// non-blank; the array is extended with blanks to the next full tree
// (RFC 9420, Section 12.4.3.3). Node kinds must match their positions.
func decodeTree(b []byte) (*ratchetTree, error) {
	var nodes ratchetTreeNodes
	if err := decode(b, &nodes); err != nil {
		return nil, err
	}
	if len(nodes) == 0 || nodes[len(nodes)-1] == nil {
		return nil, ruleError(ErrInvalidTree, "12.4.3.3", "the last node of the tree is blank")
	}
	if uint64(len(nodes)) > uint64(tm.MaxLeaves.Width()) {
		return nil, ruleError(ErrInvalidTree, "12.4.3.3", "tree too large")
	}
	leaves := tm.LeafCount(1)
	for uint32(len(nodes)) > leaves.Width() {
		leaves *= 2
	}
	t := newTree(leaves)
	for i, n := range nodes {
		if n == nil {
			continue
		}
		if (i%2 == 0) != (n.leaf != nil) {
			return nil, ruleError(ErrInvalidTree, "12.4.3.3", "node %d has the wrong type for its position", i)
		}
		t.nodes[i] = n
	}
	return t, nil
}

// leafNodeHashInput, parentNodeHashInput: TreeHashInput (RFC 9420, Section 7.8).
func (t *ratchetTree) hashLeaf(h hashFunc, l tm.LeafIndex, ln *leafNode) []byte {
	var w tls.Writer
	w.Uint8(uint8(nodeTypeLeaf))
	w.Uint32(uint32(l))
	w.Optional(ln != nil, func(w *tls.Writer) { ln.marshal(w) })
	b, _ := w.Bytes()
	return h(b)
}

func hashParent(h hashFunc, pn *parentNode, left, right []byte) []byte {
	var w tls.Writer
	w.Uint8(uint8(nodeTypeParent))
	w.Optional(pn != nil, func(w *tls.Writer) { pn.marshal(w) })
	w.Opaque(left)
	w.Opaque(right)
	b, _ := w.Bytes()
	return h(b)
}

// treeHash returns the tree hash of node x (RFC 9420, Section 7.8),
// using and filling the cache.
func (t *ratchetTree) treeHash(h hashFunc, x tm.NodeIndex) []byte {
	if c := t.treeHashes[x]; c != nil {
		return c
	}
	var out []byte
	if x.IsLeaf() {
		var ln *leafNode
		if n := t.nodes[x]; n != nil {
			ln = n.leaf
		}
		out = t.hashLeaf(h, x.Leaf(), ln)
	} else {
		l, _ := tm.Left(x)
		r, _ := tm.Right(x)
		lh := t.treeHash(h, l)
		rh := t.treeHash(h, r)
		out = hashParent(h, t.parentAt(x), lh, rh)
	}
	t.treeHashes[x] = out
	return out
}

func (t *ratchetTree) rootHash(h hashFunc) []byte { return t.treeHash(h, t.root()) }

// originalTreeHash returns the tree hash of node x in the tree where every
// leaf in exclude is blanked and removed from all unmerged_leaves lists
// (the original_sibling_tree_hash of RFC 9420, Section 7.9). Subtrees that
// contain no excluded leaf reuse the cached tree hash.
func (t *ratchetTree) originalTreeHash(h hashFunc, x tm.NodeIndex, exclude []uint32) []byte {
	first, count := tm.LeavesUnder(x)
	touched := false
	for _, u := range exclude {
		if u >= uint32(first) && u < uint32(first)+count {
			touched = true
			break
		}
	}
	if !touched {
		return t.treeHash(h, x)
	}
	if x.IsLeaf() {
		return t.hashLeaf(h, x.Leaf(), nil)
	}
	l, _ := tm.Left(x)
	r, _ := tm.Right(x)
	lh := t.originalTreeHash(h, l, exclude)
	rh := t.originalTreeHash(h, r, exclude)
	pn := t.parentAt(x)
	if pn != nil {
		c := *pn
		c.unmergedLeaves = slices.DeleteFunc(slices.Clone(pn.unmergedLeaves), func(u uint32) bool {
			return slices.Contains(exclude, u)
		})
		pn = &c
	}
	return hashParent(h, pn, lh, rh)
}

// parentHash computes the parent hash of parent node p with copath child s
// (RFC 9420, Section 7.9: ParentHashInput).
func parentHashOf(h hashFunc, encryptionKey, parentHashAbove, siblingTreeHash []byte) []byte {
	var w tls.Writer
	w.Opaque(encryptionKey)
	w.Opaque(parentHashAbove)
	w.Opaque(siblingTreeHash)
	b, _ := w.Bytes()
	return h(b)
}

// verifyParentHashes checks that every non-blank parent node is parent-hash
// valid (RFC 9420, Section 7.9.2), "top down": for each non-blank parent P
// there must be exactly one node D below it whose parent_hash is valid with
// respect to P.
func (t *ratchetTree) verifyParentHashes(h hashFunc) error {
	n := t.leafCount()
	for x := tm.NodeIndex(1); uint32(x) < n.Width(); x += 2 {
		p := t.parentAt(x)
		if p == nil {
			continue
		}
		l, _ := tm.Left(x)
		r, _ := tm.Right(x)
		valid := 0
		for _, pair := range [2][2]tm.NodeIndex{{l, r}, {r, l}} {
			c, s := pair[0], pair[1]
			want := parentHashOf(h, p.encryptionKey, p.parentHash, t.originalTreeHash(h, s, p.unmergedLeaves))
			res := t.resolution(c, nil)
			for _, d := range res {
				var got []byte
				if d.IsLeaf() {
					ln := t.leaf(d.Leaf())
					if ln.source != sourceCommit {
						continue
					}
					got = ln.parentHash
				} else {
					got = t.parentAt(d).parentHash
				}
				if !bytes.Equal(got, want) {
					continue
				}
				// D is in the resolution of C; P's unmerged leaves under C
				// must equal the resolution of C with D removed.
				if t.unmergedMatch(p, c, d, res) {
					valid++
				}
			}
		}
		if valid != 1 {
			return ruleError(ErrInvalidTree, "7.9.2", "parent node %d is not parent-hash valid", x)
		}
	}
	return nil
}

// unmergedMatch reports whether P's unmerged leaves below C are exactly
// the resolution of C without D (RFC 9420, Section 7.9.2, third criterion).
func (t *ratchetTree) unmergedMatch(p *parentNode, c, d tm.NodeIndex, res []tm.NodeIndex) bool {
	var under []tm.NodeIndex
	for _, u := range p.unmergedLeaves {
		ux := tm.LeafIndex(u).Node()
		if tm.IsAncestor(c, ux) {
			under = append(under, ux)
		}
	}
	var rest []tm.NodeIndex
	for _, x := range res {
		if x != d {
			rest = append(rest, x)
		}
	}
	slices.Sort(under)
	slices.Sort(rest)
	return slices.Equal(under, rest)
}
