package transport

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"sync"
	"sync/atomic"
	"time"

	"github.com/faya-load/faya/metrics"
)

// Observer receives the life events of a pool's connections. The pool calls
// it from net/http's goroutines, concurrently; implementations must be safe
// for that and quick (dials and closes are rare next to requests).
type Observer interface {
	// ConnDialed is called once per established connection (after TLS
	// for HTTPS), before it carries a request.
	ConnDialed(c *Conn)
	// ConnClosed is called once per connection when it closes. received
	// and sent are the wire bytes not yet charged to a request.
	ConnClosed(c *Conn, reason metrics.CloseReason, received, sent int64)
	// PutIdleFailed is called when net/http could not return a connection
	// to the idle pool after a request.
	PutIdleFailed(reason metrics.CloseReason)
}

// Dialer makes the connections of a pool and keeps their accounts: it
// resolves, connects and runs the TLS handshake itself, timing each phase,
// wraps every connection in a counting [Conn], reports dials and closes to
// an [Observer], and knows which connections are open. Both of faya's HTTP
// engines dial through one. Create it with [NewDialer].
type Dialer struct {
	cfg      Config
	obs      Observer
	epoch    time.Time
	net      net.Dialer
	resolver *Resolver
	tls      *tls.Config
	ending   atomic.Bool
	dialing  atomic.Int64 // dials started and not yet counted (dialed) or failed
	proxy    *Proxy       // WithProxy: the Pool's connections go through it
	h2       bool         // WithHTTP2: the engine speaks HTTP/2
	// turns count the dials that took a source address (LocalAddrs) and,
	// per Resolve key, those it answered: maybe shared (WithTurns).
	turns *Turns

	mu   sync.Mutex
	open map[*Conn]struct{} // connections open now
}

// Option injects behaviour into a Dialer (configuration lives in Config).
type Option func(*Dialer)

// WithProxy makes the connections of a [Pool] go through px: requests to
// http targets are forwarded by an HTTP(S) proxy (absolute-form, with its
// credentials), the rest go through a tunnel (CONNECT or SOCKS5). Pools
// are per proxy, as net/http keys its pool by proxy.
func WithProxy(px *Proxy) Option { return func(d *Dialer) { d.proxy = px } }

// WithHTTP2 says the engine speaks HTTP/2: with --http auto, TLS then
// offers h2 before http/1.1 by ALPN (without it, auto offers only
// http/1.1); --http 2 offers h2 alone either way. [New] (net/http) sets
// it.
func WithHTTP2() Option { return func(d *Dialer) { d.h2 = true } }

// Turns are the round-robin counters of --local-addr (the next source
// address) and --resolve (the next address of each entry). The dialers
// of one run share one ([WithTurns]), so that pools made per VU (or per
// proxy) take the addresses in turn together, not each from the first.
type Turns struct {
	local   atomic.Uint64
	resolve map[string]*atomic.Uint64 // by Config.Resolve key; read-only after NewTurns
}

// NewTurns returns counters for cfg's LocalAddrs and Resolve entries.
func NewTurns(cfg Config) *Turns {
	t := &Turns{}
	if len(cfg.Resolve) > 0 {
		t.resolve = make(map[string]*atomic.Uint64, len(cfg.Resolve))
		for k := range cfg.Resolve {
			t.resolve[k] = new(atomic.Uint64)
		}
	}
	return t
}

// WithTurns makes the dialer take its source and --resolve addresses in
// turn with every other dialer given t (made by [NewTurns] for the same
// Config).
func WithTurns(t *Turns) Option { return func(d *Dialer) { d.turns = t } }

// WithResolver makes the dialer look names up through r, which may
// serve several dialers: the pools of one run share its lookups. r
// applies the DNS settings of the Config it was made with. Without it, a
// Dialer has a Resolver of its own over [net.DefaultResolver].
func WithResolver(r *Resolver) Option { return func(d *Dialer) { d.resolver = r } }

// WithEpoch sets the start of the dialer's clock ([Dialer.Now]), so that
// several pools, and the engine's schedule, share one clock. The default
// is the time the Dialer is made.
func WithEpoch(t time.Time) Option { return func(d *Dialer) { d.epoch = t } }

