package testserver

import (
	"bufio"
	"context"
	"crypto/subtle"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/binary"
	"encoding/pem"
	"errors"
	"io"
	"log"
	"maps"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"golang.org/x/net/proxy"
)

// SOCKS5Client returns an http.Client that dials through the SOCKS5 proxy
// at addr (host:port) with auth, if not nil, and trusts roots for TLS (nil:
// the system's), for tests that check a proxy with a client other than
// faya's.
func SOCKS5Client(t testing.TB, addr string, auth *proxy.Auth, roots *x509.CertPool) *http.Client {
	t.Helper()
	d, err := proxy.SOCKS5("tcp", addr, auth, proxy.Direct)
	if err != nil {
		t.Fatal(err)
	}
	tr := &http.Transport{
		DialContext:     d.(proxy.ContextDialer).DialContext,
		TLSClientConfig: &tls.Config{RootCAs: roots},
	}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: 30 * time.Second}
}

// ProxyOptions configure a test proxy.
type ProxyOptions struct {
	// User and Password, when User is set, are the credentials clients
	// must give: HTTP Proxy-Authorization Basic, or SOCKS5 RFC 1929
	// username/password.
	User, Password string
	// TLS makes clients speak TLS to an HTTP proxy, with httptest's
	// self-signed certificate (see [Proxy.Certificate]).
	TLS bool
	// SourceIP, when set (e.g. "127.0.0.3"), is the local address the
	// proxy's connections to targets are bound to, so that a target can
	// tell proxied peers apart.
	SourceIP string
	// RejectConnect, when non-zero, is the status an HTTP proxy answers
	// every CONNECT with (e.g. 403).
	RejectConnect int
}

// ProxyStats are a test proxy's counters.
type ProxyStats struct {
	// Conns counts client connections accepted by the proxy.
	Conns int64
	// Connects counts successful CONNECT tunnels (HTTP) or SOCKS5 CONNECT
	// commands.
	Connects int64
	// Forwards counts absolute-form requests forwarded to http:// targets
	// and answered by them (HTTP proxy).
	Forwards int64
	// AuthFailures counts 407 answers (HTTP) and rejected SOCKS5
	// authentications (no acceptable method, or wrong credentials).
	AuthFailures int64
	// Rejected counts CONNECTs refused because of RejectConnect.
	Rejected int64
}

// ConnectAgents counts the CONNECT requests the proxy got by their
// User-Agent ("" for none).
func (p *Proxy) ConnectAgents() map[string]int64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return maps.Clone(p.agents)
}

// Proxy is a running test proxy on a loopback port: an HTTP proxy
// (CONNECT tunnels and absolute-form forwarding) or a SOCKS5 proxy.
type Proxy struct {
	// URL is the proxy's address without credentials:
	// "http://127.0.0.1:PORT", "https://127.0.0.1:PORT" (TLS) or
	// "socks5://127.0.0.1:PORT".
	URL string

	opts   ProxyOptions
	dialer *net.Dialer // to targets, bound to SourceIP
	cert   *x509.Certificate

	conns, connects, forwards, authFailures, rejected atomic.Int64

	mu     sync.Mutex
	agents map[string]int64 // CONNECTs by User-Agent
	closed bool
	open   map[net.Conn]struct{} // hijacked, tunneled and SOCKS connections
	wg     sync.WaitGroup        // goroutines serving them
}

// URLWithAuth returns URL with the User:Password userinfo when User is set.
func (p *Proxy) URLWithAuth() string {
	if p.opts.User == "" {
		return p.URL
	}
	u, err := url.Parse(p.URL)
	if err != nil {
		return p.URL
	}
	u.User = url.UserPassword(p.opts.User, p.opts.Password)
	return u.String()
}

// Certificate returns a TLS proxy's certificate, to trust in a client's
// CA pool, or nil.
func (p *Proxy) Certificate() *x509.Certificate { return p.cert }

// CertificatePEM returns [Proxy.Certificate] PEM-encoded, or nil.
func (p *Proxy) CertificatePEM() []byte {
	if p.cert == nil {
		return nil
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: p.cert.Raw})
}

// Stats returns the proxy's counters.
func (p *Proxy) Stats() ProxyStats {
	return ProxyStats{
		Conns:        p.conns.Load(),
		Connects:     p.connects.Load(),
		Forwards:     p.forwards.Load(),
		AuthFailures: p.authFailures.Load(),
		Rejected:     p.rejected.Load(),
	}
}

