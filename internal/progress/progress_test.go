package progress

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/faya-load/faya/diagnose"
	"github.com/faya-load/faya/metrics"
)

var update = flag.Bool("update", false, "rewrite the golden files")

func golden(t *testing.T, name string, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if got != string(want) {
		t.Errorf("%s differs (go test -update rewrites it):\n%q\nwant:\n%q", name, got, want)
	}
}

// point is a canned second of a 50-VU run.
func point(sec int) metrics.Point {
	return metrics.Point{
		T: time.Duration(sec) * time.Second, Requests: 48213, Errors: 12, Dialed: 0, RPS: 48213,
		P50: 512 * time.Microsecond, P99: 2310 * time.Microsecond,
		VUsBusy: 50, ConnsOpen: 50, ConnsActive: 48, TimeWait: 7,
	}
}

func total(sec int) *metrics.Snapshot {
	return &metrics.Snapshot{Requests: int64(sec) * 48213, OK: int64(sec) * 48201, Errors: int64(sec) * 12, Dialed: 50, ConnFresh: 50, ConnReused: int64(sec)*48213 - 50}
}

func cfg() diagnose.Config {
	return diagnose.Config{Concurrency: 50, MaxConnsPerHost: 50, MaxIdleConnsPerHost: 50, MaxIdleConns: 50, IdleConnTimeout: 90 * time.Second}
}

// The terminal view: each frame replaces the last (cursor up, erase).
func TestTerminalFrames(t *testing.T) {
	var b bytes.Buffer
	v := New(&b, Options{Terminal: true, Length: time.Minute, Config: cfg(), Width: 100})
	for sec := 1; sec <= 3; sec++ {
		v.Update(point(sec), total(sec))
	}
	v.Close()
	golden(t, "terminal.golden", b.String())
	if n := strings.Count(b.String(), "\x1b[4A\x1b[J"); n != 3 {
		t.Errorf("%d frames erased, want 3 (two updates and the close)", n)
	}
}

// Not a terminal: a plain line every 5 s, no escape codes.
func TestPlainLines(t *testing.T) {
	var b bytes.Buffer
	v := New(&b, Options{Requests: 1_000_000, Config: cfg()})
	for sec := 1; sec <= 12; sec++ {
		v.Update(point(sec), total(sec))
	}
	v.Close()
	golden(t, "plain.golden", b.String())
	if strings.Contains(b.String(), "\x1b") || strings.Count(b.String(), "\n") != 2 {
		t.Errorf("want two plain lines (at 5 s and 10 s), no escape codes:\n%s", b.String())
	}
}

// A finding that becomes true during the run is printed once, when it
// does; the first two seconds are left out.
func TestLiveFindings(t *testing.T) {
	var b bytes.Buffer
	v := New(&b, Options{Length: time.Minute, Config: diagnose.Config{Concurrency: 50, MaxConnsPerHost: 50, MaxIdleConnsPerHost: 2, MaxIdleConns: 50, IdleConnTimeout: 90 * time.Second}})
	churn := func(sec int) *metrics.Snapshot {
		s := total(sec)
		s.Dialed = int64(500 * sec)
		s.ConnFresh = s.Dialed
		s.ConnReused = s.Requests - s.Dialed
		s.Closed = s.Dialed - 50
		s.CloseReasons[3] = s.Closed // too_many_idle_for_host
		s.PutIdleErrors[3] = s.Closed
		return s
	}
	for sec := 1; sec <= 6; sec++ {
		p := point(sec)
		p.Dialed = 500
		v.Update(p, churn(sec))
	}
	out := b.String()
	if n := strings.Count(out, "idle pool is smaller than the concurrency"); n != 1 {
		t.Fatalf("the idle-pool finding shown %d times, want once:\n%s", n, out)
	}
	if !strings.Contains(out, "faya: [warning at 0:02]") || !strings.Contains(out, "fix: --max-idle-conns-per-host 50") {
		t.Errorf("want the warning at 0:02 with its fix:\n%s", out)
	}

	// On a terminal of 40 columns, the warning's lines fit too.
	b.Reset()
	v = New(&b, Options{Terminal: true, Width: 40, Length: time.Minute, Config: diagnose.Config{Concurrency: 50, MaxConnsPerHost: 50, MaxIdleConnsPerHost: 2, MaxIdleConns: 50, IdleConnTimeout: 90 * time.Second}})
	for sec := 1; sec <= 3; sec++ {
		p := point(sec)
		p.Dialed = 500
		v.Update(p, churn(sec))
	}
	if !strings.Contains(b.String(), "faya: [warning at 0:02] The idle pool") {
		t.Fatalf("no warning:\n%s", b.String())
	}
	for _, l := range strings.Split(regexp.MustCompile("\x1b\\[[0-9]*[AJ]").ReplaceAllString(b.String(), ""), "\n") {
		if n := utf8.RuneCountInString(l); n > 39 {
			t.Errorf("a line of %d columns on a 40-column terminal: %q", n, l)
		}
	}
}

