package testserver

import (
	"net"
	"strconv"
	"syscall"
	"testing"
	"time"
)

// RefusedURL returns an http URL on a loopback port where connections are
// refused, for the test's life: a socket is bound to the port and never
// listens. The kernel answers a connect with a reset, and no other socket
// can take the port while it is bound (the socket has no SO_REUSEADDR),
// so a server started later cannot answer there.
func RefusedURL(t testing.TB) string {
	t.Helper()
	fd := boundSocket(t)
	return "http://" + sockAddr(t, fd) + "/"
}

// boundSocket returns a TCP socket bound to a free loopback port, closed
// at the test's end.
func boundSocket(t testing.TB) int {
	t.Helper()
	fd, err := syscall.Socket(syscall.AF_INET, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = syscall.Close(fd) })
	if err := syscall.Bind(fd, &syscall.SockaddrInet4{Addr: [4]byte{127, 0, 0, 1}}); err != nil {
		t.Fatal(err)
	}
	return fd
}

func sockAddr(t testing.TB, fd int) string {
	t.Helper()
	sa, err := syscall.Getsockname(fd)
	if err != nil {
		t.Fatal(err)
	}
	in, ok := sa.(*syscall.SockaddrInet4)
	if !ok {
		t.Fatalf("testserver: unexpected socket address %T", sa)
	}
	return net.JoinHostPort(net.IP(in.Addr[:]).String(), strconv.Itoa(in.Port))
}

// BacklogURL returns an http URL where a TCP connect never completes: a
// socket listens there with a backlog of 0, is never accepted on, and its
// queue is filled first, so the kernel drops the SYNs of new connects (as
// a server whose accept queue overflows does).
func BacklogURL(t testing.TB) string {
	t.Helper()
	fd := boundSocket(t)
	if err := syscall.Listen(fd, 0); err != nil {
		t.Fatal(err)
	}
	addr := sockAddr(t, fd)
	for range 8 {
		c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
		if err != nil {
			return "http://" + addr + "/" // the queue is full
		}
		t.Cleanup(func() { _ = c.Close() })
	}
	t.Fatal("testserver: the accept queue of a backlog-0 listener never filled")
	return ""
}
