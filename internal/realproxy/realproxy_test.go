package realproxy

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/net/proxy"

	"github.com/faya-load/faya/internal/testserver"
)

// target is a local HTTP or HTTPS server that records what it saw.
type target struct {
	srv      *httptest.Server
	mu       sync.Mutex
	requests int
	newConns int
	peers    map[string]int // peer IP -> requests

	// barrier, if set, makes each request wait until barrierN requests
	// are in flight at the same time (or 10 s passed: 503).
	barrierN  int
	inFlight  int
	barrierCh chan struct{}
}

func newTarget(t *testing.T, useTLS bool) *target {
	tg := &target{peers: map[string]int{}, barrierCh: make(chan struct{})}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(tg.serve))
	srv.Config.ConnState = func(c net.Conn, s http.ConnState) {
		if s == http.StateNew {
			tg.mu.Lock()
			tg.newConns++
			tg.mu.Unlock()
		}
	}
	if useTLS {
		srv.StartTLS()
	} else {
		srv.Start()
	}
	t.Cleanup(srv.Close)
	tg.srv = srv
	return tg
}

func (tg *target) serve(w http.ResponseWriter, r *http.Request) {
	host, _, _ := net.SplitHostPort(r.RemoteAddr)
	tg.mu.Lock()
	tg.requests++
	tg.peers[host]++
	n := tg.barrierN
	if n > 0 {
		tg.inFlight++
		if tg.inFlight == n {
			close(tg.barrierCh)
		}
	}
	tg.mu.Unlock()
	if n > 0 {
		select {
		case <-tg.barrierCh:
		case <-time.After(10 * time.Second):
			http.Error(w, "barrier timeout", http.StatusServiceUnavailable)
			return
		}
	}
	fmt.Fprintf(w, "hello %s", r.URL.Path)
}

func (tg *target) stats() (requests, newConns int, peers map[string]int) {
	tg.mu.Lock()
	defer tg.mu.Unlock()
	p := map[string]int{}
	for k, v := range tg.peers {
		p[k] = v
	}
	return tg.requests, tg.newConns, p
}

// kind describes how to start a proxy and build a client for it.
type kind struct {
	name  string
	start func(testing.TB, Options) *Proxy
	opts  Options
	// client builds an *http.Client going through p trusting roots.
	client func(t *testing.T, p *Proxy, roots *x509.CertPool) *http.Client
	// httpKeepAlive: whether 20 sequential plain-HTTP requests through the
	// proxy reuse upstream connections (tinyproxy closes them per request).
	httpKeepAlive bool
}

func proxyURLClient(t *testing.T, p *Proxy, roots *x509.CertPool) *http.Client {
	u, err := url.Parse(p.URLWithAuth())
	if err != nil {
		t.Fatal(err)
	}
	tr := &http.Transport{
		Proxy:           http.ProxyURL(u),
		TLSClientConfig: &tls.Config{RootCAs: roots},
		MaxConnsPerHost: 0,
	}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: 30 * time.Second}
}

// socksClient dials through p with golang.org/x/net/proxy's SOCKS5 dialer.
func socksClient(t *testing.T, p *Proxy, roots *x509.CertPool) *http.Client {
	var auth *proxy.Auth
	if p.User != "" {
		auth = &proxy.Auth{User: p.User, Password: p.Password}
	}
	return socksClientAuth(t, p, auth, roots)
}

func socksClientAuth(t *testing.T, p *Proxy, auth *proxy.Auth, roots *x509.CertPool) *http.Client {
	return testserver.SOCKS5Client(t, p.Addr, auth, roots)
}

func roots(t *testing.T, p *Proxy, targets ...*target) *x509.CertPool {
	pool := x509.NewCertPool()
	for _, tg := range targets {
		if tg.srv.Certificate() != nil {
			pool.AddCert(tg.srv.Certificate())
		}
	}
	if p.CAPEM != nil && !pool.AppendCertsFromPEM(p.CAPEM) {
		t.Fatalf("CAPEM: no certificate in %q", p.CAPEM)
	}
	return pool
}