// newProxy checks o and returns a Proxy without a URL.
func newProxy(t testing.TB, o ProxyOptions) *Proxy {
	t.Helper()
	p := &Proxy{opts: o, open: map[net.Conn]struct{}{}, dialer: &net.Dialer{Timeout: 5 * time.Second}}
	if o.SourceIP != "" {
		ip := net.ParseIP(o.SourceIP)
		if ip == nil {
			t.Fatalf("testserver: SourceIP %q is not an IP address", o.SourceIP)
		}
		p.dialer.LocalAddr = &net.TCPAddr{IP: ip}
	}
	return p
}

// track registers c (and a goroutine serving it) to be closed and waited
// for when the proxy closes. It returns false, having closed c, when the
// proxy is closed already.
func (p *Proxy) track(c net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		_ = c.Close()
		return false
	}
	p.open[c] = struct{}{}
	p.wg.Add(1)
	return true
}

// untrack closes c, which track registered, and marks its goroutine done.
func (p *Proxy) untrack(c net.Conn) {
	_ = c.Close()
	p.mu.Lock()
	delete(p.open, c)
	p.mu.Unlock()
	p.wg.Done()
}

// shutdown closes the tracked connections, so that their goroutines end,
// and refuses new ones.
func (p *Proxy) shutdown() {
	p.mu.Lock()
	p.closed = true
	for c := range p.open {
		_ = c.Close()
	}
	p.mu.Unlock()
}

// authorized reports whether the Proxy-Authorization header h has the
// proxy's credentials (always true when it has none).
func (p *Proxy) authorized(h http.Header) bool {
	if p.opts.User == "" {
		return true
	}
	v := h.Get("Proxy-Authorization")
	scheme, enc, ok := strings.Cut(v, " ")
	if !ok || !strings.EqualFold(scheme, "Basic") {
		return false
	}
	raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(enc))
	if err != nil {
		return false
	}
	return subtle.ConstantTimeCompare(raw, []byte(p.opts.User+":"+p.opts.Password)) == 1
}

// tunnel copies bytes between client (read through cr, which may hold
// bytes the client sent early) and upstream, both tracked, until either
// side closes; then it closes both.
func (p *Proxy) tunnel(client net.Conn, cr io.Reader, upstream net.Conn) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		_, _ = io.Copy(upstream, cr)
		_ = upstream.Close()
		_ = client.Close()
	}()
	_, _ = io.Copy(client, upstream)
	_ = upstream.Close()
	_ = client.Close()
	<-done
}

// StartHTTPProxy starts an HTTP proxy (over TLS with o.TLS) on a loopback
// port. It tunnels CONNECT host:port and forwards absolute-form requests
// to http:// targets, keeping connections alive on both sides; it answers
// 407 with `Proxy-Authenticate: Basic realm="test"` to requests without
// the credentials of o, and strips Proxy-Authorization and
// Proxy-Connection before forwarding.
func StartHTTPProxy(t testing.TB, o ProxyOptions) *Proxy {
	t.Helper()
	p := newProxy(t, o)
	tr := &http.Transport{
		Proxy:               nil, // never the environment's
		DialContext:         p.dialer.DialContext,
		DisableCompression:  true, // pass bodies through as they are
		MaxIdleConnsPerHost: 100,
		IdleConnTimeout:     time.Minute,
	}
	rp := &httputil.ReverseProxy{
		Rewrite:   func(*httputil.ProxyRequest) {}, // Out is In's absolute URL, without hop-by-hop headers
		Transport: tr,
		ModifyResponse: func(*http.Response) error {
			p.forwards.Add(1)
			return nil
		},
		ErrorLog: log.New(io.Discard, "", 0),
	}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !p.authorized(r.Header) {
			p.authFailures.Add(1)
			w.Header().Set("Proxy-Authenticate", `Basic realm="test"`)
			http.Error(w, "proxy authentication required", http.StatusProxyAuthRequired)
			return
		}
		if r.Method == http.MethodConnect {
			p.connect(w, r)
			return
		}
		if !r.URL.IsAbs() || r.URL.Scheme != "http" || r.URL.Host == "" {
			http.Error(w, "this proxy forwards absolute-form http:// requests only", http.StatusBadRequest)
			return
		}
		rp.ServeHTTP(w, r)
	}))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			p.conns.Add(1)
		}
	}
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	if o.TLS {
		srv.StartTLS()
		p.cert = srv.Certificate()
	} else {
		srv.Start()
	}
	p.URL = srv.URL
	t.Cleanup(func() {
		p.shutdown()
		srv.CloseClientConnections() // so that forwards in flight end
		srv.Close()
		p.wg.Wait()
		tr.CloseIdleConnections()
	})
	return p
}

