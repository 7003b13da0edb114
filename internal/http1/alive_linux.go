package http1

import "syscall"

// alive reports whether an idle connection is still open: a non-blocking
// peek finds neither an EOF nor bytes (an idle HTTP/1.1 connection has
// nothing to read unless the server is closing it).
func alive(c *Conn) bool {
	sc, ok := c.tc.Conn.(syscall.Conn)
	if !ok {
		return true
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return true
	}
	ok = true
	var buf [1]byte
	_ = rc.Read(func(fd uintptr) bool {
		_, _, err := syscall.Recvfrom(int(fd), buf[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		ok = err == syscall.EAGAIN || err == syscall.EWOULDBLOCK
		return true
	})
	return ok
}