// NewDialer returns a Dialer for cfg (defaults applied) reporting to obs.
// TLS connections offer by ALPN what cfg.HTTP asks ([HTTPVersion.ALPN]):
// HTTP/1.1 only unless the engine speaks HTTP/2 ([WithHTTP2]) or HTTP/2
// is required; with --http 2 a server that does not pick h2 fails the
// dial with a [NegotiationError]. Each Conn's Proto is what was
// negotiated.
func NewDialer(cfg Config, obs Observer, opts ...Option) (*Dialer, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("transport config: %w", err)
	}
	if obs == nil {
		return nil, errors.New("transport: nil Observer")
	}
	cfg = cfg.WithDefaults()
	p := &Dialer{
		cfg:   cfg,
		obs:   obs,
		open:  map[*Conn]struct{}{},
		epoch: time.Now(),
		net:   net.Dialer{KeepAlive: 30 * time.Second},
		tls: &tls.Config{
			InsecureSkipVerify: cfg.InsecureSkipVerify, //nolint:gosec // the user asked for it with --insecure
			NextProtos:         []string{"http/1.1"},
		},
	}
	if len(cfg.RootCAsPEM) > 0 {
		roots, err := CAPool(cfg.RootCAsPEM)
		if err != nil {
			return nil, fmt.Errorf("transport config: CA certificates: %w", err)
		}
		p.tls.RootCAs = roots
	}
	for _, o := range opts {
		o(p)
	}
	if p.turns == nil {
		p.turns = NewTurns(cfg)
	}
	if p.resolver == nil {
		p.resolver = NewResolver(cfg, nil)
	}
	p.tls.NextProtos = cfg.HTTP.ALPN(p.h2)
	return p, nil
}

// HTTP2 reports whether the dialer's connections may speak HTTP/2: the
// engine speaks it and --http is not 1.1.
func (p *Dialer) HTTP2() bool { return p.cfg.HTTP == HTTP2 || p.h2 && p.cfg.HTTP == HTTPAuto }

// H2C reports whether plain-TCP connections speak HTTP/2 with prior
// knowledge (--http 2 on an http URL).
func (p *Dialer) H2C() bool { return p.cfg.HTTP == HTTP2 }

// Pool is one tuned net/http connection pool: a *http.Transport whose
// [Dialer] counts, times and labels every connection. Create it with [New];
// it is safe for concurrent use and must not be reconfigured after New
// returns.
type Pool struct {
	*Dialer
	http *http.Transport
}

// New builds a Pool from cfg (defaults applied) reporting to obs. It
// speaks what cfg.HTTP asks with Go's own HTTP/2 (http.Transport's
// Protocols and HTTP2Config): auto, h2 where an https server picks it by
// ALPN and HTTP/1.1 elsewhere; 1.1, HTTP/1.1 only; 2, HTTP/2 only (h2 by
// ALPN, prior-knowledge h2c on http). MaxConnsPerHost caps the HTTP/2
// connections too.
func New(cfg Config, obs Observer, opts ...Option) (*Pool, error) {
	d, err := NewDialer(cfg, obs, append(opts, WithHTTP2())...)
	if err != nil {
		return nil, err
	}
	cfg = d.cfg
	p := &Pool{Dialer: d}
	p.http = &http.Transport{
		DialContext:           d.dialDetached,
		DialTLSContext:        d.dialTLSDetached,
		MaxConnsPerHost:       limit(cfg.MaxConnsPerHost, true),
		MaxIdleConns:          limit(cfg.MaxIdleConns, true),
		MaxIdleConnsPerHost:   limit(cfg.MaxIdleConnsPerHost, false),
		IdleConnTimeout:       cfg.IdleConnTimeout,
		DisableKeepAlives:     cfg.DisableKeepAlives,
		ResponseHeaderTimeout: cfg.ResponseHeaderTimeout,
		TLSHandshakeTimeout:   cfg.TLSHandshakeTimeout,
		ExpectContinueTimeout: max(cfg.ExpectContinueTimeout, 0),
		// A load generator measures what the server sends; it does not ask
		// for gzip behind the user's back nor spend CPU inflating it.
		DisableCompression: true,
	}
	// One header limit for both engines (h1's reader applies it too).
	p.http.MaxResponseHeaderBytes = cfg.MaxResponseHeaderBytes
	p.http.Protocols = new(http.Protocols)
	switch cfg.HTTP {
	case HTTP1:
		p.http.Protocols.SetHTTP1(true)
	case HTTP2:
		p.http.Protocols.SetHTTP2(true)
		p.http.Protocols.SetUnencryptedHTTP2(true)
	default:
		p.http.Protocols.SetHTTP1(true)
		p.http.Protocols.SetHTTP2(true)
	}
	p.http.HTTP2 = &http.HTTP2Config{
		StrictMaxConcurrentRequests: cfg.H2StrictStreams,
		PingTimeout:                 cfg.H2PingTimeout,
		// A PING after that long without a frame: without it Go sends none.
		SendPingTimeout: cfg.H2PingTimeout,
	}
	if px := d.proxy; px != nil {
		p.http.Proxy = func(req *http.Request) (*url.URL, error) {
			if px.Forwards(req.URL.Scheme == "https") {
				return px.URL(), nil
			}
			return nil, nil
		}
		p.http.DialContext = func(ctx context.Context, _, addr string) (net.Conn, error) {
			// The proxy itself (forwarding), or a tunnel to an http target.
			_, nc, err := d.dialVia(ctx, px, addr, false, "", addr == px.addr && px.Forwards(false), true)
			return nc, err
		}
		p.http.DialTLSContext = func(ctx context.Context, _, addr string) (net.Conn, error) {
			if addr == px.addr && px.kind == ProxyHTTPS {
				_, nc, err := d.dialVia(ctx, px, addr, false, "", true, true) // TLS to the proxy, forwarding
				return nc, err
			}
			host, _, _ := net.SplitHostPort(addr)
			_, nc, err := d.dialVia(ctx, px, addr, true, host, false, true)
			return nc, err
		}
	}
	return p, nil
}

