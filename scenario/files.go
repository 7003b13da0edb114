package scenario

import (
	"errors"
	"fmt"
	"io"
	"os"
	"syscall"
)

// MaxFileBytes bounds every file a scenario file names (data, bodies,
// CA certificates) and the scenario file itself: they are read whole into
// memory.
const MaxFileBytes = 256 << 20

// readFile reads a regular file of at most MaxFileBytes. A device such as
// /dev/zero, a named pipe (opened without blocking: it would wait for a
// writer) or a directory is refused before it is read.
func readFile(path string) ([]byte, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, errors.New("not a regular file (a device, a pipe or a directory): give a file")
	}
	if fi.Size() > MaxFileBytes {
		return nil, fmt.Errorf("%d bytes, more than the %d MiB a file may have here", fi.Size(), MaxFileBytes>>20)
	}
	b, err := io.ReadAll(io.LimitReader(f, MaxFileBytes+1)) // the file may grow
	if err != nil {
		return nil, err
	}
	if len(b) > MaxFileBytes {
		return nil, fmt.Errorf("more than the %d MiB a file may have here", MaxFileBytes>>20)
	}
	return b, nil
}
