// Package testserver has the loopback servers faya's tests send load to:
// the built-in target behind httptest with server-side connection counts,
// and servers that fail in one precise way each (refuse, reset, hang,
// close early, answer garbage or any bytes, stall a connect, flood
// headers).
//
// Every server listens on 127.0.0.1 and is closed by t.Cleanup.
package testserver

import (
	"bufio"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"io"
	"log"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/faya-load/faya/target"
)

// Server is the built-in target on a loopback port, counting connections
// and requests on the server side.
type Server struct {
	*httptest.Server
	Target *target.Target
}

// Start serves the built-in target over HTTP.
func Start(t testing.TB) *Server { return start(t, false, nil) }

// StartWrapped serves the built-in target over HTTP behind wrap (a
// handler that may hold a request before the target answers it),
// counting connections as Start does.
func StartWrapped(t testing.TB, wrap func(http.Handler) http.Handler) *Server {
	t.Helper()
	tg := target.New()
	srv := httptest.NewUnstartedServer(wrap(tg))
	srv.Config.ConnState = tg.ConnState
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	srv.Start()
	t.Cleanup(srv.Close)
	return &Server{Server: srv, Target: tg}
}

// StartTLS serves the built-in target over HTTPS with httptest's
// self-signed certificate (unknown to a client that does not trust it).
func StartTLS(t testing.TB) *Server { return start(t, true, nil) }

// StartTLSNames serves the built-in target over HTTPS with a self-signed
// certificate for names (whatever bytes they hold: a hostile server's
// names, for the escaping of reports), and no IP address.
func StartTLSNames(t testing.TB, names ...string) *Server {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: names[0]},
		DNSNames:     names,
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cfg := &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}}
	return start(t, true, cfg)
}

// Handshakes counts a server's TLS handshakes in progress.
type Handshakes struct {
	mu        sync.Mutex
	now, peak int
}

// Peak returns the most handshakes that were in progress at once.
func (h *Handshakes) Peak() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.peak
}

func (h *Handshakes) add(d int) {
	h.mu.Lock()
	h.now += d
	h.peak = max(h.peak, h.now)
	h.mu.Unlock()
}

// StartSlowTLS is StartTLS with handshakes that take at least delay each
// (the server waits that long before it answers a ClientHello): dials
// that are slow for a reason outside the client, as to a distant target.
func StartSlowTLS(t testing.TB, delay time.Duration) (*Server, *Handshakes) {
	hs := &Handshakes{}
	cfg := &tls.Config{GetConfigForClient: func(*tls.ClientHelloInfo) (*tls.Config, error) {
		hs.add(1)
		defer hs.add(-1)
		time.Sleep(delay)
		return nil, nil
	}}
	return start(t, true, cfg), hs
}

func start(t testing.TB, useTLS bool, cfg *tls.Config) *Server {
	t.Helper()
	tg := target.New()
	srv := httptest.NewUnstartedServer(tg)
	srv.Config.ConnState = tg.ConnState
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // TLS handshake failures are expected in tests
	srv.TLS = cfg
	if useTLS {
		srv.StartTLS()
	} else {
		srv.Start()
	}
	t.Cleanup(srv.Close)
	return &Server{Server: srv, Target: tg}
}

// Stats returns the target's counters.
func (s *Server) Stats() target.Stats { return s.Target.Stats() }

// Raw serves connections with fn, which gets each accepted connection and
// owns it. It returns the server's http URL.
func Raw(t testing.TB, fn func(net.Conn)) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var conns []net.Conn
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			wg.Add(1)
			go func() {
				defer wg.Done()
				fn(c)
			}()
		}
	}()
	t.Cleanup(func() {
		_ = l.Close()
		mu.Lock()
		for _, c := range conns {
			_ = c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	return "http://" + l.Addr().String() + "/"
}

// readRequest reads one request head from c, so that the client's write
// completes before the server misbehaves.
func readRequest(c net.Conn) error {
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	req, err := http.ReadRequest(bufio.NewReader(c))
	if err != nil {
		return err
	}
	return req.Body.Close()
}

// ResetURL returns a server that reads each request and answers with a TCP
// reset (SO_LINGER 0, then close).
func ResetURL(t testing.TB) string {
	return Raw(t, func(c net.Conn) {
		if readRequest(c) != nil {
			_ = c.Close()
			return
		}
		if tc, ok := c.(*net.TCPConn); ok {
			_ = tc.SetLinger(0)
		}
		_ = c.Close()
	})
}

// EOFURL returns a server that reads each request and closes the
// connection without answering.
func EOFURL(t testing.TB) string {
	return Raw(t, func(c net.Conn) {
		_ = readRequest(c)
		_ = c.Close()
	})
}

// GarbageURL returns a server that answers each request with bytes that
// are not HTTP.
func GarbageURL(t testing.TB) string {
	return Raw(t, func(c net.Conn) {
		if readRequest(c) == nil {
			_, _ = c.Write([]byte("this is not HTTP at all\r\n\r\n"))
		}
		_ = c.Close()
	})
}

// SilentURL returns a server that reads each request and never answers,
// until the client gives up or the test ends.
func SilentURL(t testing.TB) string {
	return Raw(t, func(c net.Conn) {
		_ = readRequest(c)
		_ = c.SetReadDeadline(time.Time{})
		buf := make([]byte, 1)
		for {
			if _, err := c.Read(buf); err != nil {
				if !errors.Is(err, net.ErrClosed) {
					_ = c.Close()
				}
				return
			}
		}
	})
}
