package inspect

import (
	"context"
	"io"
	"log/slog"
	"math"
	"net"
	"net/http"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/faya-load/faya/internal/sockstat"
	"github.com/faya-load/faya/metrics"
	"github.com/faya-load/faya/transport"
)

// Options configure a [Transport]. The zero value is ready to use.
type Options struct {
	// Name labels the Transport in reports and log records ("" : "inspect").
	Name string
	// Logger receives one record per finding when it becomes true (a
	// warning or an error), checked at most once a second as requests
	// end. nil: no records.
	Logger *slog.Logger
	// SampleEvery makes one dial in this many (after the first 8) record
	// the call stack of the request that dialed, to name the call site in
	// the findings. 0 means 16; a negative value records none.
	SampleEvery int
}

// Transport is an http.RoundTripper over a user's *http.Transport that
// counts what its connection pool does, the way faya's net/http engine
// counts it: dials at the dialer, first use and reuse per connection,
// idle-put refusals by reason, why each connection closed, the phases of
// each request. Create it with [Wrap] (or [NewTransport], [Install]).
type Transport struct {
	http   *http.Transport // the clone, dialing through dialer
	dialer *transport.Dialer
	pool   *transport.Pool // the clock the tracers use
	opts   Options
	group  *group // the accounts it reports into

	sampleCount atomic.Int64
}

// group is the accounts of one or more Transports: the recorder their
// dials, closes and requests go to, the requests in flight, the call
// sites sampled, the hosts dialed.
type group struct {
	rec      *metrics.Recorder
	shard    atomic.Uint32
	inflight atomic.Int64
	peak     atomic.Int64
	cfg      *http.Transport // the pool settings (of the first Transport)
	name     string
	logger   *slog.Logger
	sites    sites // dials
	drops    sites // bodies closed unread

	transports atomic.Int64 // Transports reporting here
	ctxReqs    atomic.Int64 // requests traced by Context
	ctxDials   atomic.Int64

	mu     sync.Mutex
	total  metrics.Snapshot // everything flushed so far
	hosts  map[netip.AddrPort]int
	logged map[string]bool
	lastEv atomic.Int64 // unix ns of the last evaluation for the logger
	evBusy atomic.Bool
}

func newGroup(name string, logger *slog.Logger, cfg *http.Transport) *group {
	if name == "" {
		name = "inspect"
	}
	return &group{rec: metrics.NewRecorder(4), name: name, logger: logger, cfg: cfg,
		hosts: map[netip.AddrPort]int{}, logged: map[string]bool{}}
}

// Wrap returns a Transport that sends through a clone of base (nil:
// http.DefaultTransport's settings) whose dials are counted. Use it in
// place of base; base itself is left as it was.
func Wrap(base *http.Transport, opts Options) *Transport {
	t := newTransport(base, opts, nil)
	return t
}

func newTransport(base *http.Transport, opts Options, g *group) *Transport {
	if base == nil {
		base = http.DefaultTransport.(*http.Transport)
	}
	h := base.Clone()
	if g == nil {
		g = newGroup(opts.Name, opts.Logger, h)
	}
	g.transports.Add(1)
	cfg := transport.Config{
		MaxConnsPerHost:     h.MaxConnsPerHost,
		MaxIdleConnsPerHost: h.MaxIdleConnsPerHost,
		MaxIdleConns:        h.MaxIdleConns,
		IdleConnTimeout:     h.IdleConnTimeout,
		DisableKeepAlives:   h.DisableKeepAlives,
	}
	if cfg.IdleConnTimeout <= 0 {
		cfg.IdleConnTimeout = math.MaxInt64 / 2 // net/http: no limit
	}
	if cfg.MaxIdleConnsPerHost < 0 {
		cfg.MaxIdleConnsPerHost = 0
	}
	d, err := transport.NewDialer(cfg, observer{g}, transport.WithEpoch(epoch))
	if err != nil {
		panic("inspect: " + err.Error()) // the Config above is always valid
	}
	t := &Transport{http: h, dialer: d, pool: &transport.Pool{Dialer: d}, opts: opts, group: g}
	dial := h.DialContext
	if dial == nil {
		nd := &net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}
		dial = nd.DialContext
	}
	h.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		start := time.Now()
		nc, err := dial(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		g.host(nc.RemoteAddr())
		return d.Track(nc, start, time.Since(start)), nil
	}
	if tlsDial := h.DialTLSContext; tlsDial != nil {
		h.DialTLSContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
			start := time.Now()
			nc, err := tlsDial(ctx, network, addr)
			if err != nil {
				return nil, err
			}
			g.host(nc.RemoteAddr())
			return d.Track(nc, start, time.Since(start)), nil
		}
	}
	return t
}

// epoch is the clock every Transport's times are taken on.
var epoch = time.Now()

// HTTP returns the *http.Transport requests go through (the clone of
// base). Configure base before Wrap, not this.
func (t *Transport) HTTP() *http.Transport { return t.http }

// CloseIdleConnections closes the idle connections.
func (t *Transport) CloseIdleConnections() { t.http.CloseIdleConnections() }

