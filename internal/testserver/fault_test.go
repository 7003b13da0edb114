package testserver_test

import (
	"errors"
	"net"
	"net/url"
	"runtime"
	"syscall"
	"testing"
	"time"

	"github.com/faya-load/faya/internal/testserver"
)

// RefusedURL's port refuses connections for the whole test, and no server
// started meanwhile can take it (as one did when the port was only
// freed, and a later test's server answered there).
func TestRefusedURLCannotBeTaken(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("the port is held on Linux only")
	}
	u, err := url.Parse(testserver.RefusedURL(t))
	if err != nil {
		t.Fatal(err)
	}
	if l, err := net.Listen("tcp", u.Host); err == nil {
		_ = l.Close()
		t.Fatalf("a server could listen on the refused port %s", u.Host)
	}
	for range 3 {
		c, err := net.DialTimeout("tcp", u.Host, 5*time.Second)
		if err == nil {
			_ = c.Close()
			t.Fatal("a connection to the refused port was accepted")
		}
		if !errors.Is(err, syscall.ECONNREFUSED) {
			t.Fatalf("dial: %v, want connection refused", err)
		}
	}
}

// A connect to BacklogURL does not complete.
func TestBacklogURLStallsConnects(t *testing.T) {
	u, err := url.Parse(testserver.BacklogURL(t))
	if err != nil {
		t.Fatal(err)
	}
	c, err := net.DialTimeout("tcp", u.Host, 300*time.Millisecond)
	if err == nil {
		_ = c.Close()
		t.Fatal("a connect completed on a full accept queue")
	}
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() {
		t.Fatalf("dial: %v, want a timeout", err)
	}
}
