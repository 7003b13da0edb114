//go:build !linux

package testserver

import (
	"net"
	"testing"
)

// RefusedURL returns an http URL on a loopback port nothing listens on.
// Elsewhere than on Linux the port is only free: a server started later
// may take it.
func RefusedURL(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	_ = l.Close()
	return "http://" + addr + "/"
}

// BacklogURL is Linux only: the test is skipped elsewhere.
func BacklogURL(t testing.TB) string {
	t.Skip("testserver: a full accept queue is made on Linux only")
	return ""
}