func get(c *http.Client, u string) (int, string, error) {
	resp, err := c.Get(u)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), err
}

var kinds = []kind{
	{name: "tinyproxy", start: Tinyproxy, client: proxyURLClient},
	{name: "https-stunnel-tinyproxy", start: HTTPSProxy, client: proxyURLClient},
	{name: "dante", start: Dante, client: socksClient, httpKeepAlive: true},
	{name: "dante-nethttp-socks5", start: Dante, client: proxyURLClient, httpKeepAlive: true},
	{name: "dante-auth", start: Dante, opts: Options{User: SOCKSUser, Password: SOCKSPassword}, client: socksClient, httpKeepAlive: true},
	{name: "dante-auth-nethttp-socks5", start: Dante, opts: Options{User: SOCKSUser, Password: SOCKSPassword}, client: proxyURLClient, httpKeepAlive: true},
}

func TestProxies(t *testing.T) {
	for _, k := range kinds {
		for _, source := range []string{"", "127.0.0.2"} {
			name := k.name
			if source != "" {
				name += "/source=" + source
			}
			t.Run(name, func(t *testing.T) {
				t.Parallel()
				o := k.opts
				o.SourceIP = source
				wantPeer := source
				if wantPeer == "" {
					wantPeer = "127.0.0.1"
				}
				p := k.start(t, o)
				checkURL(t, p)
				for _, useTLS := range []bool{false, true} {
					tg := newTarget(t, useTLS)
					c := k.client(t, p, roots(t, p, tg))
					const n = 20
					for i := 0; i < n; i++ {
						code, body, err := get(c, tg.srv.URL+"/r")
						if err != nil {
							t.Fatalf("%s request %d: %v", tg.srv.URL, i, err)
						}
						if code != http.StatusOK || body != "hello /r" {
							t.Fatalf("%s request %d: %d %q, want 200 %q", tg.srv.URL, i, code, body, "hello /r")
						}
					}
					requests, newConns, peers := tg.stats()
					if requests != n {
						t.Errorf("%s: target saw %d requests, want %d", tg.srv.URL, requests, n)
					}
					if len(peers) != 1 || peers[wantPeer] != n {
						t.Errorf("%s: requests by peer IP %v, want all %d from %s", tg.srv.URL, peers, n, wantPeer)
					}
					// CONNECT tunnels (HTTPS targets) and SOCKS connections
					// are kept open by the proxies; tinyproxy closes plain
					// HTTP connections after each response.
					if useTLS || k.httpKeepAlive {
						if newConns > 2 {
							t.Errorf("%s: %d sequential requests used %d upstream connections, want <= 2 (keep-alive)", tg.srv.URL, n, newConns)
						}
					} else if newConns != n {
						t.Errorf("%s: %d sequential requests used %d upstream connections; tinyproxy 1.11 was seen to use one per request: did it learn keep-alive?", tg.srv.URL, n, newConns)
					}
					t.Logf("%s: %d requests, %d upstream connections, peers %v", tg.srv.URL, requests, newConns, peers)
				}
			})
		}
	}
}

func checkURL(t *testing.T, p *Proxy) {
	t.Helper()
	u, err := url.Parse(p.URL)
	if err != nil {
		t.Fatal(err)
	}
	if u.User != nil || u.Hostname() != "127.0.0.1" || u.Host != p.Addr {
		t.Errorf("URL %q, Addr %q: want scheme://127.0.0.1:PORT without credentials", p.URL, p.Addr)
	}
	want := map[string]bool{"http": p.CAPEM == nil, "https": p.CAPEM != nil, "socks5": p.CAPEM == nil}
	if !want[u.Scheme] {
		t.Errorf("URL %q with CAPEM %v", p.URL, p.CAPEM != nil)
	}
}

