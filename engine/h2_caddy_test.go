package engine_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/faya-load/faya/internal/realproxy"
	"github.com/faya-load/faya/metrics"
	"github.com/faya-load/faya/transport"
)

// caddyH2 starts Debian's caddy with a JSON configuration: admin API
// off, HOME, XDG_DATA_HOME, XDG_CONFIG_HOME and its storage in a temp
// dir, automatic HTTPS off (no ACME, no local CA), and two loopback
// servers answering 200 "ok": HTTP/1.1 and h2 over TLS with a
// self-signed certificate made here, and HTTP/1.1 and h2c (prior
// knowledge) on plain TCP. Each request goes to a JSON access log.
// It returns the two URLs and the log's path. Skipped when caddy is
// absent unless FAYA_CI=1 (.ci/run installs it).
func caddyH2(t *testing.T) (tlsURL, h2cURL, accessLog string) {
	t.Helper()
	bin := realproxy.Binary(t, "caddy", "caddy")
	dir := t.TempDir()
	realproxy.CertFiles(t, dir)
	accessLog = filepath.Join(dir, "access.log")
	serverLog := filepath.Join(dir, "caddy.log")
	// Ports from below the ephemeral range, caddy retried on others if it
	// exits (one was taken meanwhile), ready once both accept (its first
	// lines go to an output file, the rest to serverLog).
	addrs := realproxy.Serve(t, "caddy", serverLog, 2, func(ports []int) *exec.Cmd {
		addrs := []string{fmt.Sprintf("127.0.0.1:%d", ports[0]), fmt.Sprintf("127.0.0.1:%d", ports[1])}
		routes := []any{map[string]any{"handle": []any{map[string]any{"handler": "static_response", "status_code": 200, "body": "ok"}}}}
		logs := map[string]any{"default_logger_name": "access"}
		cfg := map[string]any{
			"admin":   map[string]any{"disabled": true},
			"storage": map[string]any{"module": "file_system", "root": filepath.Join(dir, "storage")},
			"logging": map[string]any{"logs": map[string]any{
				"default": map[string]any{"writer": map[string]any{"output": "file", "filename": serverLog}, "exclude": []string{"http.log.access.access"}},
				"access": map[string]any{"writer": map[string]any{"output": "file", "filename": accessLog}, "encoder": map[string]any{"format": "json"},
					"include": []string{"http.log.access.access"}},
			}},
			"apps": map[string]any{
				"tls": map[string]any{"certificates": map[string]any{"load_files": []any{map[string]any{
					"certificate": filepath.Join(dir, "cert.pem"), "key": filepath.Join(dir, "key.pem"), "tags": []string{"faya"}}}}},
				"http": map[string]any{"servers": map[string]any{
					"tls": map[string]any{"listen": []string{addrs[0]}, "protocols": []string{"h1", "h2"}, "routes": routes, "logs": logs,
						"tls_connection_policies": []any{map[string]any{"certificate_selection": map[string]any{"any_tag": []string{"faya"}}}},
						"automatic_https":         map[string]any{"disable": true}},
					"h2c": map[string]any{"listen": []string{addrs[1]}, "protocols": []string{"h1", "h2c"}, "routes": routes, "logs": logs,
						"automatic_https": map[string]any{"disable": true}},
				}},
			},
		}
		b, err := json.Marshal(cfg)
		if err != nil {
			t.Fatal(err)
		}
		conf := filepath.Join(dir, "caddy.json")
		if err := os.WriteFile(conf, b, 0o600); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(bin, "run", "--config", conf)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "HOME="+dir, "XDG_DATA_HOME="+filepath.Join(dir, "data"), "XDG_CONFIG_HOME="+filepath.Join(dir, "config"))
		return cmd
	})
	return "https://" + addrs[0], "http://" + addrs[1], accessLog
}

// caddyEntry is what the test reads of one line of caddy's access log.
type caddyEntry struct {
	Request struct {
		RemoteIP   string `json:"remote_ip"`
		RemotePort string `json:"remote_port"`
		Proto      string `json:"proto"`
		TLS        *struct {
			Proto string `json:"proto"`
		} `json:"tls"`
	} `json:"request"`
	Status int `json:"status"`
}

