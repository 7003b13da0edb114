package runfile

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/faya-load/faya/diagnose"
	"github.com/faya-load/faya/engine"
	"github.com/faya-load/faya/metrics"
	"github.com/faya-load/faya/report"
	"github.com/faya-load/faya/threshold"
)

// aRun records three intervals of samples and returns the intervals, as
// the engine hands them over, and the run they add up to.
func aRun(t testing.TB) ([]Interval, report.Run) {
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
		Meta: report.Meta{Version: "test", URL: "http://127.0.0.1:1/", Method: "GET", Engine: "h1", Executor: "vus", VUs: 5, Duration: 3 * time.Second, ConnScope: "shared"},
		Result: engine.Result{
			Total:      total,
			Timeline:   timeline,
			Duration:   3 * time.Second,
			Scheduling: 3 * time.Second,
			Steps:      []engine.StepInfo{{Scenario: "s", Name: "home"}},
		},
		Sockets:    diagnose.Sockets{Watched: true, TimeWaitAfter: 3, PortLo: 32768, PortHi: 60999},
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

// write saves the run and returns the file, and its size after the header
// and after each interval.
func write(t testing.TB, ivs []Interval, run report.Run) (string, []int64) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "run.faya")
	w, err := Create(path, run.Meta, run.Steps)
	if err != nil {
		t.Fatal(err)
	}
	size := func() int64 {
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		return fi.Size()
	}
	sizes := []int64{size()}
	for _, iv := range ivs {
		w.Interval(iv.Point, iv.HasPoint, iv.Snapshot)
		sizes = append(sizes, size())
	}
	if err := w.Close(run, report.Build(run).Findings); err != nil {
		t.Fatal(err)
	}
	return path, sizes
}

// The reports rebuilt from the file are the reports of the run, byte for
// byte.
func TestRoundTrip(t *testing.T) {
	ivs, run := aRun(t)
	wantText, wantJSON := reports(t, run)
	path, _ := write(t, ivs, run)
	back, err := Read(path)
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
	if back.Intervals != 3 || back.Cut != "" || back.FayaVersion != "test" {
		t.Errorf("intervals %d, cut %q, version %q", back.Intervals, back.Cut, back.FayaVersion)
	}
	if len(back.Findings) == 0 {
		t.Error("the findings were not saved")
	}
}

