package runfile

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/faya-load/faya/diagnose"
	"github.com/faya-load/faya/engine"
	"github.com/faya-load/faya/metrics"
	"github.com/faya-load/faya/report"
	"github.com/faya-load/faya/threshold"
)

// Format names the file kind in its first line; Version is the version
// this faya writes and the newest it reads. Version 1 was one gzip stream
// with the time series in the end; version 2 writes each line as a gzip
// member of its own and leaves the time series to the intervals.
const (
	Format  = "faya-run"
	Version = 2
)

// MaxSteps is the most steps a saved run may have (see
// [metrics.MaxEncodedSteps]); faya run refuses --out for a run with more.
const MaxSteps = metrics.MaxEncodedSteps

// Bounds on what is read, checked before anything is allocated for it.
const (
	maxHeader     = 4 << 20  // the first line: the run's description
	maxLine       = 16 << 20 // an interval, the end
	maxScenarios  = 4096
	maxThresholds = 4096
	maxFindings   = 4096
)

// header is the first line.
type header struct {
	Format  string      `json:"format"`
	Version int         `json:"version"`
	Faya    string      `json:"faya_version"`
	Meta    report.Meta `json:"meta"`
	// Steps name the plan's steps, in the order of the snapshots' per-step
	// stats, for a run cut before its end (which names them too).
	Steps []engine.StepInfo `json:"steps,omitempty"`
	Origin
}

// Origin says which part of which plan a saved run ran, so that the
// saved runs of one distributed run can be merged (faya merge).
type Origin struct {
	// Plan is the whole run's plan, its secrets (Authorization, cookies,
	// passwords in URLs) and its data rows removed (engine.Plan.Redacted).
	Plan *engine.Plan `json:"plan,omitempty"`
	// PlanHash identifies Plan: the runs of one plan have the same.
	PlanHash string `json:"plan_hash,omitempty"`
	// Segment is the segment the run ran ("I/N"; "" for the whole plan),
	// Agent the agent's name (the host and process when not named).
	Segment string `json:"segment,omitempty"`
	Agent   string `json:"agent,omitempty"`
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
	Total *metrics.Snapshot `json:"total"`
	// Timeline is in the end of version 1 only: version 2 reads it from
	// the intervals' points.
	Timeline   []metrics.Point    `json:"timeline,omitempty"`
	Duration   int64              `json:"duration_ns"`
	Partial    bool               `json:"partial"`
	OpenAtEnd  int64              `json:"open_at_end"`
	Scheduling int64              `json:"scheduling_ns"`
	CPU        int64              `json:"cpu_ns,omitempty"`
	CPUs       int                `json:"cpus,omitempty"`
	RunDelay   int64              `json:"run_delay_ns,omitempty"`
	Sockets    diagnose.Sockets   `json:"sockets"`
	Steps      []engine.StepInfo  `json:"steps"`
	Thresholds []threshold.Result `json:"thresholds"`
	Findings   []diagnose.Finding `json:"findings"`
	Start      time.Time          `json:"start,omitzero"`
	Agents     []report.Agent     `json:"agents,omitempty"`
	NotRun     string             `json:"not_run,omitempty"`
}

// line is one line of the file: exactly one of its fields is set.
type line struct {
	Interval *Interval `json:"interval,omitempty"`
	End      *end      `json:"end,omitempty"`
}

// Writer writes a run to a file as it goes. Each line is compressed as a
// gzip member of its own and written with one write, so that a run that
// ends without its end (a second Ctrl-C, kill -9, a crash, a full disk)
// reads back up to its last interval written. Its methods are not safe
// for concurrent use; the engine calls Interval from one goroutine.
type Writer struct {
	f         *os.File
	gz        *gzip.Writer
	line      bytes.Buffer // the line being written
	member    bytes.Buffer // its gzip member
	enc       *json.Encoder
	err       error // the first write error: later writes are skipped
	intervals int   // intervals written whole
}

