package doctor_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"go/parser"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/faya-load/faya/diagnose"
	"github.com/faya-load/faya/internal/doctor"
	"github.com/faya-load/faya/internal/realproxy"
	"github.com/faya-load/faya/internal/testserver"
)

// h2quick bounds the probes for the HTTP/2 tests: a short idle wait (the
// servers keep idle connections longer) and a GOAWAY probe of at most
// streams streams.
func h2quick(url string, streams int64) doctor.Options {
	o := quick(url)
	o.IdleWait, o.Insecure, o.H2Streams, o.H2Time = 200*time.Millisecond, true, streams, 5*time.Second
	return o
}

func ok(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok")) }

// jsonOf is the report's JSON, decoded.
func jsonOf(t *testing.T, r *doctor.Report) map[string]any {
	t.Helper()
	var b bytes.Buffer
	if err := r.JSON(&b); err != nil {
		t.Fatal(err)
	}
	var out map[string]any
	if err := json.Unmarshal(b.Bytes(), &out); err != nil {
		t.Fatalf("%v\n%s", err, b.String())
	}
	return out
}

// Go's HTTP/2 server over TLS with MAX_CONCURRENT_STREAMS 7: both
// protocols taken by ALPN, its SETTINGS as sent, no GOAWAY within the
// probe's 300 streams, and an HTTP/2 pool measured, with Go's
// ForceAttemptHTTP2 in its snippet (and never in the HTTP/1.1 one).
func TestDoctorH2GoServer(t *testing.T) {
	srv := httptest.NewUnstartedServer(http.HandlerFunc(ok))
	srv.Config.HTTP2 = &http.HTTP2Config{MaxConcurrentStreams: 7, MaxReadFrameSize: 1 << 20}
	srv.EnableHTTP2 = true
	srv.StartTLS()
	defer srv.Close()
	r := run(t, h2quick(srv.URL+"/", 300))
	h := r.H2
	// net/http's server lists h2 alone; Go's TLS completes an offer of
	// http/1.1 without choosing it (HTTP/1.1 without ALPN).
	if h == nil || !h.Speaks || strings.Join(h.ALPN, ",") != "h2" || !h.ALPNIgnored || h.H2C {
		t.Fatalf("h2 report %+v", h)
	}
	s := h.Settings
	if !s.MaxConcurrentStreamsSent || s.MaxConcurrentStreams != 7 || !s.MaxFrameSizeSent || s.MaxFrameSize != 1<<20 {
		t.Errorf("settings %+v, want max streams 7, max frame 1048576", s)
	}
	if h.GoAway || h.Ended != "streams" || h.Streams != 300 {
		t.Errorf("GOAWAY probe: goaway %v, ended %q, %d streams; want 300 answered, no GOAWAY", h.GoAway, h.Ended, h.Streams)
	}
	// The connections 7 streams each need, and never a cap below
	// diagnose.MinPool.
	need := (h.Concurrency + 6) / 7
	if h.Concurrency != r.MaxConnsPerHost || h.Conns != max(need, diagnose.MinPool) || h.StreamsPerConn > 7 || need*h.StreamsPerConn < h.Concurrency {
		t.Errorf("pool %d conns x %d streams for %d (h1 recommendation %d)", h.Conns, h.StreamsPerConn, h.Concurrency, r.MaxConnsPerHost)
	}
	if !h.Measured() || h.Check.Requests == 0 || h.Check.Errors != 0 || h.Check.Dialed < int64(need) {
		t.Fatalf("HTTP/2 check %+v", h.Check)
	}
	g := r.GoTransportH2()
	if !strings.Contains(g, "ForceAttemptHTTP2:     true") || !strings.Contains(g, fmt.Sprintf("MaxConnsPerHost:       %d,", h.Conns)) {
		t.Errorf("HTTP/2 snippet:\n%s", g)
	}
	if _, err := parser.ParseExpr(g); err != nil {
		t.Errorf("the HTTP/2 snippet does not parse: %v\n%s", err, g)
	}
	if strings.Contains(r.GoTransport(), "HTTP2") {
		t.Errorf("the HTTP/1.1 snippet offers HTTP/2:\n%s", r.GoTransport())
	}
	var b strings.Builder
	_ = r.Text(&b)
	for _, want := range []string{"the server takes h2; a handshake completed with no protocol chosen", "MAX_CONCURRENT_STREAMS 7, INITIAL_WINDOW_SIZE", "MAX_FRAME_SIZE 1048576",
		"GOAWAY: none within 300 streams", "faya run " + h.Flags() + " URL"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("text lacks %q", want)
		}
	}
	j := jsonOf(t, r)["h2"].(map[string]any)
	if j["speaks_h2"] != true || j["measured"] != true || j["settings"].(map[string]any)["max_concurrent_streams"] != 7.0 ||
		j["streams"] != 300.0 || j["flags"] != h.Flags() || j["check"].(map[string]any)["requests"] != float64(h.Check.Requests) {
		t.Errorf("JSON h2 %v", j)
	}
}

// h2c by prior knowledge on an http URL: Go's server with unencrypted
// HTTP/2 and MAX_CONCURRENT_STREAMS 5; the snippet enables unencrypted
// HTTP/2.
func TestDoctorH2C(t *testing.T) {
	srv := httptest.NewUnstartedServer(http.HandlerFunc(ok))
	srv.Config.HTTP2 = &http.HTTP2Config{MaxConcurrentStreams: 5}
	srv.Config.Protocols = new(http.Protocols)
	srv.Config.Protocols.SetUnencryptedHTTP2(true)
	srv.Start()
	defer srv.Close()
	r := run(t, h2quick(srv.URL+"/", 100))
	h := r.H2
	if h == nil || !h.Speaks || !h.H2C || len(h.ALPN) != 0 || h.Settings.MaxConcurrentStreams != 5 || h.Streams != 100 {
		t.Fatalf("h2 report %+v", h)
	}
	if !h.Measured() || !strings.Contains(r.GoTransportH2(), "SetUnencryptedHTTP2(true)") {
		t.Errorf("measured %v, snippet:\n%s", h.Measured(), r.GoTransportH2())
	}
}

