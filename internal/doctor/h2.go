package doctor

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"strings"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"

	"github.com/faya-load/faya/diagnose"
	"github.com/faya-load/faya/engine"
	"github.com/faya-load/faya/metrics"
	"github.com/faya-load/faya/transport"
)

// The HTTP/2 probes' defaults: the GOAWAY probe's bounds.
const (
	defaultH2Streams = 10_000
	defaultH2Time    = 3 * time.Second
	// h2Window is the most streams the GOAWAY probe keeps open at once
	// (fewer when the server allows fewer).
	h2Window = 32
)

// H2Settings are the values of the server's first SETTINGS frame. A
// setting the server did not send has its RFC 9113 default (Sent false):
// no limit for the streams and the header list, a 65,535-byte window,
// 16,384-byte frames.
type H2Settings struct {
	MaxConcurrentStreams     uint32 `json:"max_concurrent_streams"`
	MaxConcurrentStreamsSent bool   `json:"max_concurrent_streams_sent"`
	InitialWindowSize        uint32 `json:"initial_window_size"`
	InitialWindowSizeSent    bool   `json:"initial_window_size_sent"`
	MaxFrameSize             uint32 `json:"max_frame_size"`
	MaxFrameSizeSent         bool   `json:"max_frame_size_sent"`
	MaxHeaderListSize        uint32 `json:"max_header_list_size"`
	MaxHeaderListSizeSent    bool   `json:"max_header_list_size_sent"`
}

// H2Report is what the HTTP/2 probes found and the pool recommended for
// HTTP/2 (nil in a [Report] whose probes did not run).
type H2Report struct {
	// ALPN lists the protocols the server took when each was offered
	// alone by ALPN ("h2", "http/1.1"; https only). ALPNIgnored says a
	// handshake completed with no protocol chosen: HTTP/1.1 without ALPN
	// (Go's TLS server answers so to an http/1.1 it does not list).
	ALPN        []string `json:"alpn"`
	ALPNIgnored bool     `json:"alpn_ignored,omitempty"`
	// H2C says an http URL's server answered the HTTP/2 connection
	// preface (prior knowledge) with its SETTINGS.
	H2C bool `json:"h2c,omitempty"`
	// Speaks says the server speaks HTTP/2 (ALPN h2, or h2c); the
	// settings, the GOAWAY probe and the pool are there only then.
	Speaks bool `json:"speaks_h2"`
	// Why says why it does not, or why a probe could not run.
	Why string `json:"why,omitempty"`

	Settings *H2Settings `json:"settings,omitempty"`

	// The GOAWAY probe: at most ProbeStreams streams on one connection,
	// for at most ProbeTime. Streams counts those answered; GoAway says
	// the server sent a GOAWAY, with its last-stream-id and error code,
	// after GoAwayAfter streams ((last-stream-id+1)/2: the client's
	// streams are odd). Ended says how the probe ended: "goaway",
	// "streams" (the cap), "time", "closed" (the server closed the
	// connection without a GOAWAY) or "error".
	ProbeStreams int64         `json:"probe_streams"`
	ProbeTime    time.Duration `json:"probe_time_ns"`
	Streams      int64         `json:"streams"`
	Refused      int64         `json:"refused_streams,omitempty"`
	GoAway       bool          `json:"goaway"`
	LastStreamID uint32        `json:"goaway_last_stream_id,omitempty"`
	GoAwayCode   string        `json:"goaway_code,omitempty"`
	GoAwayAfter  int64         `json:"goaway_after_streams,omitempty"`
	Ended        string        `json:"ended"`

	// The recommended pool: Concurrency requests at once (the
	// saturation ladder's) over Conns connections of at most
	// StreamsPerConn streams each, within the server's
	// MAX_CONCURRENT_STREAMS.
	Concurrency    int `json:"concurrency,omitempty"`
	Conns          int `json:"max_conns_per_host,omitempty"`
	StreamsPerConn int `json:"h2_max_streams,omitempty"`
	// Check is that pool run over HTTP/2 (--http 2) at Concurrency, and
	// H1 the saturation step at the same concurrency, to compare.
	Check *Step `json:"-"`
	H1    *Step `json:"-"`
	// Ladder is the saturation ladder climbed over HTTP/2, when none of
	// the HTTP/1.1 ladder's steps succeeded (the concurrency is then
	// its recommendation).
	Ladder []Step `json:"-"`

	url *url.URL
}

