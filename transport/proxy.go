package transport

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/faya-load/faya/metrics"
	"golang.org/x/net/http/httpguts"
	"golang.org/x/net/proxy"
)

// Proxy kinds, as the proxy URL's scheme says.
const (
	ProxyHTTP    = "http"    // an HTTP proxy: CONNECT for https targets, absolute-form requests for http ones
	ProxyHTTPS   = "https"   // the same, with TLS between faya and the proxy
	ProxySOCKS5  = "socks5"  // SOCKS5, faya resolves the target's name
	ProxySOCKS5H = "socks5h" // SOCKS5, the proxy resolves the target's name
)

// Proxy is one proxy that connections go through. Create it with
// [ParseProxy]; its String is the URL with the password redacted, the only
// form that may appear in reports and logs.
type Proxy struct {
	// Index is the proxy's place in the run's list of proxies, for the
	// per-proxy accounts (set by the caller).
	Index int

	u        *url.URL
	kind     string
	addr     string // host:port of the proxy
	auth     string // "Basic ..." for HTTP proxies, "" without credentials
	user     string
	password string
	tls      *tls.Config // HTTPS proxies
	redacted string
}

// ParseProxy parses a proxy URL: http://, https://, socks5:// or
// socks5h://, with a host and a port, optionally user:password. caPEM,
// when not empty, holds the certificates an HTTPS proxy's certificate must
// chain to (instead of the system's roots). Errors never show the
// password.
func ParseProxy(raw string, caPEM []byte) (*Proxy, error) {
	if !strings.Contains(raw, "://") {
		return nil, fmt.Errorf("%q has no scheme: write http://, https://, socks5:// or socks5h:// before the host", redactRaw("x://" + raw)[4:])
	}
	u, err := url.Parse(raw)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // url.Error repeats the URL, password included
		}
		return nil, fmt.Errorf("%q is not a URL: %v", redactRaw(raw), err)
	}
	p := &Proxy{u: u, kind: strings.ToLower(u.Scheme), redacted: u.Redacted()}
	switch p.kind {
	case ProxyHTTP, ProxyHTTPS, ProxySOCKS5, ProxySOCKS5H:
	case "":
		return nil, fmt.Errorf("%q has no scheme: write http://, https://, socks5:// or socks5h:// before the host", p.redacted)
	default:
		return nil, fmt.Errorf("%q: unknown proxy scheme %q: use http, https, socks5 or socks5h", p.redacted, u.Scheme)
	}
	host, port := u.Hostname(), u.Port()
	switch {
	case host == "":
		return nil, fmt.Errorf("%q has no host", p.redacted)
	case port == "":
		return nil, fmt.Errorf("%q has no port: add one, e.g. %s://%s:%s", p.redacted, p.kind, host, defaultProxyPort[p.kind])
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		return nil, fmt.Errorf("%q: port %q is not a number from 1 to 65535", p.redacted, port)
	}
	if u.Path != "" && u.Path != "/" || u.RawQuery != "" {
		return nil, fmt.Errorf("%q: a proxy URL has no path or query", p.redacted)
	}
	p.addr = net.JoinHostPort(host, port)
	if u.User != nil {
		p.user = u.User.Username()
		p.password, _ = u.User.Password()
		p.auth = "Basic " + base64.StdEncoding.EncodeToString([]byte(p.user+":"+p.password))
	}
	if len(caPEM) > 0 && p.kind != ProxyHTTPS {
		return nil, fmt.Errorf("%q: a proxy CA applies to https:// proxies only", p.redacted)
	}
	if p.kind == ProxyHTTPS {
		p.tls = &tls.Config{ServerName: host, NextProtos: []string{"http/1.1"}}
		if len(caPEM) > 0 {
			pool, err := CAPool(caPEM)
			if err != nil {
				return nil, fmt.Errorf("the proxy CA: %w", err)
			}
			p.tls.RootCAs = pool
		}
	}
	return p, nil
}