// Create creates path and writes the header: the run's description (its
// Meta, already redacted), the names of its steps and the version of faya
// that wrote it.
func Create(path string, meta report.Meta, steps []engine.StepInfo) (*Writer, error) {
	return CreateFrom(path, meta, steps, Origin{})
}

// CreateFrom is Create for a run that says which plan and segment it ran.
func CreateFrom(path string, meta report.Meta, steps []engine.StepInfo, o Origin) (*Writer, error) {
	if len(steps) > MaxSteps {
		return nil, fmt.Errorf("the run has %d steps; a saved run holds at most %d", len(steps), MaxSteps)
	}
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	w := &Writer{f: f}
	w.enc = json.NewEncoder(&w.line)
	w.gz = gzip.NewWriter(&w.member)
	if err := w.write(header{Format: Format, Version: Version, Faya: meta.Version, Meta: meta, Steps: steps, Origin: o}); err != nil {
		_ = f.Close()
		return nil, err
	}
	return w, nil
}

// write appends v as a line in a gzip member of its own, in one write.
func (w *Writer) write(v any) error {
	w.line.Reset()
	if err := w.enc.Encode(v); err != nil {
		return err
	}
	w.member.Reset()
	w.gz.Reset(&w.member)
	if _, err := w.gz.Write(w.line.Bytes()); err != nil {
		return err
	}
	if err := w.gz.Close(); err != nil {
		return err
	}
	_, err := w.f.Write(w.member.Bytes())
	return err
}

// Interval appends one interval. s is encoded before Interval returns (the
// engine reuses it).
func (w *Writer) Interval(p metrics.Point, hasPoint bool, s *metrics.Snapshot) {
	if w.err != nil {
		return
	}
	w.err = w.write(line{Interval: &Interval{Point: p, HasPoint: hasPoint, Snapshot: s}})
	if w.err == nil {
		w.intervals++
	}
}

// Close writes the end of the run (what its reports were built from, and
// their findings) and closes the file. It returns the first error of any
// write, saying how much of the run the file still holds.
func (w *Writer) Close(run report.Run, findings []diagnose.Finding) error {
	if w.err == nil {
		w.err = w.write(line{End: &end{
			Total: run.Total, Duration: int64(run.Duration), Partial: run.Interrupted,
			OpenAtEnd: run.OpenAtEnd, Scheduling: int64(run.Scheduling), Sockets: run.Sockets,
			CPU: int64(run.CPU), CPUs: run.CPUs, RunDelay: int64(run.RunDelay),
			Steps: run.Steps, Thresholds: run.Thresholds, Findings: findings,
			Start: run.Start, Agents: run.Agents, NotRun: run.NotRun,
		}})
	}
	if err := w.f.Close(); err != nil && w.err == nil {
		w.err = err
	}
	return w.Err()
}

// Abort closes the file without the run's end, for a run that did not
// take place: it reads back as cut, with the intervals written.
func (w *Writer) Abort() {
	_ = w.f.Close()
}

// Err returns the first write error, saying how much of the run the file
// still holds, or nil.
func (w *Writer) Err() error {
	if w.err == nil {
		return nil
	}
	err := w.err
	var pe *os.PathError
	if errors.As(err, &pe) && pe.Path == w.f.Name() {
		err = pe.Err // the caller names the file
	}
	switch w.intervals {
	case 0:
		return fmt.Errorf("%w (the file holds no interval)", err)
	case 1:
		return fmt.Errorf("%w (the file holds the first interval, without the run's end; faya report reads it)", err)
	}
	return fmt.Errorf("%w (the file holds the first %d intervals, without the run's end; faya report reads them)", err, w.intervals)
}

// Run is a saved run, read back.
type Run struct {
	// Run is what the reports are built from: report.Build(r.Run) gives
	// the reports the run printed. For a cut file, it is built from the
	// intervals read, and marked partial.
	Run report.Run
	// Findings are the findings the run ended with (none for a cut file).
	Findings []diagnose.Finding
	// Intervals is the number of intervals read.
	Intervals int
	// Cut, when not empty, says why the file ends before the run's end
	// (the run was killed, or the disk filled): the reports cover the
	// intervals read.
	Cut string
	// FayaVersion is the faya that wrote the file.
	FayaVersion string
	// Origin is the plan and the segment the run ran.
	Origin Origin
}