// h2Bounds are the GOAWAY probe's bounds with the defaults.
func (o Options) h2Bounds() (int64, time.Duration) {
	n, d := o.H2Streams, o.H2Time
	if n <= 0 {
		n = defaultH2Streams
	}
	if d <= 0 {
		d = defaultH2Time
	}
	return n, d
}

// h2Plan is the HTTP/2 probes' part of the plan.
func (o Options) h2Plan() string {
	n, d := o.h2Bounds()
	return fmt.Sprintf("\n  5. HTTP/2: h2 and http/1.1 offered by ALPN one at a time (h2c by prior knowledge on http), the server's SETTINGS; "+
		"then one connection sending at most %d streams (%d at once) or for %v, to see after how many the server sends GOAWAY; "+
		"then the recommended HTTP/2 pool run %d times at the recommended concurrency (only when the server speaks HTTP/2; "+
		"when no step of the HTTP/1.1 ladder succeeded, the ladder of step 3 over HTTP/2 instead)",
		n, h2Window, d, o.Repeats)
}

// probeH2 runs the HTTP/2 probes and the check of the recommended pool.
// Failures to connect are data (Why); it fails only when the check's run
// cannot be made.
func (o Options) probeH2(ctx context.Context, r *Report) (*H2Report, error) {
	u, err := url.Parse(o.URL)
	if err != nil {
		return nil, err
	}
	n, d := o.h2Bounds()
	h := &H2Report{ProbeStreams: n, ProbeTime: d, ALPN: []string{}, url: u}
	var c net.Conn
	if u.Scheme == "https" {
		for _, proto := range []string{"h2", "http/1.1"} {
			tc, got, err := o.dialALPN(ctx, u, proto)
			switch {
			case errors.Is(err, errALPNRefused):
			case err != nil:
				if h.Why == "" {
					h.Why = fmt.Sprintf("ALPN %s: %v", proto, err)
				}
			case got == proto:
				h.ALPN = append(h.ALPN, proto)
			case got == "":
				h.ALPNIgnored = true
			}
			if err == nil && got == "h2" {
				c = tc
			} else if tc != nil {
				_ = tc.Close()
			}
		}
		if c == nil {
			if h.Why == "" || len(h.ALPN) > 0 {
				h.Why = "the server did not take h2 by ALPN"
			}
			return h, nil
		}
		h.Why = ""
	} else {
		nc, err := (&net.Dialer{Timeout: o.Timeout}).DialContext(ctx, "tcp", hostPort(u))
		if err != nil {
			h.Why = fmt.Sprintf("h2c: %v", err)
			return h, nil
		}
		c = nc
	}
	defer c.Close()
	p := newH2Probe(c, u, o)
	if err := p.handshake(o.Timeout); err != nil {
		if u.Scheme == "http" {
			h.Why = fmt.Sprintf("h2c by prior knowledge: %v", err)
		} else {
			h.Why = fmt.Sprintf("h2 after ALPN: %v", err)
		}
		return h, nil
	}
	h.Speaks, h.H2C, h.Settings = true, u.Scheme == "http", &p.settings
	p.goAwayProbe(ctx, h, o.Timeout)
	_ = c.Close()

	if Judge(r.Steps).Best < 0 {
		// No step of the HTTP/1.1 ladder succeeded (a server of HTTP/2
		// only): the ladder is climbed over HTTP/2 instead.
		return h, o.h2Ladder(ctx, h)
	}
	h.recommend(r.MaxConnsPerHost)
	for i := range r.Steps {
		if r.Steps[i].Concurrency == h.Concurrency {
			h.H1 = &r.Steps[i]
		}
	}
	if ctx.Err() == nil {
		check, err := o.h2Step(ctx, h)
		if err != nil {
			return nil, err
		}
		h.Check = &check
	}
	return h, nil
}

