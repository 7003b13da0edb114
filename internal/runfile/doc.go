// Package runfile writes and reads faya's saved runs (faya run --out): a
// versioned file of gzip-compressed JSON lines holding what the run was
// asked to do (secrets redacted, as in the reports) and the names of its
// steps, one line per interval (its summary and its snapshot, HDR
// histograms encoded), and the end: the run's total snapshot, socket
// readings, steps, thresholds and findings. From it, faya report rebuilds
// exactly the reports the run printed; it is also what merging the results
// of several generators starts from.
//
// The file is written as the run goes, a line at a time, each line a gzip
// member of its own written with one write: memory stays bounded however
// long the run is, and a run that never writes its end (killed, crashed,
// out of disk) reads back up to its last whole interval, marked cut.
//
// Reading is bounded too: lines, lists and histograms are checked for size
// before anything is allocated for them, so a damaged or crafted file is
// refused without using more than some tens of megabytes.
package runfile
