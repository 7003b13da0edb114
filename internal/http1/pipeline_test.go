package http1

import (
	"context"
	"net"
	"sync/atomic"
	"testing"

	"github.com/faya-load/faya/internal/testserver"
)

// pipeServer answers every request of a connection in order, however many
// arrive in one read; with closeAfter > 0 it answers that many on a
// connection, the last with "Connection: close", and closes it (as nginx
// does at keepalive_requests). It counts connections and requests.
func pipeServer(t *testing.T, closeAfter int) (url string, conns, reqs *atomic.Int64) {
	conns, reqs = new(atomic.Int64), new(atomic.Int64)
	ok := []byte("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
	closing := []byte("HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok")
	url = testserver.Raw(t, func(c net.Conn) {
		defer c.Close()
		conns.Add(1)
		answerEach(c, func(k int) ([]byte, bool) {
			reqs.Add(1)
			if closeAfter > 0 && k+1 == closeAfter {
				return closing, true
			}
			return ok, false
		})
	})
	return url, conns, reqs
}

func TestPipeline(t *testing.T) {
	for _, tc := range []struct {
		name          string
		closeAfter    int
		wantConns     int64
		wantReusedSum int
	}{
		// 3 batches of 8 on one kept-alive connection.
		{"kept alive", 0, 1, 23},
		// The server closes after 3 answers: 24 requests take 8
		// connections; each batch's unanswered rest goes again.
		{"server closes after 3", 3, 8, 16},
	} {
		t.Run(tc.name, func(t *testing.T) {
			url, conns, reqs := pipeServer(t, tc.closeAfter)
			cl, _ := newTestClient(t)
			req, err := Prepare("GET", url, nil, nil)
			if err != nil {
				t.Fatal(err)
			}
			res := make([]Result, 8)
			errs := make([]error, 8)
			retried, reused := 0, 0
			for range 3 {
				cl.DoPipeline(context.Background(), req, res, errs)
				for k := range res {
					if errs[k] != nil || res[k].Status != 200 || res[k].BodyBytes != 2 {
						t.Fatalf("request %d: %v, status %d, body %d", k, errs[k], res[k].Status, res[k].BodyBytes)
					}
					if res[k].End < res[k].Start || (k > 0 && res[k].End < res[k-1].End) {
						t.Errorf("request %d ended at %v, before its start or the one before it", k, res[k].End)
					}
					retried += min(res[k].Retries, 1)
					reused += res[k].Reused
				}
			}
			if reqs.Load() != 24 || conns.Load() != tc.wantConns {
				t.Errorf("the server saw %d requests on %d connections, want 24 on %d", reqs.Load(), conns.Load(), tc.wantConns)
			}
			if tc.closeAfter == 0 && (retried != 0 || reused != tc.wantReusedSum) {
				t.Errorf("retried %d, reused %d; want 0 and %d", retried, reused, tc.wantReusedSum)
			}
			if tc.closeAfter > 0 && retried == 0 {
				t.Errorf("no request was sent again, with a server that closes after %d", tc.closeAfter)
			}
		})
	}
}