// HTTP returns the pool's *http.Transport. Do not modify it.
func (p *Pool) HTTP() *http.Transport { return p.http }

// Close closes the pool's idle connections and marks the connections
// still open as ended by the run, for when they close later.
func (p *Pool) Close() {
	p.Ending()
	p.http.CloseIdleConnections()
}

// Config returns the dialer's configuration with defaults applied.
func (p *Dialer) Config() Config { return p.cfg }

// Now returns the time since the dialer's epoch on the monotonic clock.
// [Conn.Release] takes times on this clock.
func (p *Dialer) Now() time.Duration { return time.Since(p.epoch) }

// At returns the time d on the dialer's clock, with a monotonic reading:
// d.At(d.Now()) reads the clock once where time.Now reads it twice.
func (p *Dialer) At(d time.Duration) time.Time { return p.epoch.Add(d) }

// Since returns t on the dialer's clock.
func (p *Dialer) Since(t time.Time) time.Duration { return t.Sub(p.epoch) }

func (p *Dialer) now() time.Duration              { return time.Since(p.epoch) }
func (p *Dialer) since(t time.Time) time.Duration { return t.Sub(p.epoch) }

// Ending marks the connections still open as ended by the run, for when
// they close.
func (p *Dialer) Ending() { p.ending.Store(true) }

// PutIdleFailed records that c could not be kept idle after a request and
// will be closed for reason r.
func (p *Dialer) PutIdleFailed(c *Conn, r metrics.CloseReason) {
	c.SetCloseReason(r)
	p.obs.PutIdleFailed(r)
}

func (p *Dialer) closed(c *Conn) {
	p.mu.Lock()
	delete(p.open, c)
	p.mu.Unlock()
	rx, tx := c.TakeBytes()
	p.obs.ConnClosed(c, c.closeReason(p), rx, tx)
}

// Dialing is the number of dials started and not yet ended: neither
// counted as a connection nor failed. At a run's end, the connections
// they make are still counted: wait for none before the last snapshot.
func (p *Dialer) Dialing() int64 { return p.dialing.Load() }

func (p *Dialer) dialed(c *Conn) {
	p.dialing.Add(-1)
	p.mu.Lock()
	p.open[c] = struct{}{}
	p.mu.Unlock()
	p.obs.ConnDialed(c)
}

// Conns returns the connections open now and how many of them carry a
// request (the rest are idle). Meant for once-a-second sampling: it visits
// every open connection.
func (p *Dialer) Conns() (open, active int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for c := range p.open {
		if c.InUse() {
			active++
		}
	}
	return len(p.open), active
}

// dial resolves addr and connects to the first address that answers,
// timing the two phases separately.
func (p *Dialer) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	c, err := p.dialTCP(ctx, network, addr, false)
	if err != nil {
		return nil, err
	}
	p.dialed(c)
	return c, nil
}

