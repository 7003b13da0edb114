package transport

import (
	"syscall"
	"unsafe"
)

// readable is FIONREAD on fd: the bytes in its receive queue, 0 on error.
// The call does not block (a raw system call).
func readable(fd int) int {
	var n int32
	if _, _, e := syscall.RawSyscall(syscall.SYS_IOCTL, uintptr(fd), syscall.TIOCINQ, uintptr(unsafe.Pointer(&n))); e != 0 {
		return 0
	}
	return int(n)
}