// h2Ladder climbs the saturation ladder over HTTP/2, each step on the
// pool recommended for its concurrency, and keeps the step Judge
// recommends as the check (Ladder holds them all).
func (o Options) h2Ladder(ctx context.Context, h *H2Report) error {
	for c := 1; c <= o.MaxConcurrency && ctx.Err() == nil; c *= 2 {
		h.recommend(c)
		step, err := o.h2Step(ctx, h)
		if err != nil {
			return err
		}
		h.Ladder = append(h.Ladder, step)
		if Judge(h.Ladder).Stop {
			break
		}
	}
	v := Judge(h.Ladder)
	h.recommend(v.Recommend)
	for i := range h.Ladder {
		if h.Ladder[i].Concurrency == v.Recommend {
			h.Check = &h.Ladder[i]
		}
	}
	return nil
}

// recommend sizes the HTTP/2 pool for concurrency c: enough connections
// that none carries more streams than the server allows, the streams
// spread evenly over them, and never fewer than diagnose.MinPool
// connections. With a cap of one, a connection the server ends (GOAWAY:
// nginx's keepalive_requests, a restart) still counts against the cap
// until its last stream is answered, and every new request waits for it
// to close and for the replacement's dial; a second connection allowed is
// the replacement, dialed while the first drains. The streams per
// connection stay those of the connections needed, so the spare carries
// nothing until a connection goes away.
func (h *H2Report) recommend(c int) {
	c = max(c, 1)
	need := 1
	if s := h.Settings; s != nil && s.MaxConcurrentStreamsSent && s.MaxConcurrentStreams > 0 {
		m := int(s.MaxConcurrentStreams)
		need = (c + m - 1) / m
	}
	h.Concurrency, h.Conns, h.StreamsPerConn = c, max(need, diagnose.MinPool), (c+need-1)/need
}

// h2Step runs the recommended pool over HTTP/2, Repeats times.
func (o Options) h2Step(ctx context.Context, h *H2Report) (Step, error) {
	pool := transport.Config{HTTP: transport.HTTP2, MaxConnsPerHost: h.Conns, H2MaxStreams: h.StreamsPerConn}
	step := Step{Concurrency: h.Concurrency}
	all := &metrics.Snapshot{}
	for range o.Repeats {
		if ctx.Err() != nil {
			break
		}
		res, err := o.run(ctx, engine.Executor{Type: engine.VUs, VUs: h.Concurrency, Iterations: o.StepRequests, Duration: o.StepTime}, pool)
		if err != nil {
			return Step{}, err
		}
		all.Merge(res.Total)
		rps := 0.0
		if res.Duration > 0 {
			rps = float64(res.Total.Requests) / res.Duration.Seconds()
		}
		step.Runs = append(step.Runs, rps)
	}
	lat := metrics.DistOf(all.Hist(metrics.Latency))
	step.RPS, step.P50, step.P99 = step.median(), lat.P50, lat.P99
	step.Requests, step.Errors, step.Dialed = all.Requests, all.Errors+all.HTTPErrors, all.Dialed
	return step, nil
}

func hostPort(u *url.URL) string {
	if u.Port() != "" {
		return u.Host
	}
	if u.Scheme == "https" {
		return net.JoinHostPort(u.Hostname(), "443")
	}
	return net.JoinHostPort(u.Hostname(), "80")
}

// errALPNRefused is a TLS handshake the server ended with the
// no_application_protocol alert: it does not take the protocol offered.
var errALPNRefused = errors.New("the server refused the protocol offered by ALPN")

// dialALPN makes a TLS connection offering proto alone by ALPN and
// returns it with the protocol the server picked ("": none).
func (o Options) dialALPN(ctx context.Context, u *url.URL, proto string) (*tls.Conn, string, error) {
	d := &tls.Dialer{NetDialer: &net.Dialer{Timeout: o.Timeout}, Config: &tls.Config{
		ServerName: u.Hostname(), NextProtos: []string{proto}, InsecureSkipVerify: o.Insecure, //nolint:gosec // --insecure asked for it
	}}
	dctx, cancel := context.WithTimeout(ctx, o.Timeout)
	defer cancel()
	c, err := d.DialContext(dctx, "tcp", hostPort(u))
	if err != nil {
		var alert tls.AlertError
		if errors.As(err, &alert) && alert == 120 { // no_application_protocol
			return nil, "", errALPNRefused
		}
		return nil, "", err
	}
	tc := c.(*tls.Conn)
	return tc, tc.ConnectionState().NegotiatedProtocol, nil
}

