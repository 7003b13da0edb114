package main_test

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// faya's own packages do next to nothing at start: every command, faya
// run included, pays for what their initialisers build (the HTML report's
// template, the Kubernetes scheme, a histogram to size the raw counts
// took 780 kB and 3,600 allocations together). What only some commands
// need is built when first used (sync.OnceValue). The runtime's
// inittrace counts each package's initialiser's allocations.
func TestInitWork(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bin := build(t)
	cmd := exec.Command(bin, "--version")
	cmd.Env = append(os.Environ(), "GODEBUG=inittrace=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("faya --version: %v\n%s", err, out)
	}
	const (
		perPackage = 16 << 10
		total      = 48 << 10
	)
	sum, n := 0, 0
	for line := range strings.Lines(string(out)) {
		// init github.com/faya-load/faya/report @9.7 ms, 0.005 ms clock, 744 bytes, 6 allocs
		var pkg string
		var at, clock float64
		var bytes, allocs int
		if _, err := fmt.Sscanf(line, "init %s @%f ms, %f ms clock, %d bytes, %d allocs", &pkg, &at, &clock, &bytes, &allocs); err != nil {
			continue
		}
		n++
		if !strings.HasPrefix(pkg, "github.com/faya-load/faya/") {
			continue
		}
		sum += bytes
		if bytes > perPackage {
			t.Errorf("package %s allocates %d bytes (%d allocations) at start, more than %d: build what only some commands use when first used (sync.OnceValue)", pkg, bytes, allocs, perPackage)
		}
	}
	if n < 50 {
		t.Fatalf("read %d initialisers from inittrace, want the binary's (over 50):\n%s", n, out)
	}
	if sum > total {
		t.Errorf("faya's packages allocate %d bytes at start, more than %d", sum, total)
	}
}
