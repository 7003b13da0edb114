package main_test

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/faya-load/faya/internal/testserver"
)

var built struct {
	once sync.Once
	dir  string
	bin  string
	err  error
	out  []byte
}

func TestMain(m *testing.M) {
	code := m.Run()
	if built.dir != "" {
		_ = os.RemoveAll(built.dir)
	}
	os.Exit(code)
}

// build compiles faya once for the package's tests.
func build(t *testing.T) string {
	t.Helper()
	built.once.Do(func() {
		built.dir, built.err = os.MkdirTemp("", "faya-bin-")
		if built.err != nil {
			return
		}
		built.bin = filepath.Join(built.dir, "faya")
		built.out, built.err = exec.Command("go", "build", "-o", built.bin, ".").CombinedOutput()
	})
	if built.err != nil {
		t.Fatalf("go build: %v\n%s", built.err, built.out)
	}
	return built.bin
}

// waitRequests waits until the target has seen n requests (at most 10 s).
func waitRequests(t *testing.T, srv *testserver.Server, n int64) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); srv.Stats().Requests < n; {
		if time.Now().After(deadline) {
			t.Fatalf("the target saw %d requests, want %d", srv.Stats().Requests, n)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// The real binary under real signals: the first SIGINT stops sending and
// prints a partial report (exit 130); a second one ends the process at once.
func TestSignals(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bin := build(t)
	srv := testserver.Start(t)

	t.Run("first", func(t *testing.T) {
		var out bytes.Buffer
		cmd := exec.Command(bin, "run", "-c", "4", "-d", "1m", srv.URL+"/slow?ms=50")
		cmd.Stdout = &out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		waitRequests(t, srv, 8)
		_ = cmd.Process.Signal(syscall.SIGINT)
		err := cmd.Wait()
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != 130 {
			t.Fatalf("exit: %v, want code 130", err)
		}
		if !strings.Contains(out.String(), "PARTIAL") || !strings.Contains(out.String(), "Connections") {
			t.Errorf("no partial report:\n%s", out.String())
		}
	})

	t.Run("second", func(t *testing.T) {
		srv.Target.Reset()
		cmd := exec.Command(bin, "run", "-c", "2", "-d", "1m", srv.URL+"/slow?ms=20000")
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		waitRequests(t, srv, 2)
		start := time.Now()
		_ = cmd.Process.Signal(syscall.SIGINT) // graceful: waits for the 20 s requests
		time.Sleep(200 * time.Millisecond)
		_ = cmd.Process.Signal(syscall.SIGINT) // at once
		err := cmd.Wait()
		if took := time.Since(start); took > 5*time.Second {
			t.Errorf("the second SIGINT took %v to end the process", took)
		}
		var ee *exec.ExitError
		if !errors.As(err, &ee) {
			t.Fatalf("exit: %v, want killed by the signal", err)
		}
		if ws, ok := ee.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() || ws.Signal() != syscall.SIGINT {
			t.Errorf("exit status %v, want killed by SIGINT", ee)
		}
	})
}
