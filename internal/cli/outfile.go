package cli

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// reportFile is a report being written. A regular file (or a new one) is
// written to a temporary file next to it and renamed into place by
// commit, so that a run that fails, or a disk that fills, never leaves an
// earlier report cut or empty. Anything else (a device such as /dev/null
// or /dev/stdout, a pipe) is written as it is.
type reportFile struct {
	*os.File
	path string // as given
	dest string // the file renamed onto (symbolic links resolved); "" when written in place
}

// createReport opens path for a report.
func createReport(path string) (*reportFile, error) {
	fi, err := os.Stat(path)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	dest := resolve(path)
	inPlace := func() (*reportFile, error) {
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o666)
		if err != nil {
			return nil, err
		}
		return &reportFile{File: f, path: path}, nil
	}
	if fi != nil && !fi.Mode().IsRegular() || special(path) || special(dest) {
		return inPlace()
	}
	for range 100 {
		var b [6]byte
		_, _ = rand.Read(b[:])
		tmp := filepath.Join(filepath.Dir(dest), "."+filepath.Base(dest)+"."+hex.EncodeToString(b[:])+".tmp")
		// 0666 and the umask, as os.Create.
		f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o666)
		if errors.Is(err, fs.ErrExist) {
			continue
		}
		if err != nil {
			// A directory that takes no new file (a file writable in a
			// directory that is not): write the report in place.
			return inPlace()
		}
		if fi != nil {
			_ = f.Chmod(fi.Mode().Perm()) // keep the mode of the report it replaces
		}
		return &reportFile{File: f, path: path, dest: dest}, nil
	}
	return nil, errors.New("cannot create a temporary file next to it")
}

// resolve follows the symbolic links of path, the last one too when it
// names no file yet (os.Create would create that file).
func resolve(path string) string {
	for range 40 {
		fi, err := os.Lstat(path)
		if err != nil || fi.Mode()&fs.ModeSymlink == 0 {
			return path
		}
		to, err := os.Readlink(path)
		if err != nil {
			return path
		}
		if !filepath.IsAbs(to) {
			to = filepath.Join(filepath.Dir(path), to)
		}
		path = to
	}
	return path
}

// special reports whether path is in /dev or /proc (/dev/stdout, /dev/fd/N,
// /proc/self/fd/N): written in place, never replaced.
func special(path string) bool {
	abs, err := filepath.Abs(path)
	if err != nil {
		return false
	}
	return strings.HasPrefix(abs, "/dev/") || strings.HasPrefix(abs, "/proc/")
}

// write writes the report with w and commits it; on an error the report
// it would have replaced is left as it was.
func (r *reportFile) write(w func(io.Writer) error) error {
	err := w(r.File)
	if err != nil {
		r.abort()
	} else {
		err = r.commit()
	}
	var pe *os.PathError
	if errors.As(err, &pe) && pe.Path == r.Name() {
		err = pe.Err // the caller names the report, not its temporary file
	}
	return err
}

// commit closes the file and renames it into place.
func (r *reportFile) commit() error {
	err := r.Close()
	if r.dest == "" {
		return err
	}
	if err == nil {
		err = os.Rename(r.Name(), r.dest)
	}
	if err != nil {
		_ = os.Remove(r.Name())
	}
	return err
}

// abort closes the file and removes the temporary file: the report it
// would have replaced is left as it was.
func (r *reportFile) abort() {
	_ = r.Close()
	if r.dest != "" {
		_ = os.Remove(r.Name())
	}
}