// CAPool parses the PEM certificates an HTTPS proxy's certificate must
// chain to.
func CAPool(pem []byte) (*x509.CertPool, error) {
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, errors.New("not a PEM certificate: no PEM certificate block found (expected a file starting with -----BEGIN CERTIFICATE-----)")
	}
	return pool, nil
}

// ProxyLine is one proxy URL of a proxy file and its line number.
type ProxyLine struct {
	Line int
	URL  string
}

// ProxyLines returns the proxy URLs of a proxy file: one per line, blank
// lines and lines starting with # left out.
func ProxyLines(data []byte) []ProxyLine {
	var out []ProxyLine
	for i, line := range strings.Split(string(data), "\n") {
		if line = strings.TrimSpace(line); line != "" && !strings.HasPrefix(line, "#") {
			out = append(out, ProxyLine{Line: i + 1, URL: line})
		}
	}
	return out
}

var defaultProxyPort = map[string]string{ProxyHTTP: "3128", ProxyHTTPS: "3129", ProxySOCKS5: "1080", ProxySOCKS5H: "1080"}

// redactRaw hides what looks like a password in a string that did not
// parse as a URL.
func redactRaw(raw string) string {
	scheme, rest, ok := strings.Cut(raw, "://")
	if !ok {
		return raw
	}
	at := strings.LastIndex(rest, "@")
	if at < 0 {
		return raw
	}
	user, _, hasPass := strings.Cut(rest[:at], ":")
	if !hasPass {
		return raw
	}
	return scheme + "://" + user + ":xxxxx" + rest[at:]
}

// String returns the proxy's URL with the password redacted.
func (p *Proxy) String() string { return p.redacted }

// Kind returns the proxy's scheme: http, https, socks5 or socks5h.
func (p *Proxy) Kind() string { return p.kind }

// Addr returns the proxy's host:port.
func (p *Proxy) Addr() string { return p.addr }

// URL returns the proxy's URL, credentials included (for net/http's
// Transport.Proxy; never print it).
func (p *Proxy) URL() *url.URL { return p.u }

// Authorization returns the Proxy-Authorization header value for an HTTP
// proxy, or "".
func (p *Proxy) Authorization() string { return p.auth }

// Forwards reports whether requests to a target of this scheme are sent
// to the proxy as absolute-form requests (an HTTP proxy and an http
// target), rather than through a tunnel.
func (p *Proxy) Forwards(targetTLS bool) bool {
	return !targetTLS && (p.kind == ProxyHTTP || p.kind == ProxyHTTPS)
}

// ProxyError is a proxy's failure: faya could not reach the proxy, the
// proxy refused the credentials, rejected the CONNECT or answered a SOCKS
// failure. Its message names the proxy with the password redacted.
type ProxyError struct {
	Proxy  string           // the proxy, redacted
	Class  metrics.ErrClass // ErrProxyRefused, ErrProxyAuth, ErrProxyConnect or ErrProxySOCKS
	Status int              // the CONNECT answer's status, or the SOCKS reply code
	Err    error
}

func (e *ProxyError) Error() string {
	return fmt.Sprintf("proxy %s: %v", e.Proxy, e.Err)
}

func (e *ProxyError) Unwrap() error { return e.Err }

// ErrClass returns the error's class for the report.
func (e *ProxyError) ErrClass() metrics.ErrClass { return e.Class }

// DialVia dials addr through px and returns the counted connection to the
// proxy and the connection requests go through: the tunnel (TLS to the
// target over it for an https target), or, when forward is set (see
// [Proxy.Forwards]), the connection to the proxy itself, which takes
// absolute-form requests. The proxy's handshake (TLS to an HTTPS proxy,
// CONNECT, SOCKS5) is timed as the connection's Proxy phase.
func (p *Dialer) DialVia(ctx context.Context, px *Proxy, addr string, useTLS bool, serverName string, forward bool) (*Conn, net.Conn, error) {
	return p.dialVia(ctx, px, addr, useTLS, serverName, forward, false)
}

