package target_test

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/faya-load/faya/target"
)

func TestEndpoints(t *testing.T) {
	tg := target.New()
	srv := httptest.NewUnstartedServer(tg)
	srv.Config.ConnState = tg.ConnState
	srv.Start()
	defer srv.Close()

	for _, tc := range []struct {
		path    string
		status  int
		bodyLen int
		close   bool
	}{
		{"/", 200, len(target.Body), false},
		{"/bytes?n=100000", 200, 100000, false},
		{"/bytes", 200, 1024, false},
		{"/bytes?n=-1", 400, -1, false},
		{"/bytes?n=abc", 400, -1, false},
		{"/slow?ms=1", 200, len(target.Body), false},
		{"/slow?ms=99999999", 400, -1, false},
		{"/status?code=503", 503, -1, false},
		{"/status?code=42", 400, -1, false},
		{"/close", 200, len(target.Body), true},
		{"/nope", 404, -1, false},
	} {
		resp, err := srv.Client().Get(srv.URL + tc.path)
		if err != nil {
			t.Fatalf("%s: %v", tc.path, err)
		}
		body, _ := io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		if resp.StatusCode != tc.status {
			t.Errorf("%s: status %d, want %d (%s)", tc.path, resp.StatusCode, tc.status, body)
		}
		if tc.bodyLen >= 0 && len(body) != tc.bodyLen {
			t.Errorf("%s: body %d bytes, want %d", tc.path, len(body), tc.bodyLen)
		}
		if resp.Close != tc.close {
			t.Errorf("%s: Connection close = %v, want %v", tc.path, resp.Close, tc.close)
		}
	}

	st := getStats(t, srv)
	// Every request above is a load request; /stats is not.
	if st.Requests != 11 {
		t.Errorf("requests = %d, want 11", st.Requests)
	}
	if len(st.Peers) != 1 || st.Peers["127.0.0.1"] != 11 {
		t.Errorf("peers = %v, want 11 from 127.0.0.1", st.Peers)
	}
	// /close forced one new connection besides the first.
	if st.ConnsNew != 2 {
		t.Errorf("conns_new = %d, want 2", st.ConnsNew)
	}
	resp, err := srv.Client().Get(srv.URL + "/reset")
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body) // to EOF, or the connection is not reused
	_ = resp.Body.Close()
	// The reset and the stats request share one kept-alive connection.
	if st := getStats(t, srv); st.Requests != 0 || st.ConnsNew != 0 || st.ConnsActive < 1 {
		t.Errorf("after reset: %+v, want zero counts and the open connection still counted", st)
	}
}

func getStats(t *testing.T, srv *httptest.Server) target.Stats {
	t.Helper()
	resp, err := srv.Client().Get(srv.URL + "/stats")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body) // to EOF, or the connection is not reused
	if err != nil {
		t.Fatal(err)
	}
	var st target.Stats
	if err := json.Unmarshal(body, &st); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		t.Errorf("stats content type %q", resp.Header.Get("Content-Type"))
	}
	return st
}

func TestPeers(t *testing.T) {
	tg := target.New()
	srv := httptest.NewUnstartedServer(tg)
	srv.Config.ConnState = tg.ConnState
	srv.Start()
	defer srv.Close()

	// A client bound to 127.0.0.2 is another peer than the default one.
	other := &http.Client{Transport: &http.Transport{DialContext: (&net.Dialer{
		LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 2)},
	}).DialContext}}
	defer other.CloseIdleConnections()
	for i, c := range []*http.Client{srv.Client(), srv.Client(), srv.Client(), other, other} {
		resp, err := c.Get(srv.URL + []string{"/", "/nope", "/status?code=500", "/bytes?n=10", "/close"}[i])
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		_ = resp.Body.Close()
	}
	st := getStats(t, srv) // /stats is not a load request, so not counted
	want := map[string]int64{"127.0.0.1": 3, "127.0.0.2": 2}
	if !maps.Equal(st.Peers, want) || st.Requests != 5 {
		t.Errorf("peers %v, requests %d; want %v, 5", st.Peers, st.Requests, want)
	}

	tg.Reset()
	if st := getStats(t, srv); st.Peers == nil || len(st.Peers) != 0 {
		t.Errorf("after reset: peers %#v, want an empty map", st.Peers)
	}
	// The field is always present in the JSON, empty or not.
	resp, err := srv.Client().Get(srv.URL + "/stats")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	if !strings.Contains(string(body), `"peers":{}`) {
		t.Errorf("stats JSON %s has no empty peers", body)
	}
}

func TestPeerAddresses(t *testing.T) {
	tg := target.New()
	for _, addr := range []string{"192.0.2.1:1234", "[::1]:80", "[fe80::1%eth0]:80", "@", ""} {
		req := httptest.NewRequest("GET", "/", nil)
		req.RemoteAddr = addr
		tg.ServeHTTP(httptest.NewRecorder(), req)
	}
	want := map[string]int64{"192.0.2.1": 1, "::1": 1, "fe80::1%eth0": 1, "@": 1, "": 1}
	if got := tg.Stats().Peers; !maps.Equal(got, want) {
		t.Errorf("peers %v, want %v", got, want)
	}
}

// discardWriter is the cheapest http.ResponseWriter, to measure the
// handler alone.
type discardWriter struct{ h http.Header }

func (w *discardWriter) Header() http.Header         { return w.h }
func (w *discardWriter) Write(b []byte) (int, error) { return len(b), nil }
func (w *discardWriter) WriteHeader(int)             {}

// BenchmarkRoot measures GET / in the handler alone, from one client IP
// address (the newest peer, counted on the fast path) and from four.
func BenchmarkRoot(b *testing.B) {
	for _, peers := range []int32{1, 4} {
		b.Run(fmt.Sprintf("peers=%d", peers), func(b *testing.B) {
			tg := target.New()
			var next atomic.Int32
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				req := httptest.NewRequest("GET", "/", nil)
				req.RemoteAddr = fmt.Sprintf("127.0.0.%d:4000", next.Add(1)%peers+1)
				w := &discardWriter{h: http.Header{}}
				for pb.Next() {
					tg.ServeHTTP(w, req)
				}
			})
		})
	}
}
