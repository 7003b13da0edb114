package transport_test

import (
	"context"
	"crypto/tls"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/faya-load/faya/metrics"
	"github.com/faya-load/faya/transport"
)

// A dial the request no longer waits for (its context ended during a
// slow TLS handshake) goes on, detached; Dialing counts it until it is
// counted as dialed (and closed, unused), so that a run's end can wait for
// it and count every connection the server accepted.
func TestDialingCountsDetachedDials(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	srv.TLS = &tls.Config{GetConfigForClient: func(*tls.ClientHelloInfo) (*tls.Config, error) {
		<-release
		return nil, nil
	}}
	srv.StartTLS()
	defer srv.Close()
	rec := newRecorder()
	p, err := transport.New(transport.Config{Concurrency: 1, InsecureSkipVerify: true}, rec)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL, nil)
	done := make(chan error, 1)
	go func() {
		_, err := p.HTTP().RoundTrip(req)
		done <- err
	}()
	for p.Dialing() == 0 {
		time.Sleep(time.Millisecond)
	}
	cancel()
	if err := <-done; err == nil {
		t.Fatal("the request succeeded; want it canceled during the handshake")
	}
	p.Close()
	if n := p.Dialing(); n != 1 {
		t.Fatalf("dialing %d after the request gave up, want 1: the handshake goes on", n)
	}
	close(release)
	deadline := time.Now().Add(10 * time.Second)
	for p.Dialing() > 0 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	if n := p.Dialing(); n != 0 {
		t.Fatalf("dialing %d after the handshake ended", n)
	}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if rec.dialed != 1 {
		t.Errorf("dialed %d, want the detached dial counted", rec.dialed)
	}
	// Closed unused (its handshake was given up) or at the run's end (it
	// completed after the pool closed): never another reason.
	if rec.closed[metrics.CloseUnused]+rec.closed[metrics.CloseRunEnd] != 1 || len(rec.closed) != 1 {
		t.Errorf("closed %v, want the one connection closed unused or at the run's end", rec.closed)
	}
}