// h2Probe is one raw HTTP/2 connection of the probes.
type h2Probe struct {
	c        net.Conn
	br       *bufio.Reader
	fr       *http2.Framer
	u        *url.URL
	hbuf     bytes.Buffer
	enc      *hpack.Encoder
	header   [][2]string
	settings H2Settings
	unacked  uint32 // DATA bytes not yet given back to the connection window
}

func newH2Probe(c net.Conn, u *url.URL, o Options) *h2Probe {
	p := &h2Probe{c: c, br: bufio.NewReader(c), u: u}
	p.fr = http2.NewFramer(c, p.br)
	p.fr.ReadMetaHeaders = hpack.NewDecoder(4096, nil)
	p.fr.MaxHeaderListSize = 1 << 20
	p.enc = hpack.NewEncoder(&p.hbuf)
	for name, vs := range o.Header {
		k := strings.ToLower(name)
		switch k {
		case "host", "connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade", "te":
			continue
		}
		for _, v := range vs {
			p.header = append(p.header, [2]string{k, v})
		}
	}
	if h := o.Header.Get("Host"); h != "" {
		p.u = &url.URL{Scheme: u.Scheme, Host: h, Path: u.Path, RawPath: u.RawPath, RawQuery: u.RawQuery}
	}
	return p
}

// The client's receive windows: large, so that the answers never wait
// for the probe.
const probeWindow = 1 << 30

// handshake writes the preface and the client's SETTINGS and reads the
// server's first SETTINGS (an HTTP/1.x answer is not HTTP/2).
func (p *h2Probe) handshake(timeout time.Duration) error {
	_ = p.c.SetDeadline(time.Now().Add(timeout))
	defer func() { _ = p.c.SetDeadline(time.Time{}) }()
	// One write: a server that closes on the preface has its answer read
	// below rather than a broken pipe.
	var out bytes.Buffer
	out.WriteString(http2.ClientPreface)
	fw := http2.NewFramer(&out, nil)
	_ = fw.WriteSettings(http2.Setting{ID: http2.SettingEnablePush, Val: 0},
		http2.Setting{ID: http2.SettingInitialWindowSize, Val: probeWindow})
	_ = fw.WriteWindowUpdate(0, probeWindow)
	_, werr := p.c.Write(out.Bytes())
	if b, err := p.br.Peek(5); err == nil && string(b) == "HTTP/" {
		line, _ := p.br.ReadString('\n')
		return fmt.Errorf("the server answered in HTTP/1.x (%q)", strings.TrimSpace(line))
	}
	f, err := p.fr.ReadFrame()
	if err != nil {
		if werr != nil {
			return werr
		}
		if errors.Is(err, io.EOF) {
			return errors.New("the server closed the connection on the HTTP/2 preface")
		}
		return err
	}
	sf, ok := f.(*http2.SettingsFrame)
	if !ok || sf.IsAck() {
		return fmt.Errorf("the server's first frame was %v, not SETTINGS", f.Header().Type)
	}
	s := H2Settings{InitialWindowSize: 65_535, MaxFrameSize: 16_384}
	_ = sf.ForeachSetting(func(st http2.Setting) error {
		switch st.ID {
		case http2.SettingMaxConcurrentStreams:
			s.MaxConcurrentStreams, s.MaxConcurrentStreamsSent = st.Val, true
		case http2.SettingInitialWindowSize:
			s.InitialWindowSize, s.InitialWindowSizeSent = st.Val, true
		case http2.SettingMaxFrameSize:
			s.MaxFrameSize, s.MaxFrameSizeSent = st.Val, true
		case http2.SettingMaxHeaderListSize:
			s.MaxHeaderListSize, s.MaxHeaderListSizeSent = st.Val, true
		}
		return nil
	})
	p.settings = s
	return p.fr.WriteSettingsAck()
}

