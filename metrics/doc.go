// Package metrics aggregates what requests measured.
//
// A [Sample] is one request. A [Recorder] holds a few [Shard]s (one per CPU,
// not per VU); goroutines record into a fixed shard and [Recorder.Flush]
// swaps the shards' [Snapshot]s out for merging, so recording never waits
// for aggregation. A Snapshot is mergeable exactly: counters add and HDR
// histograms (github.com/HdrHistogram/hdrhistogram-go, one configuration:
// 1 ns to 1 h at 3 significant digits) merge, so percentiles always come
// from merged histograms and memory does not grow with the number of
// requests.
//
// [ErrClass] is the bounded classification of request failures, with
// [Classify]; each class keeps one [Example] message, bounded and
// [Printable]. [Quantile] takes a fraction (0.99), hiding hdrhistogram's
// percent argument.
package metrics