// connect serves an authorized CONNECT request: it dials the target,
// answers 200 and tunnels, or answers RejectConnect or 502.
func (p *Proxy) connect(w http.ResponseWriter, r *http.Request) {
	p.mu.Lock()
	if p.agents == nil {
		p.agents = map[string]int64{}
	}
	p.agents[r.UserAgent()]++
	p.mu.Unlock()
	if code := p.opts.RejectConnect; code != 0 {
		p.rejected.Add(1)
		http.Error(w, "CONNECT rejected", code)
		return
	}
	upstream, err := p.dialer.DialContext(r.Context(), "tcp", r.Host)
	if err != nil {
		http.Error(w, "dial "+r.Host+": "+err.Error(), http.StatusBadGateway)
		return
	}
	if !p.track(upstream) {
		http.Error(w, "proxy closed", http.StatusServiceUnavailable)
		return
	}
	defer p.untrack(upstream)
	client, rw, err := http.NewResponseController(w).Hijack()
	if err != nil {
		http.Error(w, "cannot hijack: "+err.Error(), http.StatusInternalServerError)
		return
	}
	if !p.track(client) {
		return
	}
	defer p.untrack(client)
	p.connects.Add(1)
	if _, err := io.WriteString(client, "HTTP/1.1 200 Connection established\r\n\r\n"); err != nil {
		return
	}
	p.tunnel(client, rw.Reader, upstream)
}

// SOCKS5 (RFC 1928, RFC 1929) constants.
const (
	socksVersion    = 5
	socksNoAuth     = 0x00
	socksUserPass   = 0x02
	socksNoMethod   = 0xff
	socksCmdConnect = 0x01
	socksAtypIPv4   = 0x01
	socksAtypDomain = 0x03
	socksAtypIPv6   = 0x04

	socksSucceeded          = 0x00
	socksGeneralFailure     = 0x01
	socksConnRefused        = 0x05
	socksCmdUnsupported     = 0x07
	socksAtypeUnsupported   = 0x08
	socksUserPassVersion    = 0x01
	socksUserPassSucceeded  = 0x00
	socksUserPassFailed     = 0x01
	socksHandshakeTimeLimit = 5 * time.Second
)

// StartSOCKS5Proxy starts a SOCKS5 proxy on a loopback port: RFC 1928
// with no authentication (only when o has no User) or RFC 1929
// username/password, and the CONNECT command to IPv4, IPv6 and domain name
// (resolved by the proxy) addresses. It replies 0x05 when the target
// refuses the connection, 0x01 when dialing it fails otherwise, 0x07 to
// other commands and 0x08 to other address types; it closes the connection
// after a failed authentication.
func StartSOCKS5Proxy(t testing.TB, o ProxyOptions) *Proxy {
	t.Helper()
	if o.TLS || o.RejectConnect != 0 {
		t.Fatal("testserver: TLS and RejectConnect are options of HTTP proxies only")
	}
	p := newProxy(t, o)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p.URL = "socks5://" + l.Addr().String()
	var accepting sync.WaitGroup
	accepting.Add(1)
	go func() {
		defer accepting.Done()
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			p.conns.Add(1)
			if !p.track(c) {
				continue
			}
			go func() {
				defer p.untrack(c)
				p.serveSOCKS5(c)
			}()
		}
	}()
	t.Cleanup(func() {
		_ = l.Close()
		accepting.Wait()
		p.shutdown()
		p.wg.Wait()
	})
	return p
}

