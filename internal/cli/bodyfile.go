package cli

import (
	"io"
	"io/fs"
	"os"
	"syscall"
)

// maxBodyFile is the largest --body-file: the body is kept in memory and
// sent whole by every request.
const maxBodyFile = 64 << 20

// readBodyFile reads --body-file: a regular file of at most maxBodyFile
// bytes. Anything else (a device such as /dev/zero, a named pipe, a
// directory, a larger file) is a usage error found before it is read.
func readBodyFile(path string) ([]byte, error) {
	// Non-blocking: opening a named pipe would otherwise wait for a writer.
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, usagef("--body-file: %v", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, usagef("--body-file: %v", err)
	}
	if !fi.Mode().IsRegular() {
		return nil, usagef("--body-file %s: %s, not a regular file: give a file of at most 64 MiB", path, fileKind(fi.Mode()))
	}
	if fi.Size() > maxBodyFile {
		return nil, usagef("--body-file %s: %d bytes, more than the 64 MiB a body may have", path, fi.Size())
	}
	b, err := io.ReadAll(io.LimitReader(f, maxBodyFile+1)) // the file may grow
	if err != nil {
		return nil, usagef("--body-file: %v", err)
	}
	if len(b) > maxBodyFile {
		return nil, usagef("--body-file %s: more than the 64 MiB a body may have", path)
	}
	return b, nil
}

// fileKind names what a file that is not a regular one is.
func fileKind(m fs.FileMode) string {
	switch {
	case m.IsDir():
		return "a directory"
	case m&fs.ModeNamedPipe != 0:
		return "a named pipe"
	case m&fs.ModeSocket != 0:
		return "a socket"
	case m&fs.ModeDevice != 0:
		return "a device"
	}
	return "a special file"
}
