package runfile

import (
	"bufio"
	"compress/gzip"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/faya-load/faya/diagnose"
	"github.com/faya-load/faya/metrics"
	"github.com/faya-load/faya/report"
	"github.com/faya-load/faya/threshold"
)

// Format names the file kind in its first line; Version is the version
// this faya writes and the newest it reads.
const (
	Format  = "faya-run"
	Version = 1
)

// header is the first line.
type header struct {
	Format  string      `json:"format"`
	Version int         `json:"version"`
	Faya    string      `json:"faya_version"`
	Meta    report.Meta `json:"meta"`
}

// Interval is one interval of a saved run.
type Interval struct {
	// Point summarises the interval (absent, HasPoint false, for a final
	// flush that added none).
	Point    metrics.Point     `json:"point"`
	HasPoint bool              `json:"has_point,omitempty"`
	Snapshot *metrics.Snapshot `json:"snapshot"`
}

// end is the last line.
type end struct {
	Total      *metrics.Snapshot  `json:"total"`
	Timeline   []metrics.Point    `json:"timeline"`
	Duration   int64              `json:"duration_ns"`
	Partial    bool               `json:"partial"`
	OpenAtEnd  int64              `json:"open_at_end"`
	Scheduling int64              `json:"scheduling_ns"`
	CPU        int64              `json:"cpu_ns,omitempty"`
	CPUs       int                `json:"cpus,omitempty"`
	RunDelay   int64              `json:"run_delay_ns,omitempty"`
	Sockets    diagnose.Sockets   `json:"sockets"`
	Steps      []report.StepName  `json:"steps"`
	Thresholds []threshold.Result `json:"thresholds"`
	Findings   []diagnose.Finding `json:"findings"`
}

// line is one line of the file: exactly one of its fields is set.
type line struct {
	Interval *Interval `json:"interval,omitempty"`
	End      *end      `json:"end,omitempty"`
}

// Writer writes a run to a file as it goes. Its methods are not safe for
// concurrent use; the engine calls Interval from one goroutine.
type Writer struct {
	f   *os.File
	gz  *gzip.Writer
	buf *bufio.Writer
	enc *json.Encoder
	err error // the first write error: later writes are skipped
}

// Create creates path and writes the header: the run's description (its
// Meta, already redacted) and the version of faya that wrote it.
func Create(path string, meta report.Meta) (*Writer, error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	w := &Writer{f: f}
	w.gz = gzip.NewWriter(f)
	w.buf = bufio.NewWriterSize(w.gz, 64<<10)
	w.enc = json.NewEncoder(w.buf)
	if err := w.enc.Encode(header{Format: Format, Version: Version, Faya: meta.Version, Meta: meta}); err != nil {
		_ = f.Close()
		return nil, err
	}
	return w, nil
}

// Interval appends one interval. s is encoded before Interval returns (the
// engine reuses it).
func (w *Writer) Interval(p metrics.Point, hasPoint bool, s *metrics.Snapshot) {
	if w.err != nil {
		return
	}
	w.err = w.enc.Encode(line{Interval: &Interval{Point: p, HasPoint: hasPoint, Snapshot: s}})
}

// Close writes the end of the run (what its reports were built from, and
// their findings) and closes the file. It returns the first error of any
// write.
func (w *Writer) Close(run report.Run, findings []diagnose.Finding) error {
	if w.err == nil {
		w.err = w.enc.Encode(line{End: &end{
			Total: run.Total, Timeline: run.Timeline, Duration: int64(run.Duration), Partial: run.Partial,
			OpenAtEnd: run.OpenAtEnd, Scheduling: int64(run.Scheduling), Sockets: run.Sockets,
			CPU: int64(run.CPU), CPUs: run.CPUs, RunDelay: int64(run.RunDelay),
			Steps: run.Steps, Thresholds: run.Thresholds, Findings: findings,
		}})
	}
	for _, f := range []func() error{w.buf.Flush, w.gz.Close} {
		if err := f(); err != nil && w.err == nil {
			w.err = err
		}
	}
	if err := w.f.Close(); err != nil && w.err == nil {
		w.err = err
	}
	return w.err
}

// Run is a saved run, read back.
type Run struct {
	// Run is what the reports are built from: report.Build(r.Run) gives
	// the reports the run printed.
	Run report.Run
	// Findings are the findings the run ended with.
	Findings []diagnose.Finding
	// Intervals are the run's intervals, in order.
	Intervals []Interval
	// FayaVersion is the faya that wrote the file.
	FayaVersion string
}

// ErrNotRunFile is returned for a file that is not a saved run.
var ErrNotRunFile = errors.New("not a faya run file (faya run --out writes them)")

// Read reads a saved run. A file of a newer version, a damaged one or a
// run cut short (no end) is an error that says which.
func Read(path string) (*Run, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return read(f)
}

func read(r io.Reader) (*Run, error) {
	gz, err := gzip.NewReader(r)
	if err != nil {
		return nil, ErrNotRunFile
	}
	dec := json.NewDecoder(bufio.NewReader(gz))
	var h header
	if err := dec.Decode(&h); err != nil || h.Format != Format {
		return nil, ErrNotRunFile
	}
	if h.Version > Version || h.Version < 1 {
		return nil, fmt.Errorf("a faya run file of format version %d (written by faya %s); this faya reads version %d: use a newer faya", h.Version, h.Faya, Version)
	}
	out := &Run{FayaVersion: h.Faya}
	out.Run.Meta = h.Meta
	out.Run.Meta.Version = h.Faya // not part of Meta's JSON
	for n := 2; ; n++ {
		var l line
		if err := dec.Decode(&l); err != nil {
			if errors.Is(err, io.EOF) {
				return nil, fmt.Errorf("the run file ends after %d intervals without the run's end: the run was cut short (killed?) or the file is truncated", len(out.Intervals))
			}
			return nil, fmt.Errorf("the run file is damaged at line %d: %w", n, err)
		}
		switch {
		case l.Interval != nil:
			if l.Interval.Snapshot == nil {
				return nil, fmt.Errorf("the run file is damaged at line %d: an interval without its snapshot", n)
			}
			out.Intervals = append(out.Intervals, *l.Interval)
		case l.End != nil:
			e := l.End
			if e.Total == nil {
				return nil, fmt.Errorf("the run file is damaged at line %d: the end without the run's total", n)
			}
			out.Run.Total, out.Run.Timeline = e.Total, e.Timeline
			out.Run.Duration, out.Run.Partial, out.Run.OpenAtEnd = time.Duration(e.Duration), e.Partial, e.OpenAtEnd
			out.Run.Scheduling, out.Run.Sockets = time.Duration(e.Scheduling), e.Sockets
			out.Run.CPU, out.Run.CPUs, out.Run.RunDelay = time.Duration(e.CPU), e.CPUs, time.Duration(e.RunDelay)
			out.Run.Steps, out.Run.Thresholds = e.Steps, e.Thresholds
			out.Findings = e.Findings
			return out, nil
		default:
			return nil, fmt.Errorf("the run file is damaged at line %d: neither an interval nor the end", n)
		}
	}
}