// TestConcurrent holds 100 requests open at the same time through each proxy
// (CONNECT tunnels for the HTTP proxies).
func TestConcurrent(t *testing.T) {
	for _, k := range []kind{kinds[0], kinds[1], kinds[2]} {
		t.Run(k.name, func(t *testing.T) {
			t.Parallel()
			p := k.start(t, k.opts)
			tg := newTarget(t, true)
			const n = 100
			tg.barrierN = n
			c := k.client(t, p, roots(t, p, tg))
			var wg sync.WaitGroup
			errs := make(chan error, n)
			for i := 0; i < n; i++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					code, _, err := get(c, tg.srv.URL+"/c")
					if err == nil && code != http.StatusOK {
						err = fmt.Errorf("status %d", code)
					}
					if err != nil {
						errs <- err
					}
				}()
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Error(err)
			}
			requests, newConns, _ := tg.stats()
			if requests != n || newConns != n {
				t.Errorf("target saw %d requests on %d connections, want %d on %d", requests, newConns, n, n)
			}
		})
	}
}

func TestDanteAuthFailure(t *testing.T) {
	p := Dante(t, Options{User: SOCKSUser, Password: SOCKSPassword})
	tg := newTarget(t, false)
	if p.URLWithAuth() == p.URL || !strings.Contains(p.URLWithAuth(), SOCKSUser+":"+SOCKSPassword+"@") {
		t.Errorf("URLWithAuth() = %q", p.URLWithAuth())
	}
	for _, tc := range []struct {
		name string
		c    *http.Client
	}{
		{"wrong password", socksClientAuth(t, p, &proxy.Auth{User: SOCKSUser, Password: "wrong"}, nil)},
		{"unknown user", socksClientAuth(t, p, &proxy.Auth{User: "no-such-user-faya", Password: SOCKSPassword}, nil)},
		{"no credentials", socksClientAuth(t, p, nil, nil)},
		{"wrong password via net/http", proxyURLClient(t, &Proxy{URL: strings.Replace(p.URLWithAuth(), SOCKSPassword, "wrong", 1)}, nil)},
	} {
		code, _, err := get(tc.c, tg.srv.URL+"/x")
		if err == nil {
			t.Errorf("%s: got status %d, want an error", tc.name, code)
		} else {
			t.Logf("%s: %v", tc.name, err)
		}
	}
	if requests, _, _ := tg.stats(); requests != 0 {
		t.Errorf("target saw %d requests, want 0", requests)
	}
	// And the right password works on the same proxy.
	if code, _, err := get(socksClient(t, p, nil), tg.srv.URL+"/ok"); err != nil || code != 200 {
		t.Errorf("right password: %d, %v", code, err)
	}
}

// TestDanteLoopbackOnly: dante refuses destinations outside 127.0.0.0/8.
func TestDanteLoopbackOnly(t *testing.T) {
	p := Dante(t, Options{})
	d, err := proxy.SOCKS5("tcp", p.Addr, nil, proxy.Direct)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := d.(proxy.ContextDialer).DialContext(ctx, "tcp", "192.0.2.1:80")
	if err == nil {
		c.Close()
		t.Fatal("dial 192.0.2.1:80 through dante succeeded, want a refusal")
	}
	t.Logf("dial 192.0.2.1:80: %v", err)

	// A host name resolving to loopback is fine (resolved by dante).
	tg := newTarget(t, false)
	_, port, _ := net.SplitHostPort(tg.srv.Listener.Addr().String())
	if code, _, err := get(socksClient(t, p, nil), "http://localhost:"+port+"/h"); err != nil || code != 200 {
		t.Errorf("http://localhost:%s through dante: %d, %v", port, code, err)
	}
}

func TestURLWithAuth(t *testing.T) {
	p := &Proxy{URL: "socks5://127.0.0.1:1080", User: "u@x", Password: "p:w/"}
	if got, want := p.URLWithAuth(), "socks5://u%40x:p%3Aw%2F@127.0.0.1:1080"; got != want {
		t.Errorf("URLWithAuth() = %q, want %q", got, want)
	}
	u, _ := url.Parse(p.URLWithAuth())
	if pw, _ := u.User.Password(); u.User.Username() != p.User || pw != p.Password {
		t.Errorf("round trip: %v", u.User)
	}
	p = &Proxy{URL: "http://127.0.0.1:8888"}
	if got := p.URLWithAuth(); got != p.URL {
		t.Errorf("URLWithAuth() without user = %q", got)
	}
}

