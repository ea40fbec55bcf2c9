// Package nab scores anomaly detectors on the Numenta Anomaly Benchmark
// (NAB) exactly as NAB v1.1 does, so that Sluice's detectors can be compared
// with the published scoreboard.
//
// The corpus (LoadCorpus) is NAB's data/ and labels/combined_windows.json:
// 58 labelled series, 116 anomaly windows. Scoring (Corpus.Score) follows
// NAB v1.1's Sweeper (nab/sweeper.py) and runner:
//
//   - the first 15 % of each series, at most 750 records, is probationary
//     and not scored;
//   - a detection inside a window earns tpWeight times a scaled sigmoid of
//     its position, normalised so that the window's first record earns
//     exactly tpWeight; only the earliest detection of a window counts; a
//     window without one costs fnWeight;
//   - a detection outside every window costs fpWeight times the scaled
//     sigmoid of its distance past the preceding window (relative to that
//     window's width), or the full fpWeight before the first window;
//   - one threshold per detector and profile is chosen over the whole
//     corpus to maximise the total (a record is a detection when its score
//     is at or above the threshold);
//   - the reported score is 100*(raw - null)/(perfect - null), with null the
//     best raw score of a detector that always outputs 0 and perfect the
//     number of labelled windows times tpWeight.
//
// Window bounds are matched to timestamps exactly, first occurrence first,
// as NAB matches them; some NAB series repeat timestamps and this matters.
// The three cost profiles of config/profiles.json are built in
// (ProfilesV11). The tests check hand-computed cases, NAB's own unit case,
// and the anchors of the published results: the null detector's raw scores
// (-116, -116, -232 in NAB's config/thresholds.json) and a perfect
// detector's 100.
//
// Everything here is single-threaded and deterministic; callers parallelise
// the detectors, not the scoring (which takes well under a second).
package nab