// ErrNotRunFile is returned for a file that is not a saved run.
var ErrNotRunFile = errors.New("not a faya run file (faya run --out writes them)")

// Read reads a saved run. A file of a newer version or a damaged one is
// an error that says which; a file cut short (a run killed before its
// end) reads back up to its last complete interval, with Cut set.
//
// Memory stays bounded whatever the file holds: lines, lists and
// histograms are checked for size before they are decoded, and the
// intervals are not kept (a cut file is read twice, the second time to
// add up its intervals).
func Read(path string) (*Run, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("not a regular file")
	}
	return read(f, fi.Size())
}

// read reads a run file of size bytes from r.
func read(r io.ReadSeeker, size int64) (*Run, error) {
	sc, h, err := open(r)
	if err != nil {
		return nil, err
	}
	out := &Run{FayaVersion: h.Faya, Origin: h.Origin}
	out.Run.Meta = h.Meta
	out.Run.Meta.Version = h.Faya // not part of Meta's JSON
	var points []metrics.Point
	var budget int64 // histograms decoded
	for {
		b, err := sc.next(maxLine)
		if errors.Is(err, errLong) {
			return nil, sc.damaged(err)
		}
		if err != nil {
			out.Cut = sc.cut(err)
			break
		}
		var l struct {
			Interval *struct {
				Point    metrics.Point `json:"point"`
				HasPoint bool          `json:"has_point"`
				Snapshot present       `json:"snapshot"`
			} `json:"interval"`
			End json.RawMessage `json:"end"`
		}
		if err := json.Unmarshal(b, &l); err != nil {
			return nil, sc.damaged(err)
		}
		switch {
		case l.Interval != nil:
			if !l.Interval.Snapshot {
				return nil, sc.damaged(errors.New("an interval without its snapshot"))
			}
			if l.Interval.HasPoint {
				if len(points) >= maxPoints(size) {
					return nil, sc.damaged(fmt.Errorf("more intervals than a file of %d bytes can hold", size))
				}
				points = append(points, l.Interval.Point)
			}
			out.Intervals++
		case l.End != nil:
			if err := spend(&budget, l.End, size); err != nil {
				return nil, sc.damaged(err)
			}
			e, err := decodeEnd(l.End, size)
			if err != nil {
				return nil, sc.damaged(err)
			}
			if e.Total == nil {
				return nil, sc.damaged(errors.New("the end without the run's total"))
			}
			if h.Version == 1 {
				points = e.Timeline
			}
			out.Run.Total, out.Run.Timeline = e.Total, points
			out.Run.Duration, out.Run.Interrupted, out.Run.OpenAtEnd = time.Duration(e.Duration), e.Partial, e.OpenAtEnd
			out.Run.Scheduling, out.Run.Sockets = time.Duration(e.Scheduling), e.Sockets
			out.Run.CPU, out.Run.CPUs, out.Run.RunDelay = time.Duration(e.CPU), e.CPUs, time.Duration(e.RunDelay)
			out.Run.Steps, out.Run.Thresholds = e.Steps, e.Thresholds
			out.Run.Start, out.Run.Agents, out.Run.NotRun = e.Start, e.Agents, e.NotRun
			out.Findings = e.Findings
			return out, nil
		default:
			return nil, sc.damaged(errors.New("neither an interval nor the end"))
		}
	}
	// Cut: add up the intervals read.
	total, err := sum(r, out.Intervals, &budget, size)
	if err != nil {
		return nil, err
	}
	out.Run.Total, out.Run.Timeline, out.Run.Interrupted = total, points, true
	if len(points) > 0 {
		out.Run.Duration = points[len(points)-1].T
	}
	out.Run.Scheduling = out.Run.Duration
	out.Run.Steps = h.Steps
	for i := len(out.Run.Steps); i < len(total.Steps); i++ {
		out.Run.Steps = append(out.Run.Steps, engine.StepInfo{Name: fmt.Sprintf("step %d", i+1)})
	}
	return out, nil
}

