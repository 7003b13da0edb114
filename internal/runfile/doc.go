// Package runfile writes and reads faya's saved runs (faya run --out): a
// versioned, gzip-compressed file of JSON lines holding what the run was
// asked to do (secrets redacted, as in the reports), one line per interval
// (its summary and its snapshot, HDR histograms encoded), and the end: the
// run's total snapshot, time series, socket readings, steps, thresholds and
// findings. From it, faya report rebuilds exactly the reports the run
// printed; it is also what merging the results of several generators
// starts from.
//
// The file is written as the run goes, an interval at a time, so memory
// stays bounded however long the run is.
package runfile