func TestFormat(t *testing.T) {
	for _, tc := range []struct{ got, want string }{
		{clock(59500 * time.Millisecond), "1:00"}, {clock(3725 * time.Second), "1:02:05"},
		{dur(0), "-"}, {dur(999), "999ns"}, {dur(1500), "1.5µs"}, {dur(2310 * time.Microsecond), "2.31ms"}, {dur(12 * time.Second), "12s"},
		{count(0), "0"}, {count(1234567), "1,234,567"}, {count(-1234), "-1,234"},
	} {
		if tc.got != tc.want {
			t.Errorf("got %q, want %q", tc.got, tc.want)
		}
	}
}

// Iterations dropped with VUs to spare while the generator's CPU is busy:
// the live finding names the generator, as the final report does, not
// the VUs.
func TestLiveShortfallNamesTheGenerator(t *testing.T) {
	for _, tc := range []struct {
		busy float64
		want string
	}{{0.97, "limited by the generator"}, {0, "limited by the VUs"}} {
		rec := metrics.NewRecorder(1)
		for range 1000 {
			rec.Sched.Sent()
			rec.Shard(0).Record(&metrics.Sample{Latency: time.Millisecond, ServiceTime: time.Millisecond,
				Scheduled: true, Lag: 2 * time.Millisecond, First: true, Status: 200}, nil)
		}
		for range 100 {
			rec.Sched.Dropped()
		}
		total := rec.Flush(nil)
		var b bytes.Buffer
		v := New(&b, Options{Length: time.Minute, Config: diagnose.Config{Open: true, Concurrency: 200, MaxConnsPerHost: 200}})
		v.Generator(tc.busy, 1)
		v.Update(metrics.Point{T: 3 * time.Second, Requests: 1000, Intended: 1100, Dropped: 100}, total)
		if !strings.Contains(b.String(), tc.want) {
			t.Errorf("generator %.0f%% busy: want %q live:\n%s", 100*tc.busy, tc.want, b.String())
		}
	}
}

// A finding that quotes a server's bytes reaches the terminal escaped.
func TestWarningEscapes(t *testing.T) {
	const hostile = "\x1b]0;owned\x07\x1b[2J"
	got := warning(diagnose.Finding{Severity: diagnose.Error, Title: "failed: " + hostile, Fix: "see " + hostile}, 3*time.Second)
	want := "[error at 0:03] failed: \\x1b]0;owned\\x07\\x1b[2J\n      fix: see \\x1b]0;owned\\x07\\x1b[2J"
	if got != want {
		t.Errorf("warning = %q, want %q", got, want)
	}
}

func TestFit(t *testing.T) {
	for _, tc := range []struct {
		parts []string
		width int
		want  []string
	}{
		{[]string{"  a", "b", "c"}, 20, []string{"  a   b   c"}},
		{[]string{"  aaaa", "bbbb", "cccc"}, 13, []string{"  aaaa   bbbb", "    cccc"}},
		{[]string{"  aaaa", "bbbbbbbbbbbbbbbbbbbb"}, 12, []string{"  aaaa", "    bbbbbbb~"}},
		{[]string{"faya  [==]  50%", "0:01 / 0:02"}, 10, []string{"faya  [==~", "  0:01 / ~"}},
		{[]string{"  µµµµ", "µµ"}, 11, []string{"  µµµµ   µµ"}}, // columns, not bytes
	} {
		if got := fit(tc.parts, "   ", tc.width); strings.Join(got, "|") != strings.Join(tc.want, "|") {
			t.Errorf("fit(%q, %d) = %q, want %q", tc.parts, tc.width, got, tc.want)
		}
	}
}

