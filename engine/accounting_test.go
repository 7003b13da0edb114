package engine_test

import (
	"bufio"
	"context"
	"encoding/pem"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/faya-load/faya/engine"
	"github.com/faya-load/faya/internal/testserver"
	"github.com/faya-load/faya/metrics"
)

// earlyAnswerServer answers each request as soon as its head is read, then
// waits hold before it reads the body, so that a large request body is still
// being written when the answer arrives (golang/go#7569). Its small receive
// buffer keeps the client's write blocked for the wait. It counts the
// connections it accepted.
func earlyAnswerServer(t *testing.T, hold time.Duration) (url string, accepted *atomic.Int64) {
	t.Helper()
	lc := net.ListenConfig{Control: func(_, _ string, rc syscall.RawConn) error {
		var serr error
		err := rc.Control(func(fd uintptr) {
			serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 64<<10)
		})
		if err != nil {
			return err
		}
		return serr
	}}
	l, err := lc.Listen(context.Background(), "tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	accepted = new(atomic.Int64)
	var wg sync.WaitGroup
	done := make(chan struct{})
	wg.Go(func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			accepted.Add(1)
			wg.Go(func() {
				defer c.Close()
				br := bufio.NewReader(c)
				for {
					req, err := http.ReadRequest(br)
					if err != nil {
						return
					}
					if _, err := io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"); err != nil {
						return
					}
					select {
					case <-time.After(hold):
					case <-done:
						return
					}
					if _, err := io.Copy(io.Discard, req.Body); err != nil {
						return
					}
				}
			})
		}
	})
	t.Cleanup(func() {
		close(done)
		_ = l.Close()
		wg.Wait()
	})
	return "http://" + l.Addr().String() + "/", accepted
}

// TestWriteLate: a server that answers before it has read the request. h1
// finishes its write, then reads the answer, and keeps the connection;
// net/http reads the answer while its writer is still blocked, waits 50 ms
// for it, then closes the connection: the close reason says so
// (write_late), never "other".
func TestWriteLate(t *testing.T) { forEachEngine(t, testWriteLate) }

func testWriteLate(t *testing.T, eng string) {
	url, accepted := earlyAnswerServer(t, 500*time.Millisecond)
	const n = 3
	p := closedOn(eng, url, 1, n)
	p.Scenarios[0].Steps[0].Method = http.MethodPost
	p.Scenarios[0].Steps[0].Body = make([]byte, 8<<20) // beyond what the socket buffers hold
	s := run(t, p).Total
	if s.Requests != n || s.OK != n || s.Status[200] != n {
		t.Fatalf("requests %d, ok %d, 200s %d, want %d: the answers were whole (errors %v)", s.Requests, s.OK, s.Status[200], n, s.ErrCount)
	}
	if got := accepted.Load(); got != s.Dialed {
		t.Errorf("dialed %d, the server accepted %d", s.Dialed, got)
	}
	if other := s.CloseReasons[metrics.CloseOther]; other != 0 {
		t.Errorf("closed for reason other: %d, want 0 (close reasons %v)", other, s.CloseReasons)
	}
	late := s.CloseReasons[metrics.CloseWriteLate]
	switch eng {
	case engine.EngineH1:
		if s.Dialed != 1 || late != 0 {
			t.Errorf("h1: dialed %d, write_late %d: want one connection, reused", s.Dialed, late)
		}
	case engine.EngineNetHTTP:
		// Each request's connection is closed 50 ms after its answer; the
		// last one may be closed by the run's end first.
		if s.Dialed != n || late < n-1 {
			t.Errorf("net/http: dialed %d, write_late %d: want %d connections, at least %d closed write_late (close reasons %v)",
				s.Dialed, late, n, n-1, s.CloseReasons)
		}
	}
}

// TestRedirectHopAccounting: a hop that answers "Connection: close" is a
// close answer, and its connection closes for reason server, on both
// engines; hops' body bytes count as body received on both.
func TestRedirectHopAccounting(t *testing.T) { forEachEngine(t, testRedirectHopAccounting) }

func testRedirectHopAccounting(t *testing.T, eng string) {
	url := httptestServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/hop" {
			w.Header().Set("Connection", "close")
			w.Header().Set("Location", "/final")
			w.WriteHeader(http.StatusFound)
			_, _ = io.WriteString(w, "moved") // 5 bytes
			return
		}
		_, _ = io.WriteString(w, "final body") // 10 bytes
	}))
	const n = 20
	s := run(t, closedOn(eng, url+"/hop", 1, n)).Total
	if s.Requests != n || s.Status[200] != n || s.Redirects != n {
		t.Fatalf("requests %d, 200s %d, redirects %d, want %d each (errors %v)", s.Requests, s.Status[200], s.Redirects, n, s.ErrExample)
	}
	if s.CloseAnswers != n {
		t.Errorf("close answers %d, want %d (one per redirect hop)", s.CloseAnswers, n)
	}
	if got := s.CloseReasons[metrics.CloseServer]; got != n {
		t.Errorf("closed by the server %d, want %d (close reasons %v)", got, n, s.CloseReasons)
	}
	if other := s.CloseReasons[metrics.CloseOther]; other != 0 {
		t.Errorf("closed for reason other: %d (close reasons %v)", other, s.CloseReasons)
	}
	if want := int64(n * (5 + 10)); s.BodyBytes != want {
		t.Errorf("body bytes %d, want %d (hops' bodies included)", s.BodyBytes, want)
	}
}

// TestCACert: with the server's CA given (--cacert), its certificate is
// verified and accepted; without it, every request fails with class tls.
func TestCACert(t *testing.T) { forEachEngine(t, testCACert) }

func testCACert(t *testing.T, eng string) {
	srv := testserver.StartTLS(t)
	ca := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})
	p := closedOn(eng, srv.URL+"/", 2, 20)
	p.Transport.RootCAsPEM = ca
	if s := run(t, p).Total; s.OK != 20 {
		t.Errorf("with the CA: ok %d of 20 (errors %v)", s.OK, s.ErrExample)
	}
	p.Transport.RootCAsPEM = nil
	if s := run(t, p).Total; s.ErrCount[metrics.ErrTLS] != 20 {
		t.Errorf("without the CA: tls errors %d, want 20 (classes %v)", s.ErrCount[metrics.ErrTLS], s.ErrCount)
	}
	p.Transport.RootCAsPEM = []byte("not a certificate")
	if _, err := engine.New(p); err == nil || !strings.Contains(err.Error(), "PEM") {
		t.Errorf("a CA that is not PEM: %v, want an error that says so", err)
	}
}

// TestConnectUserAgent: the CONNECT that opens a tunnel through an HTTP
// proxy carries the run's User-Agent, on both engines.
func TestConnectUserAgent(t *testing.T) { forEachEngine(t, testConnectUserAgent) }

func testConnectUserAgent(t *testing.T, eng string) {
	srv := testserver.StartTLS(t)
	px := testserver.StartHTTPProxy(t, testserver.ProxyOptions{})
	p := via(eng, srv.URL+"/", 3, 30, px.URL)
	p.Scenarios[0].Steps[0].Header = http.Header{"User-Agent": {"faya-test/1.0"}}
	s := run(t, p).Total
	if s.OK != 30 {
		t.Fatalf("ok %d of 30 (errors %v)", s.OK, s.ErrExample)
	}
	if got := px.ConnectAgents(); got["faya-test/1.0"] != s.Dialed || len(got) != 1 {
		t.Errorf("CONNECTs by User-Agent %v, want all %d with faya-test/1.0", got, s.Dialed)
	}
}