// sum reads the file again and adds up its first n intervals.
func sum(r io.ReadSeeker, n int, budget *int64, size int64) (*metrics.Snapshot, error) {
	if _, err := r.Seek(0, io.SeekStart); err != nil {
		return nil, err
	}
	sc, _, err := open(r)
	if err != nil {
		return nil, err
	}
	total := &metrics.Snapshot{}
	for range n {
		b, err := sc.next(maxLine)
		if err != nil {
			return nil, sc.damaged(err)
		}
		if err := spend(budget, b, size); err != nil {
			return nil, sc.damaged(err)
		}
		var l line
		if err := json.Unmarshal(b, &l); err != nil {
			return nil, sc.damaged(err)
		}
		if l.Interval == nil || l.Interval.Snapshot == nil {
			return nil, sc.damaged(errors.New("not the interval read before"))
		}
		total.Merge(l.Interval.Snapshot)
	}
	return total, nil
}

// open starts reading a run file and reads its header.
func open(r io.Reader) (*scanner, *header, error) {
	gz, err := gzip.NewReader(bufio.NewReaderSize(r, 64<<10))
	if err != nil {
		return nil, nil, ErrNotRunFile
	}
	sc := &scanner{br: bufio.NewReaderSize(gz, 64<<10)}
	b, err := sc.next(maxHeader)
	if err != nil {
		return nil, nil, ErrNotRunFile
	}
	var raw struct {
		Format  string          `json:"format"`
		Version int             `json:"version"`
		Faya    string          `json:"faya_version"`
		Meta    json.RawMessage `json:"meta"`
		Steps   json.RawMessage `json:"steps"`
	}
	if err := json.Unmarshal(b, &raw); err != nil || raw.Format != Format {
		return nil, nil, ErrNotRunFile
	}
	if raw.Version > Version || raw.Version < 1 {
		return nil, nil, fmt.Errorf("a faya run file of format version %d (written by faya %s); this faya reads version %d: use a newer faya", raw.Version, raw.Faya, Version)
	}
	var sizes struct {
		Scenarios json.RawMessage `json:"scenarios"`
		Proxies   json.RawMessage `json:"proxies"`
	}
	if err := json.Unmarshal(raw.Meta, &sizes); err != nil {
		return nil, nil, sc.damaged(err)
	}
	if err := errors.Join(most(sizes.Scenarios, maxScenarios, "scenarios"), most(sizes.Proxies, metrics.MaxEncodedProxies, "proxies"),
		most(raw.Steps, MaxSteps, "steps")); err != nil {
		return nil, nil, sc.damaged(err)
	}
	h := &header{Format: raw.Format, Version: raw.Version, Faya: raw.Faya}
	if err := json.Unmarshal(raw.Meta, &h.Meta); err != nil {
		return nil, nil, sc.damaged(err)
	}
	if len(raw.Steps) > 0 {
		if err := json.Unmarshal(raw.Steps, &h.Steps); err != nil {
			return nil, nil, sc.damaged(err)
		}
	}
	if err := json.Unmarshal(b, &h.Origin); err != nil {
		return nil, nil, sc.damaged(err)
	}
	return sc, h, nil
}

// decodeEnd decodes the end of a file of size bytes, its lists checked for
// size first.
func decodeEnd(b []byte, size int64) (*end, error) {
	var sizes struct {
		Timeline, Steps, Thresholds, Findings json.RawMessage
	}
	if err := json.Unmarshal(b, &sizes); err != nil {
		return nil, err
	}
	// Version 1's time series: a point costs 120 bytes; the file must
	// hold a few bytes for each.
	if err := errors.Join(most(sizes.Timeline, maxPoints(size), "points"), most(sizes.Steps, MaxSteps, "steps"),
		most(sizes.Thresholds, maxThresholds, "thresholds"), most(sizes.Findings, maxFindings, "findings")); err != nil {
		return nil, err
	}
	var e end
	if err := json.Unmarshal(b, &e); err != nil {
		return nil, err
	}
	return &e, nil
}

