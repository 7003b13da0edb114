package testserver_test

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"io"
	"maps"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
	"golang.org/x/net/proxy"

	"github.com/faya-load/faya/internal/testserver"
	"github.com/faya-load/faya/target"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// client is an http.Client through an HTTP(S) proxy, trusting the test
// certificate, and recording the statuses of the proxy's CONNECT answers.
type client struct {
	*http.Client
	mu       sync.Mutex
	connects []int
}

func newClient(t *testing.T, proxyURL string, roots *x509.CertPool) *client {
	t.Helper()
	u, err := url.Parse(proxyURL)
	if err != nil {
		t.Fatal(err)
	}
	c := &client{}
	tr := &http.Transport{
		Proxy:           http.ProxyURL(u),
		TLSClientConfig: &tls.Config{RootCAs: roots},
		OnProxyConnectResponse: func(_ context.Context, _ *url.URL, _ *http.Request, res *http.Response) error {
			c.mu.Lock()
			c.connects = append(c.connects, res.StatusCode)
			c.mu.Unlock()
			return nil
		},
	}
	t.Cleanup(tr.CloseIdleConnections)
	c.Client = &http.Client{Transport: tr, Timeout: 10 * time.Second}
	return c
}

// connectStatuses returns the statuses of the CONNECT answers so far.
func (c *client) connectStatuses() []int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]int(nil), c.connects...)
}

// trust returns a pool of certs.
func trust(certs ...*x509.Certificate) *x509.CertPool {
	pool := x509.NewCertPool()
	for _, c := range certs {
		pool.AddCert(c)
	}
	return pool
}

// socksClient is an http.Client dialing through the SOCKS5 proxy p.
func socksClient(t *testing.T, p *testserver.Proxy, auth *proxy.Auth, roots *x509.CertPool) *http.Client {
	return testserver.SOCKS5Client(t, strings.TrimPrefix(p.URL, "socks5://"), auth, roots)
}

// do sends req and returns the status and the body, read to EOF.
func do(c *http.Client, req *http.Request) (int, string, http.Header, error) {
	resp, err := c.Do(req)
	if err != nil {
		return 0, "", nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body), resp.Header, err
}

// get GETs u with c, failing the test on an error or a status but 200.
func get(t *testing.T, c *http.Client, u string) string {
	t.Helper()
	req, err := http.NewRequest("GET", u, nil)
	if err != nil {
		t.Fatal(err)
	}
	code, body, _, err := do(c, req)
	if err != nil {
		t.Fatalf("GET %s: %v", u, err)
	}
	if code != http.StatusOK {
		t.Fatalf("GET %s: status %d (%s)", u, code, body)
	}
	return body
}

// checkStats compares a proxy's counters.
func checkStats(t *testing.T, p *testserver.Proxy, want testserver.ProxyStats) {
	t.Helper()
	if got := p.Stats(); got != want {
		t.Errorf("proxy stats %+v, want %+v", got, want)
	}
}

// checkTarget compares a target's load requests, new connections and
// requests by peer.
func checkTarget(t *testing.T, name string, srv *testserver.Server, requests, connsNew int64, peers map[string]int64) {
	t.Helper()
	st := srv.Stats()
	if st.Requests != requests || st.ConnsNew != connsNew || !maps.Equal(st.Peers, peers) {
		t.Errorf("%s: requests %d, conns_new %d, peers %v; want %d, %d, %v",
			name, st.Requests, st.ConnsNew, st.Peers, requests, connsNew, peers)
	}
}

