package main_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

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