// spend counts the histograms b holds (each encoding starts with "HIST";
// one that does not is refused before anything is allocated for it)
// against what a file of size bytes may decode: a histogram costs 270 kB
// in memory and its decoding time, and takes tens of bytes of the file
// (its counts, compressed, do not compress again), so a file of repeated
// histograms is refused before it takes minutes and gigabytes in all.
func spend(budget *int64, b []byte, size int64) error {
	*budget += int64(bytes.Count(b, []byte(`"HIST`)))
	if *budget > 1024+size/16 {
		return fmt.Errorf("more histograms than a file of %d bytes holds", size)
	}
	return nil
}

// maxPoints bounds the points of a file of size bytes: a point costs 120
// bytes in memory, and the file must hold a few bytes for each (an
// interval is a gzip member of at least 20 bytes in version 2).
func maxPoints(size int64) int { return int(min(4096+size/4, 1<<30)) }

// most refuses a JSON array of more than max elements.
func most(raw json.RawMessage, max int, what string) error {
	if n := arrayLen(raw); n > max {
		return fmt.Errorf("%d %s: more than the %d a run can have", n, what, max)
	}
	return nil
}

// arrayLen counts the elements of a JSON array, b being valid JSON; 0 for
// anything else.
func arrayLen(b []byte) int {
	b = bytes.TrimSpace(b)
	if len(b) < 2 || b[0] != '[' || len(bytes.TrimSpace(b[1:len(b)-1])) == 0 {
		return 0
	}
	n, depth, str, esc := 1, 0, false, false
	for _, c := range b {
		switch {
		case str:
			switch {
			case esc:
				esc = false
			case c == '\\':
				esc = true
			case c == '"':
				str = false
			}
		case c == '"':
			str = true
		case c == '[' || c == '{':
			depth++
		case c == ']' || c == '}':
			depth--
		case c == ',' && depth == 1:
			n++
		}
	}
	return n
}

// present records whether a JSON value is there, without decoding it.
type present bool

// UnmarshalJSON implements json.Unmarshaler.
func (p *present) UnmarshalJSON(b []byte) error {
	*p = present(!bytes.Equal(b, []byte("null")))
	return nil
}

// scanner reads a run file's lines.
type scanner struct {
	br  *bufio.Reader
	buf []byte
	n   int // lines read
}

// errCut is a line that the file ends in the middle of; errLong a line
// longer than a run file has.
var (
	errCut  = errors.New("the file ends in the middle of a line")
	errLong = errors.New("a line longer than a run file has")
)

// next returns the next line, without its newline, valid until the next
// call: io.EOF at the end of the file, errCut or the decompressor's error
// for a file that ends, or is damaged, in the middle of a line. A line
// over limit bytes is an error.
func (s *scanner) next(limit int) ([]byte, error) {
	s.buf = s.buf[:0]
	for {
		b, err := s.br.ReadSlice('\n')
		if len(s.buf)+len(b) > limit {
			s.n++
			return nil, fmt.Errorf("%w (over %d bytes)", errLong, limit)
		}
		s.buf = append(s.buf, b...)
		switch {
		case err == nil:
			s.n++
			return s.buf[:len(s.buf)-1], nil
		case errors.Is(err, bufio.ErrBufferFull):
			continue
		case errors.Is(err, io.EOF) && len(s.buf) == 0:
			return nil, io.EOF
		case errors.Is(err, io.EOF):
			return nil, errCut
		}
		return nil, err
	}
}

// damaged describes an error at the last line read.
func (s *scanner) damaged(err error) error {
	return fmt.Errorf("the run file is damaged at line %d: %w", s.n, err)
}

// cut says why the file ended before the run's end.
func (s *scanner) cut(err error) string {
	switch {
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, errCut):
		return "the file ends before the run's end (the run was killed, crashed or ran out of disk)"
	}
	return fmt.Sprintf("the file is damaged after its last whole interval (%v)", err)
}