func TestHTTPProxyForward(t *testing.T) {
	tg := testserver.Start(t)
	p := testserver.StartHTTPProxy(t, testserver.ProxyOptions{})
	if !strings.HasPrefix(p.URL, "http://127.0.0.1:") || p.URLWithAuth() != p.URL || p.Certificate() != nil || p.CertificatePEM() != nil {
		t.Errorf("URL %q, URLWithAuth %q, certificate %v", p.URL, p.URLWithAuth(), p.Certificate())
	}
	c := newClient(t, p.URL, nil)
	for range 20 {
		if body := get(t, c.Client, tg.URL+"/"); body != string(target.Body) {
			t.Fatalf("body %q", body)
		}
	}
	// One client connection, one upstream connection, 20 forwards.
	checkStats(t, p, testserver.ProxyStats{Conns: 1, Forwards: 20})
	checkTarget(t, "target", tg, 20, 1, map[string]int64{"127.0.0.1": 20})

	// A request body and a large response body keep their framing, so the
	// connections stay reusable.
	req, _ := http.NewRequest("POST", tg.URL+"/login", strings.NewReader("user=ann&password=pw"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if code, body, _, err := do(c.Client, req); err != nil || code != 200 || !strings.Contains(body, `"user":"ann"`) {
		t.Errorf("POST /login: %d %q %v", code, body, err)
	}
	if body := get(t, c.Client, tg.URL+"/bytes?n=100000"); len(body) != 100000 {
		t.Errorf("/bytes: %d bytes, want 100000", len(body))
	}
	// A refused target is a 502, not a forward.
	req, _ = http.NewRequest("GET", testserver.RefusedURL(t), nil)
	if code, _, _, err := do(c.Client, req); err != nil || code != http.StatusBadGateway {
		t.Errorf("refused target: %d %v, want 502", code, err)
	}
	checkStats(t, p, testserver.ProxyStats{Conns: 1, Forwards: 22})
	checkTarget(t, "target", tg, 22, 1, map[string]int64{"127.0.0.1": 22})
	if st := tg.Stats(); st.Logins != 1 {
		t.Errorf("logins %d, want 1", st.Logins)
	}
	if got := c.connectStatuses(); len(got) != 0 {
		t.Errorf("CONNECTs %v, want none", got)
	}
}

func TestHTTPProxyStripsProxyHeaders(t *testing.T) {
	var mu sync.Mutex
	var got []http.Header
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		got = append(got, r.Header.Clone())
		mu.Unlock()
		_, _ = io.WriteString(w, "ok")
	}))
	t.Cleanup(upstream.Close)
	p := testserver.StartHTTPProxy(t, testserver.ProxyOptions{User: "ann", Password: "pw"})
	if want := "http://ann:pw@" + strings.TrimPrefix(p.URL, "http://"); p.URLWithAuth() != want {
		t.Errorf("URLWithAuth %q, want %q", p.URLWithAuth(), want)
	}
	c := newClient(t, p.URLWithAuth(), nil) // the Transport sends Proxy-Authorization
	req, _ := http.NewRequest("GET", upstream.URL+"/x", nil)
	req.Header.Set("Proxy-Connection", "keep-alive")
	req.Header.Set("X-Kept", "yes")
	if code, body, _, err := do(c.Client, req); err != nil || code != 200 || body != "ok" {
		t.Fatalf("GET: %d %q %v", code, body, err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(got) != 1 {
		t.Fatalf("upstream got %d requests, want 1", len(got))
	}
	h := got[0]
	if h.Get("Proxy-Authorization") != "" || h.Get("Proxy-Connection") != "" || h.Get("X-Kept") != "yes" {
		t.Errorf("upstream headers %v: want no Proxy-Authorization nor Proxy-Connection, and X-Kept", h)
	}
	checkStats(t, p, testserver.ProxyStats{Conns: 1, Forwards: 1})
}

func TestHTTPProxyConnect(t *testing.T) {
	tg := testserver.StartTLS(t)
	p := testserver.StartHTTPProxy(t, testserver.ProxyOptions{})
	c := newClient(t, p.URL, trust(tg.Certificate()))
	for range 20 {
		if body := get(t, c.Client, tg.URL+"/"); body != string(target.Body) {
			t.Fatalf("body %q", body)
		}
	}
	// One client connection, tunneled once: TLS to the target inside it.
	checkStats(t, p, testserver.ProxyStats{Conns: 1, Connects: 1})
	checkTarget(t, "target", tg, 20, 1, map[string]int64{"127.0.0.1": 20})
	if got := c.connectStatuses(); len(got) != 1 || got[0] != 200 {
		t.Errorf("CONNECT statuses %v, want [200]", got)
	}
}

func TestHTTPSProxy(t *testing.T) {
	plain, secure := testserver.Start(t), testserver.StartTLS(t)
	p := testserver.StartHTTPProxy(t, testserver.ProxyOptions{TLS: true})
	if !strings.HasPrefix(p.URL, "https://127.0.0.1:") || p.Certificate() == nil {
		t.Fatalf("URL %q, certificate %v", p.URL, p.Certificate())
	}
	// Trust the proxy's certificate, from its PEM, and the target's.
	roots := trust(secure.Certificate())
	if !roots.AppendCertsFromPEM(p.CertificatePEM()) {
		t.Fatal("CertificatePEM has no certificate")
	}
	c := newClient(t, p.URL, roots)
	for range 5 {
		get(t, c.Client, plain.URL+"/")
		get(t, c.Client, secure.URL+"/")
	}
	// One TLS connection forwarding, another tunneling.
	checkStats(t, p, testserver.ProxyStats{Conns: 2, Connects: 1, Forwards: 5})
	checkTarget(t, "http target", plain, 5, 1, map[string]int64{"127.0.0.1": 5})
	checkTarget(t, "https target", secure, 5, 1, map[string]int64{"127.0.0.1": 5})
}

func TestHTTPProxyAuth(t *testing.T) {
	plain, secure := testserver.Start(t), testserver.StartTLS(t)
	p := testserver.StartHTTPProxy(t, testserver.ProxyOptions{User: "ann", Password: "pw"})

	// Without credentials: 407 to a forward, and to a CONNECT.
	roots := trust(secure.Certificate())
	anon := newClient(t, p.URL, roots)
	req, _ := http.NewRequest("GET", plain.URL+"/", nil)
	code, _, h, err := do(anon.Client, req)
	if err != nil || code != http.StatusProxyAuthRequired || h.Get("Proxy-Authenticate") != `Basic realm="test"` {
		t.Errorf("forward without credentials: %d %v %v", code, h, err)
	}
	if _, err := anon.Get(secure.URL + "/"); err == nil {
		t.Error("CONNECT without credentials succeeded")
	}
	if got := anon.connectStatuses(); len(got) != 1 || got[0] != http.StatusProxyAuthRequired {
		t.Errorf("CONNECT statuses %v, want [407]", got)
	}
	// The connection stays open after a 407: credentials on the next
	// request over it go through.
	req, _ = http.NewRequest("GET", plain.URL+"/", nil)
	req.Header.Set("Proxy-Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte("ann:pw")))
	if code, _, _, err := do(anon.Client, req); err != nil || code != 200 {
		t.Errorf("forward with credentials after a 407: %d %v", code, err)
	}
	// Wrong password.
	wrong := newClient(t, "http://ann:nope@"+strings.TrimPrefix(p.URL, "http://"), roots)
	req, _ = http.NewRequest("GET", plain.URL+"/", nil)
	if code, _, _, err := do(wrong.Client, req); err != nil || code != http.StatusProxyAuthRequired {
		t.Errorf("forward with a wrong password: %d %v", code, err)
	}
	// Right credentials.
	ok := newClient(t, p.URLWithAuth(), roots)
	get(t, ok.Client, plain.URL+"/")
	get(t, ok.Client, secure.URL+"/")

	// Connections: anon's forwarding one (407, then 200) and CONNECT one,
	// wrong's, ok's forwarding and CONNECT ones.
	checkStats(t, p, testserver.ProxyStats{Conns: 5, Connects: 1, Forwards: 2, AuthFailures: 3})
	checkTarget(t, "http target", plain, 2, 1, map[string]int64{"127.0.0.1": 2})
	checkTarget(t, "https target", secure, 1, 1, map[string]int64{"127.0.0.1": 1})
}

func TestHTTPProxyRejectConnect(t *testing.T) {
	plain, secure := testserver.Start(t), testserver.StartTLS(t)
	p := testserver.StartHTTPProxy(t, testserver.ProxyOptions{RejectConnect: http.StatusForbidden})
	c := newClient(t, p.URL, trust(secure.Certificate()))
	if _, err := c.Get(secure.URL + "/"); err == nil {
		t.Error("rejected CONNECT succeeded")
	}
	if got := c.connectStatuses(); len(got) != 1 || got[0] != http.StatusForbidden {
		t.Errorf("CONNECT statuses %v, want [403]", got)
	}
	get(t, c.Client, plain.URL+"/") // forwarding is not rejected
	checkStats(t, p, testserver.ProxyStats{Conns: 2, Forwards: 1, Rejected: 1})
	checkTarget(t, "https target", secure, 0, 0, map[string]int64{})
}

func TestProxySourceIP(t *testing.T) {
	plain, secure := testserver.Start(t), testserver.StartTLS(t)
	hp := testserver.StartHTTPProxy(t, testserver.ProxyOptions{SourceIP: "127.0.0.3"})
	sp := testserver.StartSOCKS5Proxy(t, testserver.ProxyOptions{SourceIP: "127.0.0.4"})
	roots := trust(secure.Certificate())
	hc, sc := newClient(t, hp.URL, roots), socksClient(t, sp, nil, roots)
	for range 3 {
		get(t, hc.Client, plain.URL+"/")
		get(t, hc.Client, secure.URL+"/")
		get(t, sc, plain.URL+"/")
	}
	get(t, sc, secure.URL+"/")
	get(t, plain.Client(), plain.URL+"/") // directly
	checkTarget(t, "http target", plain, 7, 3, map[string]int64{"127.0.0.1": 1, "127.0.0.3": 3, "127.0.0.4": 3})
	checkTarget(t, "https target", secure, 4, 2, map[string]int64{"127.0.0.3": 3, "127.0.0.4": 1})
	checkStats(t, hp, testserver.ProxyStats{Conns: 2, Connects: 1, Forwards: 3})
	checkStats(t, sp, testserver.ProxyStats{Conns: 2, Connects: 2})
}

func TestSOCKS5Proxy(t *testing.T) {
	plain, secure := testserver.Start(t), testserver.StartTLS(t)
	p := testserver.StartSOCKS5Proxy(t, testserver.ProxyOptions{})
	if !strings.HasPrefix(p.URL, "socks5://127.0.0.1:") || p.URLWithAuth() != p.URL {
		t.Errorf("URL %q, URLWithAuth %q", p.URL, p.URLWithAuth())
	}
	c := socksClient(t, p, nil, trust(secure.Certificate()))
	for range 20 {
		if body := get(t, c, plain.URL+"/"); body != string(target.Body) {
			t.Fatalf("body %q", body)
		}
	}
	checkStats(t, p, testserver.ProxyStats{Conns: 1, Connects: 1})
	checkTarget(t, "http target", plain, 20, 1, map[string]int64{"127.0.0.1": 20})
	for range 5 {
		get(t, c, secure.URL+"/")
	}
	checkStats(t, p, testserver.ProxyStats{Conns: 2, Connects: 2})
	checkTarget(t, "https target", secure, 5, 1, map[string]int64{"127.0.0.1": 5})

	// A domain name, resolved by the proxy.
	_, port, _ := net.SplitHostPort(plain.Listener.Addr().String())
	get(t, c, "http://localhost:"+port+"/")
	checkStats(t, p, testserver.ProxyStats{Conns: 3, Connects: 3})
	checkTarget(t, "http target", plain, 21, 2, map[string]int64{"127.0.0.1": 21})

	// A refused target.
	_, err := c.Get(testserver.RefusedURL(t))
	if err == nil || !strings.Contains(err.Error(), "connection refused") {
		t.Errorf("refused target: %v, want a SOCKS connection refused", err)
	}
	checkStats(t, p, testserver.ProxyStats{Conns: 4, Connects: 3})
}

func TestSOCKS5ProxyIPv6(t *testing.T) {
	l, err := net.Listen("tcp", "[::1]:0")
	if err != nil {
		t.Skip("no IPv6 loopback:", err)
	}
	tg := target.New()
	srv := &httptest.Server{Listener: l, Config: &http.Server{Handler: tg}}
	srv.Start()
	t.Cleanup(srv.Close)
	p := testserver.StartSOCKS5Proxy(t, testserver.ProxyOptions{})
	c := socksClient(t, p, nil, nil)
	get(t, c, srv.URL+"/")
	if st := tg.Stats(); st.Requests != 1 || st.Peers["::1"] != 1 {
		t.Errorf("target: %+v, want one request from ::1", st)
	}
	checkStats(t, p, testserver.ProxyStats{Conns: 1, Connects: 1})
}

func TestSOCKS5ProxyAuth(t *testing.T) {
	tg := testserver.Start(t)
	p := testserver.StartSOCKS5Proxy(t, testserver.ProxyOptions{User: "ann", Password: "pw"})
	if want := "socks5://ann:pw@" + strings.TrimPrefix(p.URL, "socks5://"); p.URLWithAuth() != want {
		t.Errorf("URLWithAuth %q, want %q", p.URLWithAuth(), want)
	}
	get(t, socksClient(t, p, &proxy.Auth{User: "ann", Password: "pw"}, nil), tg.URL+"/")
	if _, err := socksClient(t, p, &proxy.Auth{User: "ann", Password: "nope"}, nil).Get(tg.URL + "/"); err == nil {
		t.Error("wrong password accepted")
	}
	_, err := socksClient(t, p, nil, nil).Get(tg.URL + "/")
	if err == nil || !strings.Contains(err.Error(), "no acceptable authentication methods") {
		t.Errorf("no credentials: %v, want no acceptable authentication methods", err)
	}
	checkStats(t, p, testserver.ProxyStats{Conns: 3, Connects: 1, AuthFailures: 2})
	checkTarget(t, "target", tg, 1, 1, map[string]int64{"127.0.0.1": 1})
}

// TestSOCKS5ProxyProtocol checks the answers x/net/proxy cannot provoke,
// byte by byte.
func TestSOCKS5ProxyProtocol(t *testing.T) {
	tg := testserver.Start(t)
	_, port, _ := net.SplitHostPort(tg.Listener.Addr().String())
	pn, _ := strconv.Atoi(port)
	dst := []byte{1, 127, 0, 0, 1, byte(pn >> 8), byte(pn)} // ATYP IPv4, address, port

	exchange := func(p *testserver.Proxy, send []byte, n int) []byte {
		t.Helper()
		c, err := net.Dial("tcp", strings.TrimPrefix(p.URL, "socks5://"))
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(5 * time.Second))
		if _, err := c.Write(send); err != nil {
			t.Fatal(err)
		}
		r := bufio.NewReader(c)
		got := make([]byte, n)
		if _, err := io.ReadFull(r, got); err != nil {
			t.Fatalf("reading %d bytes: %v", n, err)
		}
		if _, err := r.ReadByte(); err != io.EOF {
			t.Errorf("after %v: %v, want the proxy to close", got, err)
		}
		return got
	}
	same := func(what string, got, want []byte) {
		t.Helper()
		if string(got) != string(want) {
			t.Errorf("%s: %v, want %v", what, got, want)
		}
	}

	open := testserver.StartSOCKS5Proxy(t, testserver.ProxyOptions{})
	// BIND (0x02): command not supported.
	got := exchange(open, append([]byte{5, 1, 0, 5, 2, 0}, dst...), 2+10)
	same("BIND", got[:4], []byte{5, 0, 5, 7})
	// Address type 9: not supported.
	got = exchange(open, []byte{5, 1, 0, 5, 1, 0, 9}, 2+10)
	same("address type 9", got[:4], []byte{5, 0, 5, 8})
	checkStats(t, open, testserver.ProxyStats{Conns: 2})

	locked := testserver.StartSOCKS5Proxy(t, testserver.ProxyOptions{User: "ann", Password: "pw"})
	// Only "no authentication" offered: no acceptable method.
	same("no auth offered", exchange(locked, []byte{5, 1, 0}, 2), []byte{5, 0xff})
	// Wrong password: RFC 1929 failure status, then close.
	same("wrong password", exchange(locked, []byte{5, 2, 0, 2, 1, 3, 'a', 'n', 'n', 2, 'n', 'o'}, 4), []byte{5, 2, 1, 1})
	checkStats(t, locked, testserver.ProxyStats{Conns: 2, AuthFailures: 2})
	checkTarget(t, "target", tg, 0, 0, map[string]int64{})
}

// TestProxyCleanup checks that closing the proxies ends their tunnels and
// the forwards in flight, even while the clients keep their connections,
// so that no goroutine outlives them.
func TestProxyCleanup(t *testing.T) {
	var transports []*http.Transport
	defer func() {
		for _, tr := range transports {
			tr.CloseIdleConnections()
		}
	}()
	// The targets outlive the proxies, and keep their connections open.
	plain, secure := testserver.Start(t), testserver.StartTLS(t)
	before := goleak.IgnoreCurrent()
	errc := make(chan error, 1)
	var start time.Time
	t.Run("open", func(t *testing.T) {
		hp := testserver.StartHTTPProxy(t, testserver.ProxyOptions{})
		sp := testserver.StartSOCKS5Proxy(t, testserver.ProxyOptions{})
		hu, _ := url.Parse(hp.URL)
		d, err := proxy.SOCKS5("tcp", strings.TrimPrefix(sp.URL, "socks5://"), nil, proxy.Direct)
		if err != nil {
			t.Fatal(err)
		}
		// Transports whose idle connections outlive the proxies: a CONNECT
		// tunnel, a SOCKS tunnel, and a forward in flight.
		tunnel := &http.Transport{Proxy: http.ProxyURL(hu), TLSClientConfig: &tls.Config{RootCAs: trust(secure.Certificate())}}
		socks := &http.Transport{DialContext: d.(proxy.ContextDialer).DialContext}
		forward := &http.Transport{Proxy: http.ProxyURL(hu)}
		transports = append(transports, tunnel, socks, forward)
		get(t, &http.Client{Transport: tunnel}, secure.URL+"/")
		get(t, &http.Client{Transport: socks}, plain.URL+"/")
		go func() {
			resp, err := (&http.Client{Transport: forward}).Get(plain.URL + "/slow?ms=60000")
			if err == nil {
				_, err = io.ReadAll(resp.Body)
				_ = resp.Body.Close()
			}
			errc <- err
		}()
		for plain.Stats().Requests < 2 { // the slow request reached the target
			time.Sleep(time.Millisecond)
		}
		checkStats(t, hp, testserver.ProxyStats{Conns: 2, Connects: 1})
		checkStats(t, sp, testserver.ProxyStats{Conns: 1, Connects: 1})
		start = time.Now()
	})
	select {
	case err := <-errc:
		if err == nil {
			t.Error("the forward in flight succeeded after the proxy closed")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the forward in flight still runs after the proxy closed")
	}
	if d := time.Since(start); d > 4*time.Second {
		t.Errorf("closing took %v", d)
	}
	// The clients' connection goroutines ended too: the proxies closed
	// their connections.
	goleak.VerifyNone(t, before)
}