// block is the HPACK header block of a GET of the probe's URL.
func (p *h2Probe) block() []byte {
	p.hbuf.Reset()
	path := p.u.RequestURI()
	for _, f := range [][2]string{{":method", "GET"}, {":scheme", p.u.Scheme}, {":authority", p.u.Host}, {":path", path}} {
		_ = p.enc.WriteField(hpack.HeaderField{Name: f[0], Value: f[1]})
	}
	for _, f := range p.header {
		_ = p.enc.WriteField(hpack.HeaderField{Name: f[0], Value: f[1]})
	}
	return p.hbuf.Bytes()
}

// goAwayProbe sends GETs on the connection, a window of them at once,
// until the server sends a GOAWAY, ProbeStreams were sent, ProbeTime is
// over or the connection ends; then it waits (at most timeout) for the
// answers of the streams sent, and counts those answered.
// Long: one loop over the connection's frames, each frame type a case
// that updates the probe's counts, as the server's answers come.
func (p *h2Probe) goAwayProbe(ctx context.Context, h *H2Report, timeout time.Duration) {
	window := h2Window
	if s := p.settings; s.MaxConcurrentStreamsSent {
		window = min(window, int(s.MaxConcurrentStreams))
	}
	if window < 1 {
		h.Ended, h.Why = "error", "the server allows 0 concurrent streams"
		return
	}
	deadline := time.Now().Add(h.ProbeTime)
	_ = p.c.SetDeadline(deadline.Add(timeout))
	stop := context.AfterFunc(ctx, func() { _ = p.c.SetDeadline(time.Now()) })
	defer stop()
	open := map[uint32]bool{}
	var next uint32 = 1
	var sent int64
	sending := true
	for {
		for sending && len(open) < window {
			if sent >= h.ProbeStreams {
				sending, h.Ended = false, "streams"
				break
			}
			if time.Now().After(deadline) {
				sending, h.Ended = false, "time"
				break
			}
			if err := p.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: next, BlockFragment: p.block(), EndStream: true, EndHeaders: true}); err != nil {
				h.Ended, h.Why = "error", fmt.Sprintf("writing a request: %v", err)
				return
			}
			open[next] = true
			next += 2
			sent++
		}
		if !sending && len(open) == 0 {
			return
		}
		f, err := p.fr.ReadFrame()
		if err != nil {
			switch {
			case ctx.Err() != nil:
				h.Ended, h.Why = "error", "interrupted"
			case h.GoAway: // the server closed after its GOAWAY
			case h.Ended == "" && errors.Is(err, io.EOF):
				h.Ended = "closed"
			case h.Ended == "":
				h.Ended, h.Why = "error", fmt.Sprintf("reading: %v", err)
			default:
				h.Why = fmt.Sprintf("%d streams unanswered: %v", len(open), err)
			}
			return
		}
		id := f.Header().StreamID
		done := false
		switch f := f.(type) {
		case *http2.MetaHeadersFrame:
			done = f.StreamEnded()
		case *http2.DataFrame:
			done = f.StreamEnded()
			p.unacked += f.Header().Length
			if p.unacked >= probeWindow/2 {
				_ = p.fr.WriteWindowUpdate(0, p.unacked)
				p.unacked = 0
			}
		case *http2.RSTStreamFrame:
			if open[id] {
				delete(open, id)
				if f.ErrCode == http2.ErrCodeRefusedStream {
					h.Refused++
				}
			}
		case *http2.GoAwayFrame:
			if !h.GoAway {
				h.GoAway, h.LastStreamID, h.GoAwayCode = true, f.LastStreamID, f.ErrCode.String()
				h.GoAwayAfter = int64(f.LastStreamID+1) / 2
			}
			if h.Ended == "" {
				h.Ended = "goaway"
			}
			sending = false
			// Streams above the last one will not be processed.
			for sid := range open {
				if sid > f.LastStreamID {
					delete(open, sid)
				}
			}
		case *http2.PingFrame:
			if !f.IsAck() {
				_ = p.fr.WritePing(true, f.Data)
			}
		case *http2.SettingsFrame:
			if !f.IsAck() {
				_ = p.fr.WriteSettingsAck()
			}
		}
		if done && open[id] {
			delete(open, id)
			h.Streams++
		}
	}
}

