package doctor_test

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"go/parser"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/faya-load/faya/internal/doctor"
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
	if h.Concurrency != r.MaxConnsPerHost || h.Conns != (h.Concurrency+6)/7 || h.StreamsPerConn > 7 {
		t.Errorf("pool %d conns x %d streams for %d (h1 recommendation %d)", h.Conns, h.StreamsPerConn, h.Concurrency, r.MaxConnsPerHost)
	}
	if !h.Measured() || h.Check.Requests == 0 || h.Check.Errors != 0 || h.Check.Dialed < int64(h.Conns) {
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
			if !h.Measured() || h.Conns != (h.Concurrency+6)/7 {
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
	bin, err := exec.LookPath("nginx")
	if err != nil {
		if _, e := os.Stat("/usr/sbin/nginx"); e == nil {
			bin = "/usr/sbin/nginx"
		} else if os.Getenv("FAYA_CI") == "1" {
			t.Fatal("nginx is not installed (FAYA_CI=1: .ci/run installs it)")
		} else {
			t.Skip("nginx is not installed")
		}
	}
	dir := t.TempDir()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "127.0.0.1"},
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	write := func(name string, b []byte) {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("cert.pem", pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
	write("key.pem", pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}))
	port := func() string {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		return ln.Addr().String()
	}
	a, b := port(), port()
	user := ""
	if os.Getuid() == 0 {
		user = "user root;"
	}
	write("nginx.conf", []byte(fmt.Sprintf(`%s
daemon off;
master_process off;
worker_processes 1;
pid %[2]s/nginx.pid;
error_log %[2]s/error.log;
events { worker_connections 512; }
http {
	access_log off;
	client_body_temp_path %[2]s; proxy_temp_path %[2]s; fastcgi_temp_path %[2]s; uwsgi_temp_path %[2]s; scgi_temp_path %[2]s;
	keepalive_requests %[5]d;
	http2_max_concurrent_streams %[6]d;
	server {
		listen %[3]s ssl http2;
		ssl_certificate %[2]s/cert.pem;
		ssl_certificate_key %[2]s/key.pem;
		location / { return 200 "ok"; }
	}
	server {
		listen %[4]s http2;
		location / { return 200 "ok"; }
	}
}
`, user, dir, a, b, perConn, streams)))
	cmd := exec.Command(bin, "-p", dir, "-c", filepath.Join(dir, "nginx.conf"))
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	for _, addr := range []string{a, b} {
		for i := 0; ; i++ { // bounded: 10 s
			c, err := net.DialTimeout("tcp", addr, time.Second)
			if err == nil {
				_ = c.Close()
				break
			}
			if i == 100 {
				msg, _ := os.ReadFile(filepath.Join(dir, "error.log"))
				t.Fatalf("nginx did not listen on %s: %v\n%s", addr, err, msg)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	return "https://" + a, "http://" + b
}
