package transport

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"
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
	ConnClosed(c *Conn, reason CloseReason, received, sent int64)
	// PutIdleFailed is called when net/http could not return a connection
	// to the idle pool after a request.
	PutIdleFailed(reason CloseReason)
}

// Pool is one tuned connection pool: a *http.Transport whose dialer counts,
// times and labels every connection. Create it with [New]; it is safe for
// concurrent use and must not be reconfigured after New returns.
type Pool struct {
	http     *http.Transport
	cfg      Config
	obs      Observer
	epoch    time.Time
	net      net.Dialer
	resolver *net.Resolver
	tls      *tls.Config
	ending   atomic.Bool

	mu   sync.Mutex
	open map[*Conn]struct{} // connections open now
}

// Option injects behaviour into a Pool (configuration lives in Config).
type Option func(*Pool)

// WithEpoch sets the start of the pool's clock ([Pool.Now]), so that
// several pools, and the engine's schedule, share one clock. The default
// is the time New is called.
func WithEpoch(t time.Time) Option { return func(p *Pool) { p.epoch = t } }

// New builds a Pool from cfg (defaults applied) reporting to obs.
// HTTP/2 is not negotiated: every connection is HTTP/1.1, so that the pool
// limits mean what they say and each connection is one TCP stream.
func New(cfg Config, obs Observer, opts ...Option) (*Pool, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("transport config: %w", err)
	}
	if obs == nil {
		return nil, errors.New("transport: nil Observer")
	}
	cfg = cfg.WithDefaults()
	p := &Pool{
		cfg:      cfg,
		obs:      obs,
		open:     map[*Conn]struct{}{},
		epoch:    time.Now(),
		net:      net.Dialer{KeepAlive: 30 * time.Second},
		resolver: net.DefaultResolver,
		tls: &tls.Config{
			InsecureSkipVerify: cfg.InsecureSkipVerify, //nolint:gosec // the user asked for it with --insecure
			NextProtos:         []string{"http/1.1"},
		},
	}
	for _, o := range opts {
		o(p)
	}
	p.http = &http.Transport{
		DialContext:           p.dial,
		DialTLSContext:        p.dialTLS,
		MaxConnsPerHost:       limit(cfg.MaxConnsPerHost, true),
		MaxIdleConns:          limit(cfg.MaxIdleConns, true),
		MaxIdleConnsPerHost:   limit(cfg.MaxIdleConnsPerHost, false),
		IdleConnTimeout:       cfg.IdleConnTimeout,
		DisableKeepAlives:     cfg.DisableKeepAlives,
		ResponseHeaderTimeout: cfg.ResponseHeaderTimeout,
		TLSHandshakeTimeout:   cfg.TLSHandshakeTimeout,
		// A load generator measures what the server sends; it does not ask
		// for gzip behind the user's back nor spend CPU inflating it.
		DisableCompression: true,
	}
	return p, nil
}

// Config returns the pool's configuration with defaults applied.
func (p *Pool) Config() Config { return p.cfg }

// HTTP returns the pool's *http.Transport. Do not modify it.
func (p *Pool) HTTP() *http.Transport { return p.http }

// Now returns the time since the pool was created on the monotonic clock.
// [Conn.Release] takes times on this clock.
func (p *Pool) Now() time.Duration { return time.Since(p.epoch) }

func (p *Pool) now() time.Duration              { return time.Since(p.epoch) }
func (p *Pool) since(t time.Time) time.Duration { return t.Sub(p.epoch) }

// Close closes the pool's idle connections and marks the connections
// still open as ended by the run, for when they close later.
func (p *Pool) Close() {
	p.ending.Store(true)
	p.http.CloseIdleConnections()
}

func (p *Pool) closed(c *Conn) {
	p.mu.Lock()
	delete(p.open, c)
	p.mu.Unlock()
	rx, tx := c.TakeBytes()
	p.obs.ConnClosed(c, c.closeReason(p), rx, tx)
}

func (p *Pool) dialed(c *Conn) {
	p.mu.Lock()
	p.open[c] = struct{}{}
	p.mu.Unlock()
	p.obs.ConnDialed(c)
}

// Conns returns the connections open now and how many of them carry a
// request (the rest are idle). Meant for once-a-second sampling: it visits
// every open connection.
func (p *Pool) Conns() (open, active int) {
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
func (p *Pool) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	c, err := p.dialTCP(ctx, network, addr)
	if err != nil {
		return nil, err
	}
	p.dialed(c)
	return c, nil
}

func (p *Pool) dialTCP(ctx context.Context, network, addr string) (*Conn, error) {
	ctx, cancel := context.WithTimeout(ctx, p.cfg.DialTimeout)
	defer cancel()
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, err
	}
	start := time.Now()
	var dns time.Duration
	var ips []netip.Addr
	if ip, err := netip.ParseAddr(host); err == nil {
		ips = []netip.Addr{ip}
	} else {
		ips, err = p.resolver.LookupNetIP(ctx, "ip", host)
		dns = time.Since(start)
		if err != nil {
			return nil, err
		}
	}
	connectStart := time.Now()
	var nc net.Conn
	for _, ip := range ips {
		nc, err = p.net.DialContext(ctx, network, net.JoinHostPort(ip.Unmap().String(), port))
		if err == nil || ctx.Err() != nil {
			break
		}
	}
	if err != nil {
		return nil, err
	}
	return &Conn{
		Conn:     nc,
		DNS:      dns,
		Connect:  time.Since(connectStart),
		DialedAt: start,
		pool:     p,
	}, nil
}

// dialTLS dials like dial, then runs the TLS handshake over the counted
// connection, so that its bytes are wire bytes and its time is the
// connection's TLS phase.
func (p *Pool) dialTLS(ctx context.Context, network, addr string) (net.Conn, error) {
	c, err := p.dialTCP(ctx, network, addr)
	if err != nil {
		return nil, err
	}
	host, _, _ := net.SplitHostPort(addr)
	conf := p.tls.Clone()
	conf.ServerName = host
	hctx, cancel := context.WithTimeout(ctx, p.cfg.TLSHandshakeTimeout)
	defer cancel()
	start := time.Now()
	tc := tls.Client(c, conf)
	if err := tc.HandshakeContext(hctx); err != nil {
		c.SetCloseReason(CloseOther)
		p.dialed(c) // the server accepted a TCP connection
		_ = c.Close()
		return nil, err
	}
	c.TLS = time.Since(start)
	p.dialed(c)
	return &tlsConn{Conn: tc, c: c}, nil
}
