package main_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/faya-load/faya/internal/testserver"
)

// brokenPipe returns the write end of a pipe whose read end is closed, as
// in faya run ... | true: every write to it fails with EPIPE.
func brokenPipe(t *testing.T) *os.File {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	_ = r.Close()
	t.Cleanup(func() { _ = w.Close() })
	return w
}

// exitCode returns the process's exit code, or fails the test when it was
// killed by a signal (SIGPIPE: exit 141 in a shell).
func exitCode(t *testing.T, err error) int {
	t.Helper()
	if err == nil {
		return 0
	}
	var ee *exec.ExitError
	if !errors.As(err, &ee) {
		t.Fatalf("run: %v", err)
	}
	if ee.ExitCode() < 0 {
		t.Fatalf("faya was killed: %v", ee)
	}
	return ee.ExitCode()
}

// requestsIn returns requests.total of a JSON report file (-1 when it does
// not parse).
func requestsIn(t *testing.T, b []byte) int64 {
	t.Helper()
	var doc struct {
		Requests struct{ Total int64 } `json:"requests"`
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		return -1
	}
	return doc.Requests.Total
}

// A closed stdout or stderr (faya run ... | true) neither stops the run nor
// loses its files: faya finishes, writes every report it can, names the one
// it could not and exits 1.
func TestBrokenPipes(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bin := build(t)
	srv := testserver.Start(t)

	t.Run("stdout", func(t *testing.T) {
		dir := t.TempDir()
		js, html, out := filepath.Join(dir, "r.json"), filepath.Join(dir, "r.html"), filepath.Join(dir, "r.faya")
		var stderr bytes.Buffer
		cmd := exec.Command(bin, "run", "-c", "2", "-n", "300", "--json", js, "--html", html, "--out", out, srv.URL+"/")
		cmd.Stdout, cmd.Stderr = brokenPipe(t), &stderr
		code := exitCode(t, cmd.Run())
		if code != 1 || !strings.Contains(stderr.String(), "write the text report to stdout") || !strings.Contains(stderr.String(), "broken pipe") {
			t.Errorf("exit %d, want 1 and the text report named, stderr:\n%s", code, stderr.String())
		}
		b, _ := os.ReadFile(js)
		if n := requestsIn(t, b); n != 300 {
			t.Errorf("the JSON report has %d requests (%d bytes), want 300", n, len(b))
		}
		if h, _ := os.ReadFile(html); !bytes.Contains(h, []byte("</html>")) {
			t.Errorf("the HTML report is incomplete (%d bytes)", len(h))
		}
		rep, err := exec.Command(bin, "report", out).Output()
		if err != nil || !bytes.Contains(rep, []byte("requests    300 ")) {
			t.Errorf("faya report %s: %v\n%s", out, err, rep)
		}
	})

	t.Run("stderr", func(t *testing.T) {
		// With --json -, the text report goes to stderr.
		dir := t.TempDir()
		html := filepath.Join(dir, "r.html")
		var stdout bytes.Buffer
		cmd := exec.Command(bin, "run", "-c", "2", "-n", "300", "--json", "-", "--html", html, srv.URL+"/")
		cmd.Stdout, cmd.Stderr = &stdout, brokenPipe(t)
		if code := exitCode(t, cmd.Run()); code != 1 {
			t.Errorf("exit %d, want 1", code)
		}
		if n := requestsIn(t, stdout.Bytes()); n != 300 {
			t.Errorf("the JSON report on stdout has %d requests (%d bytes), want 300", n, stdout.Len())
		}
		if h, _ := os.ReadFile(html); !bytes.Contains(h, []byte("</html>")) {
			t.Errorf("the HTML report is incomplete (%d bytes)", len(h))
		}
	})
}

// cutAfter returns how many intervals faya report found in a cut run
// file (-1: it did not say it was cut).
func cutAfter(stderr string) int {
	var n int
	i := strings.Index(stderr, " was cut after ")
	if i < 0 {
		return -1
	}
	if _, err := fmt.Sscanf(stderr[i:], " was cut after %d intervals", &n); err != nil {
		return -1
	}
	return n
}

// A run killed midway (kill -9, a second Ctrl-C) leaves a run file that
// reads back up to its last complete interval, and faya report says it
// was cut.
func TestKilledRunReadsBack(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bin := build(t)
	srv := testserver.Start(t)
	for _, tc := range []struct {
		name string
		kill func(p *os.Process)
	}{
		{"kill -9", func(p *os.Process) { _ = p.Kill() }},
		{"second Ctrl-C", func(p *os.Process) {
			_ = p.Signal(syscall.SIGINT)
			time.Sleep(100 * time.Millisecond)
			_ = p.Signal(syscall.SIGINT)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "r.faya")
			// Requests of 1.5 s: the first Ctrl-C waits for them, the second
			// ends the process.
			cmd := exec.Command(bin, "run", "-c", "4", "-d", "1m", "--out", out, srv.URL+"/slow?ms=1500")
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
			// Wait for two intervals in the file (reading it as it grows).
			for i := 0; ; i++ {
				var stderr bytes.Buffer
				rep := exec.Command(bin, "report", out)
				rep.Stderr = &stderr
				_ = rep.Run()
				if cutAfter(stderr.String()) >= 2 {
					break
				}
				if i == 300 {
					t.Fatalf("no two intervals in the file after 30 s:\n%s", stderr.String())
				}
				time.Sleep(100 * time.Millisecond)
			}
			tc.kill(cmd.Process)
			_ = cmd.Wait()
			var stdout, stderr bytes.Buffer
			rep := exec.Command(bin, "report", out)
			rep.Stdout, rep.Stderr = &stdout, &stderr
			if err := rep.Run(); err != nil {
				t.Fatalf("faya report: %v\n%s", err, stderr.String())
			}
			n := cutAfter(stderr.String())
			if n < 2 || !strings.Contains(stderr.String(), "the file ends before the run's end") {
				t.Errorf("faya report does not say the file was cut after 2 intervals or more:\n%s", stderr.String())
			}
			var requests int64
			for _, l := range strings.Split(stdout.String(), "\n") {
				if strings.HasPrefix(l, "  requests    ") {
					_, _ = fmt.Sscanf(l, "  requests    %d", &requests)
				}
			}
			if !strings.Contains(stdout.String(), "PARTIAL") || requests < 1 || requests > srv.Stats().Requests {
				t.Errorf("the report of the cut file: %d requests (the target saw %d):\n%s", requests, srv.Stats().Requests, stdout.String())
			}
		})
	}
}