// serveSOCKS5 serves one SOCKS5 client connection, which the caller closes.
func (p *Proxy) serveSOCKS5(c net.Conn) {
	_ = c.SetDeadline(time.Now().Add(socksHandshakeTimeLimit))
	br := bufio.NewReader(c)
	// Greeting: VER NMETHODS METHODS...
	head := make([]byte, 2)
	if _, err := io.ReadFull(br, head); err != nil || head[0] != socksVersion {
		return
	}
	methods := make([]byte, head[1])
	if _, err := io.ReadFull(br, methods); err != nil {
		return
	}
	method := byte(socksNoMethod)
	switch {
	case p.opts.User == "" && slices.Contains(methods, socksNoAuth):
		method = socksNoAuth
	case slices.Contains(methods, socksUserPass):
		method = socksUserPass
	}
	if method == socksNoMethod && p.opts.User != "" {
		p.authFailures.Add(1) // before the answer, for the client to see it counted
	}
	if _, err := c.Write([]byte{socksVersion, method}); err != nil || method == socksNoMethod {
		return
	}
	if method == socksUserPass {
		if !p.socksAuth(c, br) {
			return
		}
	}

	// Request: VER CMD RSV ATYP DST.ADDR DST.PORT
	req := make([]byte, 4)
	if _, err := io.ReadFull(br, req); err != nil || req[0] != socksVersion {
		return
	}
	var host string
	switch req[3] {
	case socksAtypIPv4, socksAtypIPv6:
		ip := make(net.IP, 4)
		if req[3] == socksAtypIPv6 {
			ip = make(net.IP, 16)
		}
		if _, err := io.ReadFull(br, ip); err != nil {
			return
		}
		host = ip.String()
	case socksAtypDomain:
		n, err := br.ReadByte()
		if err != nil {
			return
		}
		name := make([]byte, n)
		if _, err := io.ReadFull(br, name); err != nil {
			return
		}
		host = string(name)
	default:
		socksReply(c, socksAtypeUnsupported, nil)
		return
	}
	var port [2]byte
	if _, err := io.ReadFull(br, port[:]); err != nil {
		return
	}
	if req[1] != socksCmdConnect {
		socksReply(c, socksCmdUnsupported, nil)
		return
	}
	addr := net.JoinHostPort(host, strconv.Itoa(int(binary.BigEndian.Uint16(port[:]))))
	ctx, cancel := context.WithTimeout(context.Background(), socksHandshakeTimeLimit)
	upstream, err := p.dialer.DialContext(ctx, "tcp", addr)
	cancel()
	if err != nil {
		code := byte(socksGeneralFailure)
		if errors.Is(err, syscall.ECONNREFUSED) {
			code = socksConnRefused
		}
		socksReply(c, code, nil)
		return
	}
	if !p.track(upstream) {
		return
	}
	defer p.untrack(upstream)
	p.connects.Add(1)
	if !socksReply(c, socksSucceeded, upstream.LocalAddr()) {
		return
	}
	_ = c.SetDeadline(time.Time{})
	p.tunnel(c, br, upstream)
}

// socksAuth runs the RFC 1929 subnegotiation, answering its status. Without
// a User set, any credentials are accepted.
func (p *Proxy) socksAuth(c net.Conn, br *bufio.Reader) bool {
	// VER ULEN UNAME PLEN PASSWD
	field := func() ([]byte, error) {
		n, err := br.ReadByte()
		if err != nil {
			return nil, err
		}
		b := make([]byte, n)
		_, err = io.ReadFull(br, b)
		return b, err
	}
	ver, err := br.ReadByte()
	if err != nil || ver != socksUserPassVersion {
		return false
	}
	user, err := field()
	if err != nil {
		return false
	}
	pass, err := field()
	if err != nil {
		return false
	}
	ok := p.opts.User == "" ||
		subtle.ConstantTimeCompare(user, []byte(p.opts.User))&subtle.ConstantTimeCompare(pass, []byte(p.opts.Password)) == 1
	status := byte(socksUserPassSucceeded)
	if !ok {
		p.authFailures.Add(1)
		status = socksUserPassFailed
	}
	_, err = c.Write([]byte{socksUserPassVersion, status})
	return ok && err == nil
}

// socksReply writes a SOCKS5 reply with the bound address bnd (zero when
// nil), reporting whether it was written.
func socksReply(c net.Conn, code byte, bnd net.Addr) bool {
	b := []byte{socksVersion, code, 0}
	ip, port := net.IPv4zero.To4(), 0
	if ta, ok := bnd.(*net.TCPAddr); ok {
		ip, port = ta.IP, ta.Port
	}
	if ip4 := ip.To4(); ip4 != nil {
		b = append(b, socksAtypIPv4)
		b = append(b, ip4...)
	} else {
		b = append(b, socksAtypIPv6)
		b = append(b, ip.To16()...)
	}
	b = binary.BigEndian.AppendUint16(b, uint16(port))
	_, err := c.Write(b)
	return err == nil
}