// RoundTrip sends req through the wrapped Transport and counts it: its
// connection (dialed, first use or reuse, idle time), its phases, why the
// connection was not kept, and whether its body was read to the end
// before it was closed.
func (t *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	g := t.group
	tr := transport.NewTracer(t.pool)
	start := tr.Start()
	if n := g.inflight.Add(1); n > g.peak.Load() {
		for p := g.peak.Load(); n > p && !g.peak.CompareAndSwap(p, n); p = g.peak.Load() {
		}
	}
	resp, err := t.http.RoundTrip(req.WithContext(tr.Context(req.Context())))
	if fresh, _ := tr.Uses(); fresh > 0 {
		t.sample(&g.sites)
	}
	if err != nil {
		t.finish(tr, start, 0, 0, err)
		return nil, err
	}
	if resp.Body == nil || resp.Body == http.NoBody {
		t.finish(tr, start, resp.StatusCode, 0, nil)
		return resp, nil
	}
	resp.Body = &body{ReadCloser: resp.Body, t: t, tr: tr, start: start, status: resp.StatusCode}
	return resp, nil
}

// sample records the caller's stack in s for some of the calls.
func (t *Transport) sample(s *sites) {
	every := int64(t.opts.SampleEvery)
	if every < 0 {
		return
	}
	if every == 0 {
		every = 16
	}
	if n := t.sampleCount.Add(1); n <= 8 || n%every == 0 {
		s.record(3)
	}
}

// finish records the request's sample once it ended.
func (t *Transport) finish(tr *transport.Tracer, start time.Duration, status int, n int64, err error) {
	g := t.group
	end := t.dialer.Now()
	var s metrics.Sample
	transport.FillTimes(&s, start, end, -1, tr.Finish(end))
	s.Status, s.BodyBytes = status, n
	s.Fresh, s.Reused = tr.Uses()
	s.WasIdle, s.IdleTime = tr.Idle()
	s.Retries, s.Redirects = tr.Retries(), tr.Redirects()
	s.Err = metrics.Classify(err)
	s.BytesReceived, s.BytesSent = tr.Release(end)
	g.rec.Shard(int(g.shard.Add(1))).Record(&s, err)
	g.inflight.Add(-1)
	g.maybeLog()
}

// body counts a response body: read to EOF (the connection can go back
// to the pool) or closed before (it cannot).
type body struct {
	io.ReadCloser
	t      *Transport
	tr     *transport.Tracer
	start  time.Duration
	status int
	n      int64
	done   bool
}

func (b *body) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	b.n += int64(n)
	if err != nil && !b.done {
		b.done = true
		var rerr error
		if err != io.EOF {
			rerr = err
		}
		b.t.finish(b.tr, b.start, b.status, b.n, rerr)
	}
	return n, err
}

func (b *body) Close() error {
	if !b.done {
		// Closed before its end: net/http closes the connection instead
		// of putting it back in the pool.
		if c := b.tr.Conn(); c != nil {
			c.SetCloseReason(metrics.CloseBodyNotDrained)
		}
		b.t.sample(&b.t.group.drops)
	}
	err := b.ReadCloser.Close()
	if !b.done {
		b.done = true
		b.t.finish(b.tr, b.start, b.status, b.n, nil)
	}
	return err
}

// observer forwards a Dialer's connection events to the group's
// recorder, as faya's engine does.
type observer struct{ g *group }

func (o observer) ConnDialed(*transport.Conn) { o.g.rec.ConnDialed() }

func (o observer) ConnClosed(c *transport.Conn, r metrics.CloseReason, received, sent int64) {
	idle, idleClosed := c.ServerIdleClose()
	o.g.rec.ConnClosed(metrics.ClosedConn{
		Reason:       r,
		Requests:     c.Requests(),
		Received:     received,
		Sent:         sent,
		Lifetime:     c.Lifetime(),
		ServerClosed: r == metrics.CloseServer,
		IdleClosed:   idleClosed && r == metrics.CloseServerIdle,
		IdleFor:      idle,
	})
}

func (o observer) PutIdleFailed(r metrics.CloseReason) { o.g.rec.PutIdleFailed(r) }

// host notes a dialed address, with the TIME_WAIT sockets to it before
// its first dial.
func (g *group) host(a net.Addr) {
	ta, ok := a.(*net.TCPAddr)
	if !ok {
		return
	}
	ap := ta.AddrPort()
	g.mu.Lock()
	_, known := g.hosts[ap]
	if !known {
		g.hosts[ap] = -1
	}
	g.mu.Unlock()
	if known {
		return
	}
	if c, err := sockstat.Read(sockstat.ToRemote(ap)); err == nil {
		g.mu.Lock()
		g.hosts[ap] = c.TimeWait
		g.mu.Unlock()
	}
}

// Snapshot returns the accounts so far: requests, connections dialed,
// reused, closed by reason, idle-put refusals, phases. The caller owns
// the copy.
func (t *Transport) Snapshot() *metrics.Snapshot { return t.group.snapshot() }

func (g *group) snapshot() *metrics.Snapshot {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.total.Merge(g.rec.Flush(nil))
	s := g.total.Clone()
	s.MaxOpen = g.total.MaxOpen
	s.VUsBusyMax = g.peak.Load()
	return s
}