func (p *Dialer) dialVia(ctx context.Context, px *Proxy, addr string, useTLS bool, serverName string, forward, detach bool) (*Conn, net.Conn, error) {
	c, err := p.dialProxy(ctx, px, detach)
	if err != nil {
		return nil, nil, err
	}
	nc, err := p.handshake(ctx, c, px, addr, forward)
	if err != nil {
		return nil, nil, err
	}
	if !useTLS || forward {
		p.dialed(c)
		if nc != net.Conn(c) {
			nc = &layered{Conn: nc, c: c}
		}
		return c, nc, nil
	}
	tc, err := p.tlsOver(ctx, c, nc, serverName)
	if err != nil {
		return nil, nil, err
	}
	return c, tc, nil
}

// dialProxy connects to the proxy (the connection is counted as dialed
// only once it is ready, by the caller).
func (p *Dialer) dialProxy(ctx context.Context, px *Proxy, detach bool) (*Conn, error) {
	c, err := p.dialTCP(ctx, "tcp", px.addr, detach)
	if err != nil {
		class := metrics.ErrProxyRefused
		if mc := metrics.Classify(err); mc == metrics.ErrTimeout || mc == metrics.ErrCanceled || mc == metrics.ErrDNS || mc == metrics.ErrLocal {
			return nil, fmt.Errorf("proxy %s: %w", px.redacted, err)
		}
		return nil, &ProxyError{Proxy: px.redacted, Class: class, Err: err}
	}
	c.ProxyIndex = px.Index + 1
	return c, nil
}

// handshake runs the proxy's side of a connection c to it: TLS to an HTTPS
// proxy, then CONNECT or SOCKS5 to addr (nothing more when forwarding). It
// returns what to talk over; on failure c is counted and closed.
func (p *Dialer) handshake(ctx context.Context, c *Conn, px *Proxy, addr string, forward bool) (net.Conn, error) {
	start := time.Now()
	var nc net.Conn = c
	fail := func(err error) (net.Conn, error) {
		c.Proxy = time.Since(start)
		c.SetCloseReason(handshakeFailed(ctx))
		p.dialed(c) // the proxy accepted a TCP connection
		_ = c.Close()
		return nil, err
	}
	if px.tls != nil {
		hctx, cancel := context.WithTimeout(ctx, p.cfg.TLSHandshakeTimeout)
		tc := tls.Client(c, px.tls)
		err := tc.HandshakeContext(hctx)
		cancel()
		if err != nil {
			return fail(fmt.Errorf("proxy %s: TLS to the proxy: %w", px.redacted, err))
		}
		nc = tc
	}
	if !forward {
		var err error
		switch px.kind {
		case ProxyHTTP, ProxyHTTPS:
			nc, err = connectTunnel(ctx, nc, px, addr, p.cfg.DialTimeout, p.cfg.UserAgent)
		default:
			nc, err = p.socksTunnel(ctx, c, nc, px, addr)
		}
		if err != nil {
			return fail(err)
		}
	}
	if px.tls != nil || !forward {
		// A forwarding plain HTTP proxy has no handshake; a socks5 lookup
		// of the target's name is the DNS phase, not the proxy's.
		c.Proxy = max(time.Since(start)-c.DNS, 0)
	}
	return nc, nil
}