// TestMain fails if a proxy process (or one of its children: same process
// group) is still running after the tests, or is a zombie of this process.
// Zombies of init (danted's children, see killGroup) are only reported.
func TestMain(m *testing.M) {
	code := m.Run()
	startedMu.Lock()
	pids := append([]int(nil), started...)
	startedMu.Unlock()
	var leaked, initZombies []string
	for _, pid := range pids {
		for _, p := range groupMembers(pid, true) {
			if strings.Contains(p, " state Z ") && !strings.HasSuffix(p, fmt.Sprintf(" ppid %d", os.Getpid())) {
				initZombies = append(initZombies, p)
			} else {
				leaked = append(leaked, p)
			}
		}
	}
	if len(leaked) > 0 {
		fmt.Fprintf(os.Stderr, "realproxy: processes left after the tests:\n%s\n", strings.Join(leaked, "\n"))
		if code == 0 {
			code = 1
		}
	}
	if testing.Verbose() && len(initZombies) > 0 {
		fmt.Fprintf(os.Stderr, "realproxy: %d exited danted children not yet reaped by their new parent (init)\n", len(initZombies))
	}
	os.Exit(code)
}

// fakeTB records Skipf/Fatalf and ends the goroutine like testing.T.
type fakeTB struct {
	testing.TB
	skipped, fatal string
}

func (f *fakeTB) Helper() {}
func (f *fakeTB) Skipf(format string, args ...any) {
	f.skipped = fmt.Sprintf(format, args...)
	runtime.Goexit()
}
func (f *fakeTB) Fatalf(format string, args ...any) {
	f.fatal = fmt.Sprintf(format, args...)
	runtime.Goexit()
}

// TestMissingBinaries: skipped without FAYA_CI, failed with FAYA_CI=1, with a
// message naming the Debian package.
func TestMissingBinaries(t *testing.T) {
	t.Setenv("REALPROXY_BIN_DIR", t.TempDir()) // empty: nothing found
	for _, tc := range []struct {
		start func(testing.TB, Options) *Proxy
		pkg   string
	}{{Tinyproxy, "tinyproxy"}, {HTTPSProxy, "stunnel4"}, {Dante, "dante-server"}} {
		for _, ci := range []string{"", "1"} {
			t.Setenv("FAYA_CI", ci)
			f := &fakeTB{TB: t}
			done := make(chan struct{})
			go func() {
				defer close(done)
				tc.start(f, Options{})
			}()
			<-done
			msg := f.skipped
			if ci == "1" {
				msg = f.fatal
			}
			if msg == "" || !strings.Contains(msg, "apt-get install "+tc.pkg) || !strings.Contains(msg, "FAYA_CI=1") ||
				(ci == "1") != (f.fatal != "") || (ci == "") != (f.skipped != "") {
				t.Errorf("FAYA_CI=%q %s: skipped %q, fatal %q", ci, tc.pkg, f.skipped, f.fatal)
			}
			t.Logf("FAYA_CI=%q: skip %q fatal %q", ci, f.skipped, f.fatal)
		}
	}
}

// TestFreePortBelowEphemeral checks that the ports handed to proxies are
// outside the kernel's ephemeral range (no outgoing connection, not even a
// readiness dial's self-connect, can hold one) and free to listen on.
func TestFreePortBelowEphemeral(t *testing.T) {
	lo := ephemeralLow()
	if lo-lowPort < 1000 {
		t.Skipf("ephemeral range starts at %d: freePort falls back to port 0", lo)
	}
	for range 20 {
		port, err := freePort()
		if err != nil {
			t.Fatal(err)
		}
		if port < lowPort || port >= lo {
			t.Fatalf("freePort = %d, want in [%d, %d)", port, lowPort, lo)
		}
		l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
		if err != nil {
			t.Fatalf("port %d from freePort: %v", port, err)
		}
		l.Close()
	}
}