// Measured reports whether HTTP/2 was measured: the server speaks it and
// the recommended pool ran over HTTP/2 with answers and under 1% errors.
// Only then does the report offer an HTTP/2 pool (and Go's
// ForceAttemptHTTP2).
func (h *H2Report) Measured() bool {
	return h != nil && h.Speaks && h.Check != nil && h.Check.Requests > 0 && !h.Check.erred()
}

// Flags is the recommended HTTP/2 pool as faya flags.
func (h *H2Report) Flags() string {
	return fmt.Sprintf("--http 2 --max-conns-per-host %d --h2-max-streams %d", h.Conns, h.StreamsPerConn)
}

// streamsNote says where the connections' count comes from.
func (h *H2Report) streamsNote() string {
	if s := h.Settings; s != nil && s.MaxConcurrentStreamsSent {
		return fmt.Sprintf("%d concurrent requests over connections of at most %d streams (the server's MAX_CONCURRENT_STREAMS)", h.Concurrency, s.MaxConcurrentStreams)
	}
	return fmt.Sprintf("%d concurrent requests; the server set no MAX_CONCURRENT_STREAMS", h.Concurrency)
}

// GoTransportH2 is the recommended HTTP/2 pool as a Go http.Transport
// literal; "" unless HTTP/2 was measured ([H2Report.Measured]).
func (r *Report) GoTransportH2() string {
	h := r.H2
	if !h.Measured() {
		return ""
	}
	enable := "ForceAttemptHTTP2:     true, // the server took h2 by ALPN, and this pool was measured over HTTP/2"
	if h.H2C {
		enable = "Protocols:             func() *http.Protocols { p := new(http.Protocols); p.SetUnencryptedHTTP2(true); return p }(), // h2c by prior knowledge: the server answered it, and this pool was measured over it"
	}
	return fmt.Sprintf(`&http.Transport{
	Proxy:                 http.ProxyFromEnvironment,
	DialContext:           (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
	%s
	MaxConnsPerHost:       %d, // %s
	MaxIdleConnsPerHost:   %d,
	IdleConnTimeout:       %s,
	HTTP2: &http.HTTP2Config{
		StrictMaxConcurrentRequests: false, // when every connection's streams are busy, open another (up to MaxConnsPerHost) rather than wait
	},
	TLSHandshakeTimeout:   10 * time.Second,
	ResponseHeaderTimeout: 30 * time.Second,
}`, enable, h.Conns, h.streamsNote(), h.Conns, goDuration(r.IdleConnTimeout))
}

func goDuration(d time.Duration) string {
	if d%time.Second == 0 {
		return fmt.Sprintf("%d * time.Second", d/time.Second)
	}
	return fmt.Sprintf("%d * time.Millisecond", d/time.Millisecond)
}