func TestReadErrors(t *testing.T) {
	ivs, run := aRun(t)
	path, _ := write(t, ivs, run)
	good, err := os.ReadFile(path)
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
		{"newer", gz(t, strings.Replace(lines[0], `"version":2`, `"version":7`, 1)), "format version 7 (written by faya test); this faya reads version 2: use a newer faya"},
		{"damaged", gz(t, lines[0]+lines[1][:len(lines[1])/2]+"\n"), "damaged at line 2"},
		{"bad histogram", gz(t, lines[0]+lines[1]+lines[2]+`{"interval":{"snapshot":{"Hists":{"latency":"AAAA"}}}}`+"\n"), "damaged at line 4"},
		{"empty line kind", gz(t, lines[0]+"{}\n"), "neither an interval nor the end"},
		{"long line", gz(t, lines[0]+`{"interval":{"snapshot":{"x":"`+strings.Repeat("x", maxLine)+`"}}}`+"\n"), "damaged at line 2: a line longer than a run file has"},
		{"many steps", gz(t, strings.Replace(lines[0], `"steps":[`, `"steps":[`+strings.Repeat(`{},`, MaxSteps), 1)), "damaged at line 1: 257 steps: more than the 256"},
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

func gz(t testing.TB, s string) []byte {
	var b bytes.Buffer
	w := gzip.NewWriter(&b)
	_, _ = w.Write([]byte(s))
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func gunzip(t testing.TB, b []byte) string {
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

// The decoder on any bytes, and on any gzip content (seeded with a real
// run's lines): no panic, and a run it reads gives reports.
func FuzzRead(f *testing.F) {
	f.Add([]byte("x"))
	ivs, run := aRun(f)
	path, _ := write(f, ivs, run)
	good, err := os.ReadFile(path)
	if err != nil {
		f.Fatal(err)
	}
	plain := gunzip(f, good)
	f.Add([]byte(plain))
	lines := strings.SplitAfter(plain, "\n")
	f.Add([]byte(lines[0] + lines[1]))
	f.Add([]byte(lines[0] + lines[len(lines)-2]))
	f.Fuzz(func(t *testing.T, b []byte) {
		check := func(b []byte) {
			r, err := read(bytes.NewReader(b), int64(len(b)))
			if err != nil {
				return
			}
			if r.Run.Total == nil {
				t.Fatal("a run without its total")
			}
			rep := report.Build(r.Run)
			if err := report.Text(io.Discard, rep); err != nil {
				t.Fatal(err)
			}
		}
		check(b)
		check(gzb(b))
	})
}

func gzb(b []byte) []byte {
	var out bytes.Buffer
	w := gzip.NewWriter(&out)
	_, _ = w.Write(b)
	_ = w.Close()
	return out.Bytes()
}

// A file cut anywhere (kill -9, a crash, a full disk) reads back up to its
// last complete interval, says it was cut, and its reports add up those
// intervals.
func TestCutFile(t *testing.T) {
	ivs, run := aRun(t)
	path, sizes := write(t, ivs, run)
	full, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	cut := filepath.Join(t.TempDir(), "cut.faya")
	var ns []int64 // every 41st byte, and around the ends of the members
	for n := int64(1); n < int64(len(full)); n += 41 {
		ns = append(ns, n)
	}
	for _, s := range append(sizes, int64(len(full))) {
		for d := int64(-20); d <= 1; d++ {
			if n := s + d; n > 0 && n < int64(len(full)) {
				ns = append(ns, n)
			}
		}
	}
	reported := false
	for _, n := range ns {
		if err := os.WriteFile(cut, full[:n], 0o644); err != nil {
			t.Fatal(err)
		}
		back, err := Read(cut)
		if n < sizes[0] && err != nil {
			continue // cut in the header
		}
		if err != nil {
			t.Fatalf("%d of %d bytes: %v", n, len(full), err)
		}
		if back.Cut == "" && n >= int64(len(full))-16 && back.Intervals == len(ivs) && back.Run.Total.Requests == run.Total.Requests {
			continue // the end's line is whole
		}
		whole := 0
		for i, s := range sizes[1:] {
			// An interval whose member lacks only its last bytes (its
			// checksum) still has its line whole.
			if s <= n || s-16 <= n && back.Intervals == i+1 {
				whole++
			}
		}
		var want int64
		for _, iv := range ivs[:whole] {
			want += iv.Snapshot.Requests
		}
		if back.Intervals != whole || back.Run.Total.Requests != want || !back.Run.Interrupted || len(back.Run.Timeline) != whole {
			t.Fatalf("%d of %d bytes: %d intervals, %d requests, %d points, partial %v; want %d intervals, %d requests",
				n, len(full), back.Intervals, back.Run.Total.Requests, len(back.Run.Timeline), back.Run.Interrupted, whole, want)
		}
		if !strings.Contains(back.Cut, "the file ends before the run's end") {
			t.Fatalf("%d of %d bytes: cut %q", n, len(full), back.Cut)
		}
		if whole == len(ivs) && !reported {
			reported = true
			text, _ := reports(t, back.Run)
			if !strings.Contains(text, "PARTIAL") || !strings.Contains(text, "requests    1503 ") || !strings.Contains(text, "home") {
				t.Fatalf("the report of a cut file:\n%s", text)
			}
		}
	}
}

// A file of version 1 (one gzip stream, the time series in the end) reads
// as it did.
func TestReadVersion1(t *testing.T) {
	ivs, run := aRun(t)
	path, _ := write(t, ivs, run)
	good, _ := os.ReadFile(path)
	lines := strings.SplitAfter(gunzip(t, good), "\n")
	lines[0] = strings.Replace(lines[0], `"version":2`, `"version":1`, 1)
	var end map[string]map[string]any
	if err := json.Unmarshal([]byte(lines[len(lines)-2]), &end); err != nil {
		t.Fatal(err)
	}
	end["end"]["timeline"] = run.Timeline
	b, _ := json.Marshal(end)
	lines[len(lines)-2] = string(b) + "\n"
	old := filepath.Join(t.TempDir(), "v1.faya")
	if err := os.WriteFile(old, gz(t, strings.Join(lines, "")), 0o644); err != nil {
		t.Fatal(err)
	}
	back, err := Read(old)
	if err != nil {
		t.Fatal(err)
	}
	wantText, wantJSON := reports(t, run)
	if gotText, gotJSON := reports(t, back.Run); gotText != wantText || gotJSON != wantJSON {
		t.Errorf("the reports of a version 1 file differ:\n%s", gotText)
	}
}

// Files written before the steps were engine.StepInfo name them with Go's
// field names ("Scenario", "Name", "Setup"): they read as they did, in
// the header (for a cut file) and in the end.
func TestReadStepNamesOfEarlierFiles(t *testing.T) {
	ivs, run := aRun(t)
	run.Steps = append(run.Steps, engine.StepInfo{Scenario: "s", Name: "login", Setup: true})
	path, _ := write(t, ivs, run)
	good, _ := os.ReadFile(path)
	text := gunzip(t, good)
	earlier := strings.NewReplacer(`{"scenario":"s","name":"home"}`, `{"Scenario":"s","Name":"home","Setup":false}`,
		`{"scenario":"s","name":"login","setup":true}`, `{"Scenario":"s","Name":"login","Setup":true}`).Replace(text)
	if n := strings.Count(earlier, `"Scenario":"s"`); n != 4 {
		t.Fatalf("%d steps renamed, want 4 (two in the header, two in the end):\n%s", n, earlier)
	}
	lines := strings.SplitAfter(earlier, "\n")
	for name, content := range map[string]string{"whole": earlier, "cut": strings.Join(lines[:2], "")} {
		old := filepath.Join(t.TempDir(), name+".faya")
		if err := os.WriteFile(old, gz(t, content), 0o644); err != nil {
			t.Fatal(err)
		}
		back, err := Read(old)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(back.Run.Steps, run.Steps) {
			t.Errorf("%s file: steps %+v, want %+v", name, back.Run.Steps, run.Steps)
		}
	}
}
