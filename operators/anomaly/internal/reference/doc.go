// Package reference is the random cut forest of package anomaly as it was
// before the compact layout (snapshot format version 1): per-tree node,
// box and leaf arrays, trees descended eight at a time, one record at a
// time. It is kept, unchanged but for this file and footprint.go, as the
// reference the current forest is checked against (scores and
// attributions bit for bit, version 1 snapshots restored) and measured
// against (the interleaved old/new comparison of `sluice bench rcf`).
//
// Nothing outside the tests and benchmarks of operators/anomaly should use
// it; it has no operators, calibration or keyed state.
package reference