// h2Text writes the HTTP/2 probes' section of the text report.
func (r *Report) h2Text(b *strings.Builder) {
	h := r.H2
	if h == nil {
		return
	}
	fmt.Fprintf(b, "\nHTTP/2\n")
	if h.url != nil && h.url.Scheme == "https" || len(h.ALPN) > 0 || h.ALPNIgnored {
		alpn := strings.Join(h.ALPN, ", ")
		if alpn == "" {
			alpn = "neither"
		}
		fmt.Fprintf(b, "  ALPN (h2 and http/1.1 offered one at a time): the server takes %s", alpn)
		if h.ALPNIgnored {
			fmt.Fprintf(b, "; a handshake completed with no protocol chosen (HTTP/1.1 without ALPN)")
		}
		fmt.Fprintf(b, "\n")
	}
	if h.H2C {
		fmt.Fprintf(b, "  h2c: the server answered the HTTP/2 connection preface (prior knowledge) with its SETTINGS\n")
	}
	if !h.Speaks {
		fmt.Fprintf(b, "  the server does not speak HTTP/2 here: %s\n", h.Why)
		return
	}
	s := h.Settings
	fmt.Fprintf(b, "  SETTINGS: MAX_CONCURRENT_STREAMS %s, INITIAL_WINDOW_SIZE %s, MAX_FRAME_SIZE %s, MAX_HEADER_LIST_SIZE %s\n",
		setting(s.MaxConcurrentStreams, s.MaxConcurrentStreamsSent, "not sent: no limit"),
		setting(s.InitialWindowSize, s.InitialWindowSizeSent, "not sent: 65535"),
		setting(s.MaxFrameSize, s.MaxFrameSizeSent, "not sent: 16384"),
		setting(s.MaxHeaderListSize, s.MaxHeaderListSizeSent, "not sent: no limit"))
	switch {
	case h.GoAway:
		fmt.Fprintf(b, "  GOAWAY: the server ends a connection after %d streams (last-stream-id %d, %s; %d answered on the probe's connection)",
			h.GoAwayAfter, h.LastStreamID, h.GoAwayCode, h.Streams)
		if h.GoAwayCode == "NO_ERROR" {
			fmt.Fprintf(b, ": a per-connection request limit (nginx: keepalive_requests %d); Go's client has no setting for it", h.GoAwayAfter)
		}
		fmt.Fprintf(b, "\n")
	case h.Ended == "streams":
		fmt.Fprintf(b, "  GOAWAY: none within %d streams on one connection (the probe's cap): no per-connection limit up to there\n", h.Streams)
	case h.Ended == "time":
		fmt.Fprintf(b, "  GOAWAY: none within %v on one connection (%d streams answered; the probe's time cap)\n", h.ProbeTime, h.Streams)
	case h.Ended == "closed":
		fmt.Fprintf(b, "  the server closed the connection without a GOAWAY after %d streams\n", h.Streams)
	default:
		fmt.Fprintf(b, "  GOAWAY probe: %s after %d streams\n", h.Why, h.Streams)
	}
	if h.Refused > 0 {
		fmt.Fprintf(b, "  %d streams refused (REFUSED_STREAM)\n", h.Refused)
	}
	if c := h.Check; c != nil {
		for _, s := range h.Ladder {
			fmt.Fprintf(b, "  HTTP/2 ladder (the HTTP/1.1 one had no successful step): %d concurrent requests: %.0f req/s (%.0f-%.0f), %d errors\n", s.Concurrency, s.RPS, s.lo(), s.hi(), s.Errors)
		}
		fmt.Fprintf(b, "  the pool below (%s of at most %d streams) at %d concurrent requests over HTTP/2: %.0f req/s (median of %d runs, %.0f-%.0f), p50 %s, p99 %s, %d errors, %d connections dialed",
			plural(h.Conns, "connection"), h.StreamsPerConn, h.Concurrency, c.RPS, len(c.Runs), c.lo(), c.hi(), c.P50.Round(time.Microsecond), c.P99.Round(time.Microsecond), c.Errors, c.Dialed)
		if h.H1 != nil {
			fmt.Fprintf(b, "; HTTP/1.1 at %d: %.0f req/s", h.H1.Concurrency, h.H1.RPS)
		}
		fmt.Fprintf(b, "\n")
		if c.erred() {
			fmt.Fprintf(b, "  the HTTP/2 run had errors (%d of %d requests): no HTTP/2 pool is recommended\n", c.Errors, c.Requests)
		}
	}
}

func setting(v uint32, sent bool, otherwise string) string {
	if !sent {
		return "(" + otherwise + ")"
	}
	return fmt.Sprint(v)
}

// h2Pool writes the recommended HTTP/2 pool, when HTTP/2 was measured.
func (r *Report) h2Pool(b *strings.Builder) {
	if !r.H2.Measured() {
		return
	}
	fmt.Fprintf(b, "\nRecommended pool for HTTP/2: %s\n  faya run %s URL\n\n  In Go:\n", r.H2.streamsNote(), r.H2.Flags())
	for _, line := range strings.Split(r.GoTransportH2(), "\n") {
		fmt.Fprintf(b, "  %s\n", line)
	}
}
