//go:build linux && !race

package transport

import (
	"syscall"
	"unsafe"
)

// On Linux, Exchange uses sendto and recvfrom without addresses rather
// than write and read: they go to the socket directly, without the file
// layer's position lock and iterator set-up that write and read pass
// through. Not under the race detector: syscall.Read and Write tell it
// that I/O orders the goroutines on either side (a server's handler and
// the client that read its answer), which raw system calls do not; race
// builds use sys_unix.go.
//
// The calls are raw (syscall.RawSyscall6): they do not tell the runtime
// that the goroutine enters and leaves a system call (entersyscall and
// exitsyscall: about 190 instructions each, 350 of the 5,070 of a
// request's path on a run against nginx, bench/instr.sh). Those are for
// calls that may block, so that the runtime can run other goroutines
// on another thread meanwhile; sendto and recvfrom on a nonblocking
// socket (Go's net package makes every socket nonblocking) do not block:
// with nothing to read or no room to write they return EAGAIN at once, and
// the exchange then waits in the runtime's poller as before.

func sysWrite(fd uintptr, b []byte) (int, error) { return sockIO(syscall.SYS_SENDTO, fd, b) }
func sysRead(fd uintptr, b []byte) (int, error)  { return sockIO(syscall.SYS_RECVFROM, fd, b) }

// sockIO makes a sendto or recvfrom call on b with no flags and no address.
func sockIO(trap, fd uintptr, b []byte) (int, error) {
	if len(b) == 0 {
		return 0, nil
	}
	n, _, e := syscall.RawSyscall6(trap, fd, uintptr(unsafe.Pointer(&b[0])), uintptr(len(b)), 0, 0, 0)
	if e != 0 {
		return int(n), e
	}
	return int(n), nil
}