// tlsOver runs the TLS handshake with the target over nc (c itself, or a
// tunnel through a proxy over c), counting c as dialed either way: the
// server (or the proxy) accepted a TCP connection.
func (p *Dialer) tlsOver(ctx context.Context, c *Conn, nc net.Conn, serverName string) (net.Conn, error) {
	conf := p.tls.Clone()
	conf.ServerName = serverName
	hctx, cancel := context.WithTimeout(ctx, p.cfg.TLSHandshakeTimeout)
	defer cancel()
	start := time.Now()
	tc := tls.Client(nc, conf)
	if err := tc.HandshakeContext(hctx); err != nil {
		c.SetCloseReason(handshakeFailed(ctx))
		p.dialed(c)
		_ = c.Close()
		// The alert the server sent is an unexported type: its text is
		// fixed (RFC 7301's no_application_protocol).
		if p.cfg.HTTP == HTTP2 && strings.Contains(err.Error(), "tls: no application protocol") {
			// The server knows ALPN and none of it is h2.
			return nil, &NegotiationError{Addr: nc.RemoteAddr().String(), Alert: true, err: err}
		}
		return nil, err
	}
	c.TLS = time.Since(start)
	c.Proto = metrics.ProtoH1
	if tc.ConnectionState().NegotiatedProtocol == "h2" {
		c.Proto = metrics.ProtoH2
	}
	if p.cfg.HTTP == HTTP2 && c.Proto != metrics.ProtoH2 {
		c.SetCloseReason(metrics.CloseHandshakeFailed)
		p.dialed(c)
		_ = tc.Close()
		return nil, &NegotiationError{Addr: nc.RemoteAddr().String(), Got: tc.ConnectionState().NegotiatedProtocol}
	}
	p.dialed(c)
	return tc, nil
}

// handshakeFailed is why a connection whose handshake failed is closed:
// unused when the dial was given up (the request that asked for it got
// another connection, or the run ended), else the failure.
func handshakeFailed(ctx context.Context) metrics.CloseReason {
	if ctx.Err() != nil {
		return metrics.CloseUnused
	}
	return metrics.CloseHandshakeFailed
}

