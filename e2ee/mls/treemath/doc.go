// Package treemath implements the array-based representation of the complete
// binary trees used by MLS ratchet trees (RFC 9420, Section 4 and Appendix C).
//
// Leaves sit at even node indices (leaf i at node 2i) and parents at odd
// indices. MLS trees always have a power-of-two number of leaves (RFC 9420,
// Section 7.7: the tree doubles when full and is truncated to a power of two),
// so every function here takes the leaf count as a power of two.
//
// The package is pure arithmetic: it never sees keys, secrets or messages.
package treemath