// Servers that do not speak HTTP/2: an HTTP/1.1-only TLS server (ALPN
// takes http/1.1 only) and a plain HTTP/1.1 server (the h2c preface gets
// an HTTP/1.1 answer). No HTTP/2 pool, no ForceAttemptHTTP2.
func TestDoctorNoH2(t *testing.T) {
	tlsSrv := httptest.NewUnstartedServer(http.HandlerFunc(ok))
	tlsSrv.EnableHTTP2 = false
	tlsSrv.StartTLS()
	defer tlsSrv.Close()
	for name, tc := range map[string]struct {
		url  string
		alpn string
		why  string
	}{
		"tls http/1.1": {tlsSrv.URL + "/", "http/1.1", "did not take h2 by ALPN"},
		"plain":        {testserver.Start(t).URL + "/", "", "answered in HTTP/1.x"},
	} {
		t.Run(name, func(t *testing.T) {
			r := run(t, h2quick(tc.url, 100))
			h := r.H2
			if h == nil || h.Speaks || h.Measured() || strings.Join(h.ALPN, ",") != tc.alpn || !strings.Contains(h.Why, tc.why) {
				t.Fatalf("h2 report %+v", h)
			}
			var b strings.Builder
			_ = r.Text(&b)
			if strings.Contains(b.String(), "ForceAttemptHTTP2") || strings.Contains(b.String(), "--http 2") || r.GoTransportH2() != "" {
				t.Errorf("an HTTP/2 pool offered for a server without HTTP/2:\n%s", b.String())
			}
			if j := jsonOf(t, r)["h2"].(map[string]any); j["speaks_h2"] != false || j["measured"] != false || j["go"] != nil {
				t.Errorf("JSON h2 %v", j)
			}
		})
	}
}

// nginx with HTTP/2 over TLS and h2c: the doctor reports its
// http2_max_concurrent_streams (7) and keepalive_requests (25) exactly.
func TestDoctorH2Nginx(t *testing.T) {
	tlsURL, h2cURL := nginx(t, 25, 7)
	for _, url := range []string{tlsURL, h2cURL} {
		t.Run(url[:strings.Index(url, ":")], func(t *testing.T) {
			r := run(t, h2quick(url+"/", 1000))
			h := r.H2
			if h == nil || !h.Speaks || h.H2C != strings.HasPrefix(url, "http:") {
				t.Fatalf("h2 report %+v", h)
			}
			if strings.HasPrefix(url, "https:") && !strings.Contains(strings.Join(h.ALPN, ","), "h2") {
				t.Errorf("ALPN %v", h.ALPN)
			}
			if s := h.Settings; !s.MaxConcurrentStreamsSent || s.MaxConcurrentStreams != 7 {
				t.Errorf("settings %+v, want MAX_CONCURRENT_STREAMS 7", s)
			}
			if !h.GoAway || h.GoAwayAfter != 25 || h.LastStreamID != 49 || h.Streams != 25 || h.GoAwayCode != "NO_ERROR" {
				t.Errorf("GOAWAY probe: goaway %v after %d (last id %d, %s), %d answered; want after 25", h.GoAway, h.GoAwayAfter, h.LastStreamID, h.GoAwayCode, h.Streams)
			}
			var b strings.Builder
			_ = r.Text(&b)
			if !strings.Contains(b.String(), "after 25 streams") || !strings.Contains(b.String(), "keepalive_requests 25") {
				t.Errorf("text lacks the GOAWAY limit:\n%s", b.String())
			}
			if !h.Measured() || h.Conns != max((h.Concurrency+6)/7, diagnose.MinPool) {
				t.Errorf("pool %+v, check %+v", h, h.Check)
			}
			// The h2c listener speaks no HTTP/1.1: every step of the
			// HTTP/1.1 ladder failed, so the ladder was climbed over HTTP/2.
			if h2only := strings.HasPrefix(url, "http:"); h2only != (len(h.Ladder) > 0) || h2only && h.Check.Concurrency != h.Concurrency {
				t.Errorf("HTTP/2 ladder %+v (check at %d, recommended %d)", h.Ladder, h.Check.Concurrency, h.Concurrency)
			}
		})
	}
}

// nginx starts Debian's nginx with an HTTP/2 TLS listener ("listen ...
// ssl http2", a certificate made here) and an h2c one ("listen ...
// http2"), keepalive_requests perConn and http2_max_concurrent_streams
// streams. Skipped when nginx is absent unless FAYA_CI=1.
func nginx(t *testing.T, perConn, streams int) (tlsURL, h2cURL string) {
	t.Helper()
	addrs := realproxy.FreeAddrs(t, 2)
	realproxy.Nginx(t, addrs, func(dir string) string {
		return fmt.Sprintf(`	access_log off;
	keepalive_requests %[4]d;
	http2_max_concurrent_streams %[5]d;
	server {
		listen %[2]s ssl http2;
		ssl_certificate %[1]s/cert.pem;
		ssl_certificate_key %[1]s/key.pem;
		location / { return 200 "ok"; }
	}
	server {
		listen %[3]s http2;
		location / { return 200 "ok"; }
	}`, dir, addrs[0], addrs[1], perConn, streams)
	})
	return "https://" + addrs[0], "http://" + addrs[1]
}