// readCaddyLog reads the access log until it has want lines (caddy
// writes a line after the answer is sent: the client may read it first),
// 5 s at most.
func readCaddyLog(t *testing.T, path string, want int) []caddyEntry {
	t.Helper()
	var out []caddyEntry
	for i := 0; ; i++ {
		out = out[:0]
		f, err := os.Open(path)
		if err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
		if err == nil {
			sc := bufio.NewScanner(f)
			sc.Buffer(make([]byte, 64<<10), 1<<20)
			for sc.Scan() {
				var e caddyEntry
				if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
					t.Fatalf("access log line %q: %v", sc.Text(), err)
				}
				out = append(out, e)
			}
			_ = f.Close()
		}
		if len(out) >= want || i == 50 {
			return out
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// caddy, a second real HTTP/2 server (Go's net/http and x/net/http2
// inside, configured by JSON): --http 2 over TLS (ALPN h2) and h2c with
// prior knowledge. faya's counts are caddy's: every request in the
// access log as HTTP/2.0 (ALPN h2 on TLS) with status 200, the
// connections that carried them (distinct client ports) the ones faya
// dialed and used, at most the four the pool allows, each faya request
// counted as h2.
func TestCaddyH2(t *testing.T) {
	h2Engines(t, func(t *testing.T, eng string) {
		tlsURL, h2cURL, accessLog := caddyH2(t)
		const vus, n = 8, 400
		for i, tc := range []struct {
			name, url string
			tls       bool
		}{{"tls", tlsURL, true}, {"h2c", h2cURL, false}} {
			t.Run(tc.name, func(t *testing.T) {
				p := h2Plan(eng, tc.url, transport.HTTP2, vus, n)
				p.Transport.MaxConnsPerHost = 4
				s := run(t, p).Total
				if s.OK != n || s.Protocols[metrics.ProtoH2] != n || s.Status[200] != n {
					t.Fatalf("ok %d, 200s %d, protocols %v, errors %v %v", s.OK, s.Status[200], s.Protocols, nonzero(s.ErrCount[:]), s.ErrExample)
				}
				all := readCaddyLog(t, accessLog, (i+1)*n)
				if len(all) != (i+1)*n {
					t.Fatalf("caddy logged %d requests in all, want %d", len(all), (i+1)*n)
				}
				conns := map[string]int{}
				for _, e := range all[i*n:] {
					r := e.Request
					if r.Proto != "HTTP/2.0" || e.Status != 200 || tc.tls != (r.TLS != nil) || r.TLS != nil && r.TLS.Proto != "h2" {
						t.Errorf("access log: %+v, want HTTP/2.0, 200, TLS with ALPN h2 %v", e, tc.tls)
					}
					conns[net.JoinHostPort(r.RemoteIP, r.RemotePort)]++
				}
				// Go's HTTP/2 client may dial a connection it then drops
				// unused (the dial race): it carried nothing caddy logged.
				used := s.Dialed - s.CloseReasons[metrics.CloseUnused]
				if int64(len(conns)) != used || used < 1 || used > 4 || s.DialedProto[metrics.ProtoH2] != s.Dialed || s.Closed != s.Dialed {
					t.Errorf("caddy served on %d connections; faya dialed %d (by protocol %v), %d unused, closed %d: want the same, 1 to 4",
						len(conns), s.Dialed, s.DialedProto, s.CloseReasons[metrics.CloseUnused], s.Closed)
				}
				if d := metrics.DistOf(s.Hist(metrics.H2Streams)); d.Count != s.Dialed || d.Max > n {
					t.Errorf("streams per connection %+v over %d connections", d, s.Dialed)
				}
				t.Logf("caddy: %d requests on %d connections %v; faya dialed %d, close reasons %v", n, len(conns), conns, s.Dialed, reasons(s))
			})
		}
	})
}