// On any terminal, from 20 columns to 200, every line of a frame fits (at
// most the width less one column: a line the terminal wraps would be one
// more than the redraw moves up over), the frame fits the height, and
// each redraw moves up over exactly the lines of the last frame.
func TestFramesFitTheTerminal(t *testing.T) {
	for width := 20; width <= 200; width += 3 {
		for _, height := range []int{3, 24} {
			var b bytes.Buffer
			p := point(1)
			p.Intended, p.Dropped, p.LagP99 = 48000, 1234567, 3*time.Second
			v := New(&b, Options{Terminal: true, Length: time.Hour, Config: cfg(), Size: func() (int, int) { return width, height }})
			v.Update(p, total(1))
			frame := b.String()
			v.Update(p, total(2))
			lines := strings.Split(strings.TrimSuffix(frame, "\n"), "\n")
			for _, l := range lines {
				if n := utf8.RuneCountInString(l); n > width-1 {
					t.Fatalf("%dx%d: a line of %d columns: %q", width, height, n, l)
				}
			}
			if len(lines) > height-1 {
				t.Errorf("%dx%d: a frame of %d lines", width, height, len(lines))
			}
			if up := fmt.Sprintf("\x1b[%dA\x1b[J", len(lines)); !strings.HasPrefix(b.String()[len(frame):], up) {
				t.Errorf("%dx%d: the redraw does not move up over the %d lines of the frame:\n%q", width, height, len(lines), b.String())
			}
			if width >= 80 && height == 24 && (!strings.Contains(frame, "conns open 50") || !strings.Contains(frame, "total 48,213 requests") || !strings.Contains(frame, "lag p99 3s")) {
				t.Errorf("%d columns: the frame lacks a figure:\n%s", width, frame)
			}
		}
	}
}

// The frame at 80 columns: the bar narrows, and parts that do not fit go
// to the next line.
func TestTerminalFrame80(t *testing.T) {
	var b bytes.Buffer
	v := New(&b, Options{Terminal: true, Length: time.Minute, Config: cfg(), Width: 80, Height: 24})
	v.Update(point(3), total(3))
	golden(t, "terminal80.golden", b.String())
}

func TestWrap(t *testing.T) {
	for _, tc := range []struct {
		in    string
		width int
		want  []string
	}{
		{"faya: short", 20, []string{"faya: short"}},
		{"faya: [warning at 0:02] a b c d", 16, []string{"faya: [warning", "  at 0:02] a b c", "  d"}},
		{"      fix: reuse connections now", 20, []string{"      fix: reuse", "        connections", "        now"}},
		{"faya: aaaaaaaaaaaaaaaaaaaaaaaaa", 12, []string{"faya:", "  aaaaaaaaa~"}},
	} {
		got := wrap(tc.in, tc.width)
		if strings.Join(got, "|") != strings.Join(tc.want, "|") {
			t.Errorf("wrap(%q, %d) = %q, want %q", tc.in, tc.width, got, tc.want)
		}
		for _, l := range got {
			if utf8.RuneCountInString(l) > tc.width {
				t.Errorf("wrap(%q, %d): %q is too wide", tc.in, tc.width, l)
			}
		}
	}
}

// Idle closes: the frame shows the last second's, a plain line those since
// the line before (none when there were none).
func TestIdleCloses(t *testing.T) {
	var b bytes.Buffer
	v := New(&b, Options{Terminal: true, Length: time.Minute, Config: cfg(), Width: 100})
	p := point(3)
	p.IdleTimeoutCloses, p.ServerIdleCloses = 2, 7
	v.Update(p, total(3))
	if !strings.Contains(b.String(), "closed idle 2 by IdleConnTimeout, 7 by the server") {
		t.Errorf("frame without the idle closes:\n%s", b.String())
	}
	b.Reset()
	v = New(&b, Options{Requests: 1_000_000, Config: cfg()})
	for sec := 1; sec <= 10; sec++ {
		p := point(sec)
		if sec == 7 || sec == 8 {
			p.ServerIdleCloses = 90
		}
		v.Update(p, total(sec))
	}
	lines := strings.Split(strings.TrimSpace(b.String()), "\n")
	if len(lines) != 2 || strings.Contains(lines[0], "closed idle") || !strings.Contains(lines[1], "closed idle since 0:05: 0 by IdleConnTimeout, 180 by the server") {
		t.Errorf("plain lines, want the 180 closes of 0:07-0:08 on the second only:\n%s", b.String())
	}
}