// connectTunnel asks an HTTP proxy for a tunnel to addr, with the run's
// User-Agent (ua) when there is one.
func connectTunnel(ctx context.Context, nc net.Conn, px *Proxy, addr string, timeout time.Duration, ua string) (net.Conn, error) {
	deadline := time.Now().Add(timeout)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	_ = nc.SetDeadline(deadline)
	stop := context.AfterFunc(ctx, func() { _ = nc.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	var b strings.Builder
	b.WriteString("CONNECT " + addr + " HTTP/1.1\r\nHost: " + addr + "\r\n")
	if ua != "" && httpguts.ValidHeaderFieldValue(ua) {
		b.WriteString("User-Agent: " + ua + "\r\n")
	}
	if px.auth != "" {
		b.WriteString("Proxy-Authorization: " + px.auth + "\r\n")
	}
	b.WriteString("\r\n")
	if _, err := nc.Write([]byte(b.String())); err != nil {
		return nil, &ProxyError{Proxy: px.redacted, Class: metrics.ErrProxyConnect, Err: fmt.Errorf("CONNECT %s: %w", addr, err)}
	}
	br := bufio.NewReaderSize(nc, 1024)
	resp, err := http.ReadResponse(br, &http.Request{Method: http.MethodConnect})
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, &ProxyError{Proxy: px.redacted, Class: metrics.ErrProxyConnect, Err: fmt.Errorf("CONNECT %s: no answer: %w", addr, err)}
	}
	_ = resp.Body.Close()
	switch {
	case resp.StatusCode == http.StatusProxyAuthRequired:
		msg := "407 Proxy Authentication Required: give user:password in the proxy URL"
		if px.auth != "" {
			msg = "407 Proxy Authentication Required: the proxy refused the user and password"
		}
		return nil, &ProxyError{Proxy: px.redacted, Class: metrics.ErrProxyAuth, Status: resp.StatusCode, Err: errors.New(msg)}
	case resp.StatusCode < 200 || resp.StatusCode > 299:
		return nil, &ProxyError{Proxy: px.redacted, Class: metrics.ErrProxyConnect, Status: resp.StatusCode, Err: fmt.Errorf("CONNECT %s answered %s", addr, resp.Status)}
	}
	_ = nc.SetDeadline(time.Time{})
	if br.Buffered() > 0 {
		// Bytes of the tunnel arrived with the answer: read them first.
		return &bufferedConn{Conn: nc, r: br}, nil
	}
	return nc, nil
}

// bufferedConn reads what a bufio.Reader holds before the connection.
type bufferedConn struct {
	net.Conn
	r *bufio.Reader
}

func (b *bufferedConn) Read(p []byte) (int, error) { return b.r.Read(p) }

// oneConn is a proxy.Dialer that hands out one connection already made.
type oneConn struct{ c net.Conn }

func (o oneConn) Dial(string, string) (net.Conn, error) { return o.c, nil }
func (o oneConn) DialContext(context.Context, string, string) (net.Conn, error) {
	return o.c, nil
}

// socksTunnel runs the SOCKS5 negotiation for addr over c (nc: the
// connection to talk over). With socks5 the target's name is resolved
// here: the lookup is c's DNS phase, apart from the proxy phase; with
// socks5h the proxy resolves it.
func (p *Dialer) socksTunnel(ctx context.Context, c *Conn, nc net.Conn, px *Proxy, addr string) (net.Conn, error) {
	if px.kind == ProxySOCKS5 {
		host, port, err := net.SplitHostPort(addr)
		if err == nil && net.ParseIP(host) == nil {
			ips, dns, err := p.resolver.Resolve(ctx, host)
			c.DNS = dns
			if err != nil {
				return nil, err
			}
			if len(ips) > 0 {
				addr = net.JoinHostPort(ips[0].Unmap().String(), port)
			}
		}
	}
	var auth *proxy.Auth
	if px.user != "" || px.password != "" {
		auth = &proxy.Auth{User: px.user, Password: px.password}
	}
	d, err := proxy.SOCKS5("tcp", px.addr, auth, oneConn{nc})
	if err != nil {
		return nil, &ProxyError{Proxy: px.redacted, Class: metrics.ErrProxySOCKS, Err: err}
	}
	hctx, cancel := context.WithTimeout(ctx, p.cfg.DialTimeout)
	defer cancel()
	if _, err := d.(proxy.ContextDialer).DialContext(hctx, "tcp", addr); err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, socksError(px, err)
	}
	_ = nc.SetDeadline(time.Time{})
	return nc, nil
}

// socksReplies are the texts golang.org/x/net/proxy gives SOCKS5 reply
// codes ("unknown error " + the text).
var socksReplies = map[string]int{
	"general SOCKS server failure": 1, "connection not allowed by ruleset": 2, "network unreachable": 3,
	"host unreachable": 4, "connection refused": 5, "TTL expired": 6, "command not supported": 7,
	"address type not supported": 8,
}

// socksError classes a SOCKS5 negotiation failure.
func socksError(px *Proxy, err error) error {
	msg := err.Error()
	switch {
	case strings.Contains(msg, "username/password authentication failed"):
		text := "SOCKS5 authentication failed: the proxy refused the user and password"
		return &ProxyError{Proxy: px.redacted, Class: metrics.ErrProxyAuth, Err: errors.New(text)}
	case strings.Contains(msg, "no acceptable authentication methods"):
		text := "SOCKS5: no acceptable authentication method"
		if px.user == "" {
			text += " (the proxy wants a user and password: give them in the proxy URL)"
		}
		return &ProxyError{Proxy: px.redacted, Class: metrics.ErrProxyAuth, Err: errors.New(text)}
	}
	for text, code := range socksReplies {
		if strings.Contains(msg, text) {
			return &ProxyError{Proxy: px.redacted, Class: metrics.ErrProxySOCKS, Status: code,
				Err: fmt.Errorf("SOCKS5 failure %d: %s", code, text)}
		}
	}
	return &ProxyError{Proxy: px.redacted, Class: metrics.ErrProxySOCKS, Err: fmt.Errorf("SOCKS5: %w", err)}
}
