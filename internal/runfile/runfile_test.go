package runfile

import (
	"bytes"
	"compress/gzip"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/faya-load/faya/diagnose"
	"github.com/faya-load/faya/metrics"
	"github.com/faya-load/faya/report"
	"github.com/faya-load/faya/threshold"
)

// aRun records three intervals of samples and returns the intervals, as
// the engine hands them over, and the run they add up to.
func aRun(t *testing.T) ([]Interval, report.Run) {
	t.Helper()
	rec := metrics.NewRecorder(1)
	sh := rec.Shard(0)
	step := rec.StepIndex("s\x00home") + 1
	total := &metrics.Snapshot{}
	var ivs []Interval
	var timeline []metrics.Point
	for sec := range 3 {
		for i := range 500 {
			s := &metrics.Sample{Latency: time.Duration(100+i*sec) * time.Microsecond, Status: 200, Step: step, Reused: 1, First: true}
			if i%100 == 0 {
				s.Status = 503
			}
			s.Phases[int(metrics.Wait-metrics.Blocked)], s.PhaseSet = s.Latency/2, 1<<int(metrics.Wait-metrics.Blocked)
			sh.Record(s, nil)
		}
		sh.Record(&metrics.Sample{Latency: time.Millisecond, Err: metrics.ErrRefused, Step: step}, errors.New("dial tcp: connection refused"))
		rec.ConnDialed()
		iv := rec.Flush(nil)
		total.Merge(iv)
		p := metrics.PointOf(iv, time.Duration(sec+1)*time.Second, time.Second)
		timeline = append(timeline, p)
		ivs = append(ivs, Interval{Point: p, HasPoint: true, Snapshot: iv})
	}
	th, err := threshold.Parse("p99(latency) < 1ms", "")
	if err != nil {
		t.Fatal(err)
	}
	steps := []string{"home"}
	return ivs, report.Run{
		Meta:       report.Meta{Version: "test", URL: "http://127.0.0.1:1/", Method: "GET", Engine: "h1", Executor: "vus", VUs: 5, Duration: 3 * time.Second, ConnScope: "shared"},
		Total:      total,
		Timeline:   timeline,
		Duration:   3 * time.Second,
		Scheduling: 3 * time.Second,
		Sockets:    diagnose.Sockets{Watched: true, TimeWaitAfter: 3, PortLo: 32768, PortHi: 60999},
		Steps:      []report.StepName{{Scenario: "s", Name: "home"}},
		Thresholds: threshold.Evaluate([]threshold.Threshold{th}, threshold.Input{Total: total, StepNames: steps, Scheduling: 3 * time.Second}),
	}
}

func reports(t *testing.T, run report.Run) (text, json string) {
	t.Helper()
	rep := report.Build(run)
	var a, b bytes.Buffer
	if err := report.Text(&a, rep); err != nil {
		t.Fatal(err)
	}
	if err := report.JSON(&b, rep); err != nil {
		t.Fatal(err)
	}
	return a.String(), b.String()
}

func write(t *testing.T, ivs []Interval, run report.Run) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "run.faya")
	w, err := Create(path, run.Meta)
	if err != nil {
		t.Fatal(err)
	}
	for _, iv := range ivs {
		w.Interval(iv.Point, iv.HasPoint, iv.Snapshot)
	}
	if err := w.Close(run, report.Build(run).Findings); err != nil {
		t.Fatal(err)
	}
	return path
}

// The reports rebuilt from the file are the reports of the run, byte for
// byte.
func TestRoundTrip(t *testing.T) {
	ivs, run := aRun(t)
	wantText, wantJSON := reports(t, run)
	back, err := Read(write(t, ivs, run))
	if err != nil {
		t.Fatal(err)
	}
	gotText, gotJSON := reports(t, back.Run)
	if gotText != wantText {
		t.Errorf("text report from the file differs:\n%s\nwant:\n%s", gotText, wantText)
	}
	if gotJSON != wantJSON {
		t.Errorf("JSON report from the file differs:\n%s\nwant:\n%s", gotJSON, wantJSON)
	}
	if len(back.Intervals) != 3 || back.Intervals[2].Snapshot.Requests != 501 || back.FayaVersion != "test" {
		t.Errorf("intervals %d, last %d requests, version %q", len(back.Intervals), back.Intervals[2].Snapshot.Requests, back.FayaVersion)
	}
	// The intervals add up to the total.
	sum := &metrics.Snapshot{}
	for _, iv := range back.Intervals {
		sum.Merge(iv.Snapshot)
	}
	if sum.Requests != run.Total.Requests || sum.Hist(metrics.Latency).TotalCount() != run.Total.Hist(metrics.Latency).TotalCount() {
		t.Errorf("intervals add up to %d requests, the total is %d", sum.Requests, run.Total.Requests)
	}
	if len(back.Findings) == 0 {
		t.Error("the findings were not saved")
	}
}

func TestReadErrors(t *testing.T) {
	ivs, run := aRun(t)
	good, err := os.ReadFile(write(t, ivs, run))
	if err != nil {
		t.Fatal(err)
	}
	plain := gunzip(t, good)
	lines := strings.SplitAfter(plain, "\n")
	dir := t.TempDir()
	for _, tc := range []struct {
		name string
		data []byte
		want string
	}{
		{"not gzip", []byte("hello"), "not a faya run file"},
		{"not a run", gz(t, `{"format":"other"}`+"\n"), "not a faya run file"},
		{"newer", gz(t, strings.Replace(lines[0], `"version":1`, `"version":7`, 1)), "format version 7 (written by faya test); this faya reads version 1: use a newer faya"},
		{"cut short", gz(t, strings.Join(lines[:3], "")), "ends after 2 intervals without the run's end"},
		{"damaged", gz(t, lines[0]+lines[1][:len(lines[1])/2]+"\n"), "damaged at line 2"},
		{"bad histogram", gz(t, lines[0]+`{"interval":{"snapshot":{"Hists":{"latency":"AAAA"}}}}`+"\n"), "damaged at line 2"},
		{"empty line kind", gz(t, lines[0]+"{}\n"), "neither an interval nor the end"},
		{"truncated gzip", good[:len(good)/2], "damaged"},
	} {
		path := filepath.Join(dir, tc.name)
		if err := os.WriteFile(path, tc.data, 0o644); err != nil {
			t.Fatal(err)
		}
		_, err := Read(path)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", tc.name, err, tc.want)
		}
	}
}

func gz(t *testing.T, s string) []byte {
	var b bytes.Buffer
	w := gzip.NewWriter(&b)
	_, _ = w.Write([]byte(s))
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func gunzip(t *testing.T, b []byte) string {
	r, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if _, err := out.ReadFrom(r); err != nil {
		t.Fatal(err)
	}
	return out.String()
}

func FuzzRead(f *testing.F) {
	f.Add([]byte("x"))
	f.Fuzz(func(t *testing.T, b []byte) {
		_, _ = read(bytes.NewReader(b))      // no panic on anything
		_, _ = read(bytes.NewReader(gzb(b))) // nor on any gzip content
	})
}

func gzb(b []byte) []byte {
	var out bytes.Buffer
	w := gzip.NewWriter(&out)
	_, _ = w.Write(b)
	_ = w.Close()
	return out.Bytes()
}
