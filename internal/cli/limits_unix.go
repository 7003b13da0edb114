//go:build unix

package cli

import (
	"fmt"
	"io"
	"syscall"
)

// checkFileLimit raises the open-file limit to its hard limit (Go does so
// at start-up since 1.19; this makes sure) and warns when it is still below
// the connections the run may open.
func checkFileLimit(stderr io.Writer, conns int) {
	var l syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &l); err != nil {
		return
	}
	if l.Cur < l.Max {
		l.Cur = l.Max
		_ = syscall.Setrlimit(syscall.RLIMIT_NOFILE, &l)
		_ = syscall.Getrlimit(syscall.RLIMIT_NOFILE, &l)
	}
	need := uint64(conns) + 64 // and a few for the process itself
	if l.Cur < need {
		fmt.Fprintf(stderr, "faya: warning: the open-file limit is %d (hard limit %d), below the %d connections this run may open; requests will fail with \"too many open files\" (class local). Raise it (ulimit -n %d, or LimitNOFILE in a systemd unit) or lower the concurrency.\n",
			l.Cur, l.Max, conns, need)
	}
}
