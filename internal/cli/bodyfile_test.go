package cli_test

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/faya-load/faya/internal/cli"
	"github.com/faya-load/faya/internal/testserver"
)

// --body-file reads a regular file of at most 64 MiB; anything else (a
// device, a pipe, a directory, a larger file) is refused, exit 2, before it
// is read and before any traffic.
func TestBodyFileBounded(t *testing.T) {
	srv := testserver.Start(t)
	dir := t.TempDir()
	big := filepath.Join(dir, "big.bin")
	f, err := os.Create(big)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(64<<20 + 1); err != nil { // sparse: no disk used
		t.Fatal(err)
	}
	_ = f.Close()
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, path, want string
	}{
		{"too big", big, "--body-file " + big + ": 67108865 bytes, more than the 64 MiB a body may have"},
		{"directory", dir, "--body-file " + dir + ": a directory, not a regular file"},
		{"pipe", fifo, "--body-file " + fifo + ": a named pipe, not a regular file"},
		{"device", "/dev/zero", "--body-file /dev/zero: a device, not a regular file"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := faya(t.Context(), "run", "-n", "1", "-m", "POST", "--body-file", tc.path, srv.URL+"/")
			if r.code != cli.ExitUsage || !strings.Contains(r.stderr, tc.want) {
				t.Errorf("exit %d, want 2 and %q:\n%s", r.code, tc.want, r.stderr)
			}
			if n := srv.Stats().Requests; n != 0 {
				t.Errorf("the target saw %d requests", n)
			}
		})
	}
}