// dialDetached is the http.Transport's dial. The Transport cancels the
// dials it no longer waits for (CloseIdleConnections, at the run's end);
// a connect the server had just accepted would then be closed uncounted,
// and the count of connections dialed would miss one the server saw. So
// the connect itself is not canceled (DialTimeout bounds it), and a
// connection that completes after the Transport gave up is counted and
// closed as unused.
func (p *Dialer) dialDetached(ctx context.Context, network, addr string) (net.Conn, error) {
	c, err := p.dialTCP(ctx, network, addr, true)
	if err != nil {
		return nil, err
	}
	p.dialed(c)
	if err := ctx.Err(); err != nil {
		c.SetCloseReason(metrics.CloseUnused)
		_ = c.Close()
		return nil, err
	}
	return c, nil
}

func (p *Dialer) dialTLSDetached(ctx context.Context, network, addr string) (net.Conn, error) {
	host, _, _ := net.SplitHostPort(addr)
	return p.dialTLSName(ctx, network, addr, host, true)
}

func (p *Dialer) dialTCP(ctx context.Context, network, addr string, detach bool) (*Conn, error) {
	ctx, cancel := context.WithTimeout(ctx, p.cfg.DialTimeout)
	defer cancel()
	connectCtx := ctx
	if detach {
		var cancel context.CancelFunc
		connectCtx, cancel = context.WithTimeout(context.WithoutCancel(ctx), p.cfg.DialTimeout)
		defer cancel()
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, err
	}
	// Until the connection is counted (dialed), or the dial fails here.
	p.dialing.Add(1)
	ok := false
	defer func() {
		if !ok {
			p.dialing.Add(-1)
		}
	}()
	start := time.Now()
	var dns time.Duration
	var ips []netip.Addr
	if ip, err := netip.ParseAddr(host); err == nil {
		if !p.cfg.IPFamily.Has(ip) {
			return nil, &IPFamilyError{Family: p.cfg.IPFamily, Addr: addr}
		}
		ips = []netip.Addr{ip}
	} else if given, ok := p.resolved(host, port); ok {
		ips = given // --resolve: no lookup
	} else if ips, dns, err = p.resolver.Resolve(ctx, host); err != nil {
		return nil, err
	}
	connectStart := time.Now()
	var nc net.Conn
	nd := &p.net
	la, bound := p.localAddr()
	if bound {
		if ips = sameFamily(ips, la); len(ips) == 0 {
			return nil, &FamilyError{Local: la, Addr: addr}
		}
		d := p.net
		d.LocalAddr = &net.TCPAddr{IP: la.AsSlice()}
		nd = &d
	}
	for _, ip := range ips {
		nc, err = nd.DialContext(connectCtx, network, net.JoinHostPort(ip.Unmap().String(), port))
		if err == nil || connectCtx.Err() != nil || ctx.Err() != nil {
			break
		}
	}
	if err != nil {
		return nil, err
	}
	ok = true
	c := &Conn{
		Conn:     nc,
		DNS:      dns,
		Connect:  time.Since(connectStart),
		DialedAt: start,
		MaxAge:   p.cfg.connLifetime(rand.Float64()),
		pool:     p,
	}
	if bound {
		c.Local = la
	}
	if p.H2C() {
		c.Proto = metrics.ProtoH2 // prior knowledge; TLS's ALPN decides for https
	}
	return c, nil
}

// Dial connects to addr (host:port), resolving the host, and for TLS runs
// the handshake with serverName. It returns the counted TCP connection and
// the connection to use: the same one, or the TLS session over it.
func (p *Dialer) Dial(ctx context.Context, addr string, useTLS bool, serverName string) (*Conn, net.Conn, error) {
	if !useTLS {
		c, err := p.dial(ctx, "tcp", addr)
		if err != nil {
			return nil, nil, err
		}
		return c.(*Conn), c, nil
	}
	tc, err := p.dialTLSName(ctx, "tcp", addr, serverName, false)
	if err != nil {
		return nil, nil, err
	}
	return ConnOf(tc), tc, nil
}

// dialTLSName dials like dial, then runs the TLS handshake with host over
// the counted connection, so that its bytes are wire bytes and its time is
// the connection's TLS phase.
func (p *Dialer) dialTLSName(ctx context.Context, network, addr, host string, detach bool) (net.Conn, error) {
	c, err := p.dialTCP(ctx, network, addr, detach)
	if err != nil {
		return nil, err
	}
	return p.tlsOver(ctx, c, c, host)
}
