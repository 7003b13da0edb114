package h2

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/faya-load/faya/internal/testserver"
	"github.com/faya-load/faya/metrics"
	"github.com/faya-load/faya/transport"
	"go.uber.org/goleak"
	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
	"golang.org/x/sync/errgroup"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// observer counts the pool's connections and why they closed.
type observer struct {
	mu      sync.Mutex
	dialed  int
	closed  map[metrics.CloseReason]int
	reqs    int64
	putIdle int
}

func (o *observer) ConnDialed(*transport.Conn) {
	o.mu.Lock()
	o.dialed++
	o.mu.Unlock()
}

func (o *observer) ConnClosed(c *transport.Conn, r metrics.CloseReason, _, _ int64) {
	o.mu.Lock()
	if o.closed == nil {
		o.closed = map[metrics.CloseReason]int{}
	}
	o.closed[r]++
	o.reqs += c.Requests()
	o.mu.Unlock()
}

func (o *observer) PutIdleFailed(metrics.CloseReason) {
	o.mu.Lock()
	o.putIdle++
	o.mu.Unlock()
}

func (o *observer) counts() (dialed int, closed map[metrics.CloseReason]int) {
	o.mu.Lock()
	defer o.mu.Unlock()
	m := map[metrics.CloseReason]int{}
	for k, v := range o.closed {
		m[k] = v
	}
	return o.dialed, m
}

// server is an in-process HTTP/2 server (Go's) that counts what it saw:
// connections, requests, and the streams in flight at once.
type server struct {
	URL      string
	ts       *httptest.Server
	conns    atomic.Int64
	requests atomic.Int64
	inflight atomic.Int64
	peak     atomic.Int64
}

type countingListener struct {
	net.Listener
	s *server
}

func (l countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err == nil {
		l.s.conns.Add(1)
	}
	return c, err
}

// startServer starts Go's HTTP/2 server: h2c with prior knowledge, or
// TLS with ALPN h2. cfg, if set, is its HTTP/2 configuration.
func startServer(t testing.TB, useTLS bool, cfg *http.HTTP2Config, h http.HandlerFunc) *server {
	t.Helper()
	s := &server{}
	ts := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.requests.Add(1)
		n := s.inflight.Add(1)
		defer s.inflight.Add(-1)
		for {
			p := s.peak.Load()
			if n <= p || s.peak.CompareAndSwap(p, n) {
				break
			}
		}
		if r.ProtoMajor != 2 {
			http.Error(w, "not HTTP/2", http.StatusHTTPVersionNotSupported)
			return
		}
		h(w, r)
	}))
	ts.Listener = countingListener{ts.Listener, s}
	ts.Config.HTTP2 = cfg
	if useTLS {
		ts.EnableHTTP2 = true
		ts.StartTLS()
	} else {
		var p http.Protocols
		p.SetUnencryptedHTTP2(true)
		ts.Config.Protocols = &p
		ts.Start()
	}
	t.Cleanup(ts.Close)
	s.ts, s.URL = ts, ts.URL
	return s
}

func ok(w http.ResponseWriter, r *http.Request) {
	_, _ = io.Copy(io.Discard, r.Body)
	w.Header().Set("Content-Type", "text/plain")
	_, _ = io.WriteString(w, "ok\n")
}

func newPool(t testing.TB, cfg transport.Config, maxStreams int) (*Pool, *observer) {
	t.Helper()
	o := &observer{}
	cfg.HTTP = transport.HTTP2
	d, err := transport.NewDialer(cfg, o)
	if err != nil {
		t.Fatal(err)
	}
	p, err := NewPool(d, Options{MaxStreams: maxStreams})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		p.Close()
		waitClosed(t, o)
	})
	return p, o
}

// waitClosed waits (bounded) until every connection dialed was reported
// closed.
func waitClosed(t testing.TB, o *observer) {
	for range 500 {
		o.mu.Lock()
		n := 0
		for _, v := range o.closed {
			n += v
		}
		done := n == o.dialed
		o.mu.Unlock()
		if done {
			return
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func mustPrepare(t testing.TB, method, url string, body []byte) *Request {
	t.Helper()
	r, err := Prepare(method, url, nil, body)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// run sends n requests from vus clients and returns their results and
// errors, in order.
func run(p *Pool, vus, n int, req *Request, setup func(*Client)) ([]Result, []error) {
	res := make([]Result, n)
	errs := make([]error, n)
	var next atomic.Int64
	var g errgroup.Group
	for range vus {
		g.Go(func() error {
			cl := NewClient(p)
			cl.Timeout = 10 * time.Second
			if setup != nil {
				setup(cl)
			}
			defer cl.Close()
			for {
				i := int(next.Add(1)) - 1
				if i >= n {
					return nil
				}
				errs[i] = cl.Do(context.Background(), req, Call{}, &res[i])
			}
		})
	}
	_ = g.Wait()
	return res, errs
}

// Many streams on one connection: every answer read, one connection on
// both sides, the streams counted.
func TestManyStreamsOneConn(t *testing.T) {
	for _, useTLS := range []bool{false, true} {
		t.Run(fmt.Sprintf("tls=%v", useTLS), func(t *testing.T) {
			s := startServer(t, useTLS, nil, ok)
			cfg := transport.Config{Concurrency: 50, MaxConnsPerHost: 1}
			if useTLS {
				cfg.RootCAsPEM = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: s.ts.Certificate().Raw})
			}
			p, o := newPool(t, cfg, 0)
			const n = 1000
			res, errs := run(p, 50, n, mustPrepare(t, "GET", s.URL+"/x", nil), nil)
			fresh := 0
			for i := range res {
				if errs[i] != nil || res[i].Status != 200 || res[i].BodyBytes != 3 {
					t.Fatalf("request %d: %v, %+v", i, errs[i], res[i])
				}
				fresh += res[i].Fresh
			}
			if got := s.requests.Load(); got != n {
				t.Errorf("server saw %d requests, want %d", got, n)
			}
			if got := s.conns.Load(); got != 1 {
				t.Errorf("server saw %d connections, want 1", got)
			}
			if dialed, _ := o.counts(); dialed != 1 || fresh != 1 {
				t.Errorf("dialed %d, fresh %d, want 1 and 1", dialed, fresh)
			}
			if got := p.stats.MaxStreams.Load(); got == 0 {
				t.Errorf("server's MAX_CONCURRENT_STREAMS not seen")
			}
			if useTLS {
				var tlsSeen bool
				for i := range res {
					if _, ok := res[i].Timings.Get(metrics.PhaseTLS); ok && res[i].Fresh == 1 {
						tlsSeen = true
					}
				}
				if !tlsSeen {
					t.Error("no TLS phase on the request that dialed")
				}
			}
		})
	}
}

// A server allowing 3 streams: never more than 3 in flight on its side,
// the requests beyond them waited for a slot (stream_wait > 0).
func TestMaxConcurrentStreamsWait(t *testing.T) {
	release := make(chan struct{})
	s := startServer(t, false, &http.HTTP2Config{MaxConcurrentStreams: 3}, func(w http.ResponseWriter, r *http.Request) {
		<-release
		ok(w, r)
	})
	p, o := newPool(t, transport.Config{Concurrency: 12, MaxConnsPerHost: 1}, 0)
	req := mustPrepare(t, "GET", s.URL, nil)
	done := make(chan struct{})
	var res []Result
	var errs []error
	go func() {
		defer close(done)
		res, errs = run(p, 12, 12, req, nil)
	}()
	// Hold the handlers until 3 are in flight and the other 9 wait.
	for i := 0; ; i++ {
		p.mu.Lock()
		waiting := 0
		for _, h := range p.hosts {
			waiting += len(h.waiters)
		}
		p.mu.Unlock()
		if s.inflight.Load() == 3 && waiting == 9 {
			break
		}
		if i > 5000 {
			t.Fatalf("in flight %d, waiting %d", s.inflight.Load(), waiting)
		}
		time.Sleep(time.Millisecond)
	}
	close(release)
	<-done
	waited := 0
	for i := range res {
		if errs[i] != nil || res[i].Status != 200 {
			t.Fatalf("request %d: %v %+v", i, errs[i], res[i])
		}
		if res[i].StreamWait > 0 {
			waited++
		}
	}
	if waited < 9 {
		t.Errorf("%d requests waited for a stream slot, want at least 9", waited)
	}
	if got := s.peak.Load(); got > 3 {
		t.Errorf("server saw %d streams at once, over its MAX_CONCURRENT_STREAMS 3", got)
	}
	if got := p.stats.PeakStreams.Load(); got != 3 {
		t.Errorf("peak streams %d, want 3", got)
	}
	if dialed, _ := o.counts(); dialed != 1 || s.conns.Load() != 1 {
		t.Errorf("dialed %d, server saw %d, want 1", dialed, s.conns.Load())
	}
}

// A server that sends GOAWAY after every 5th answer on a connection:
// every request succeeds or fails with a class that says so, and the
// client's connections are the server's.
func TestGoAwayMidRun(t *testing.T) {
	var mu sync.Mutex
	perConn := map[string]int{}
	s := startServer(t, false, nil, func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		perConn[r.RemoteAddr]++
		k := perConn[r.RemoteAddr]
		mu.Unlock()
		if k%5 == 0 {
			w.Header().Set("Connection", "close") // Go's server: GOAWAY, then close when idle
		}
		ok(w, r)
	})
	p, o := newPool(t, transport.Config{Concurrency: 8, MaxConnsPerHost: 2}, 0)
	const n = 200
	res, errs := run(p, 8, n, mustPrepare(t, "GET", s.URL, nil), nil)
	okN, failed := 0, map[metrics.ErrClass]int{}
	for i := range res {
		if errs[i] == nil {
			if res[i].Status != 200 {
				t.Fatalf("request %d: status %d", i, res[i].Status)
			}
			okN++
			continue
		}
		failed[metrics.Classify(errs[i])]++
	}
	for c := range failed {
		if c != metrics.ErrEOF && c != metrics.ErrReset {
			t.Errorf("failures %v: class %v is not what a GOAWAY leads to", failed, c)
		}
	}
	if okN+sum(failed) != n {
		t.Errorf("%d ok + %v failed != %d", okN, failed, n)
	}
	if got := s.requests.Load(); got < int64(okN) {
		t.Errorf("server answered %d, client read %d", got, okN)
	}
	if p.stats.GoAways.Load() == 0 {
		t.Error("no GOAWAY counted")
	}
	p.Close()
	waitClosed(t, o)
	dialed, closed := o.counts()
	if int64(dialed) != s.conns.Load() {
		t.Errorf("client dialed %d, server saw %d", dialed, s.conns.Load())
	}
	if closed[closeGoAway] == 0 {
		t.Errorf("closes %v: none for the GOAWAY", closed)
	}
	t.Logf("ok %d, failed %v, connections %d, goaways %d, retries %d", okN, failed, dialed, p.stats.GoAways.Load(), p.stats.Refused.Load())
}

func sum(m map[metrics.ErrClass]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}

// A handler that aborts: the server resets the stream; the request fails
// as reset, the connection goes on.
func TestRSTStream(t *testing.T) {
	s := startServer(t, false, nil, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/abort" {
			panic(http.ErrAbortHandler)
		}
		ok(w, r)
	})
	p, o := newPool(t, transport.Config{Concurrency: 1}, 0)
	cl := NewClient(p)
	defer cl.Close()
	var res Result
	err := cl.Do(context.Background(), mustPrepare(t, "GET", s.URL+"/abort", nil), Call{}, &res)
	var se *StreamError
	if !errors.As(err, &se) || metrics.Classify(err) != metrics.ErrReset {
		t.Fatalf("err %v (class %v), want a stream reset", err, metrics.Classify(err))
	}
	if err := cl.Do(context.Background(), mustPrepare(t, "GET", s.URL+"/fine", nil), Call{}, &res); err != nil || res.Status != 200 || res.Reused != 1 {
		t.Fatalf("after the reset: %v %+v", err, res)
	}
	if dialed, _ := o.counts(); dialed != 1 {
		t.Errorf("dialed %d, want 1", dialed)
	}
	if got := p.stats.RSTs[se.Code].Load(); got != 1 {
		t.Errorf("RST_STREAM %v counted %d times, want 1", se.Code, got)
	}
}

// A server window of 1 KiB per stream and a 256 KiB body: the body goes
// through whole, and the waits for window are counted.
func TestFlowControlStall(t *testing.T) {
	var got atomic.Int64
	s := startServer(t, false, &http.HTTP2Config{MaxReceiveBufferPerStream: 1024}, func(w http.ResponseWriter, r *http.Request) {
		n, _ := io.Copy(io.Discard, r.Body)
		got.Store(n)
		_, _ = io.WriteString(w, "ok\n")
	})
	p, _ := newPool(t, transport.Config{Concurrency: 1}, 0)
	cl := NewClient(p)
	defer cl.Close()
	body := bytes.Repeat([]byte("x"), 256<<10)
	var res Result
	if err := cl.Do(context.Background(), mustPrepare(t, "POST", s.URL, body), Call{}, &res); err != nil || res.Status != 200 {
		t.Fatalf("%v %+v", err, res)
	}
	if got.Load() != int64(len(body)) {
		t.Errorf("server read %d body bytes, want %d", got.Load(), len(body))
	}
	if p.stats.FlowStalls.Load() == 0 {
		t.Error("no flow-control stall counted")
	}
	if res.BytesSent < int64(len(body)) {
		t.Errorf("bytes sent %d < body %d", res.BytesSent, len(body))
	}
}

// Headers over the limit fail the request as a protocol error; the
// connection stays usable.
func TestOversizedHeaders(t *testing.T) {
	s := startServer(t, false, nil, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/big" {
			for i := range 40 {
				w.Header().Set(fmt.Sprintf("X-Big-%d", i), strings.Repeat("v", 1000))
			}
		}
		ok(w, r)
	})
	p, o := newPool(t, transport.Config{Concurrency: 1, MaxResponseHeaderBytes: 16 << 10}, 0)
	cl := NewClient(p)
	defer cl.Close()
	var res Result
	err := cl.Do(context.Background(), mustPrepare(t, "GET", s.URL+"/big", nil), Call{}, &res)
	if metrics.Classify(err) != metrics.ErrProtocol || !strings.Contains(fmt.Sprint(err), "over 16384 bytes") {
		t.Fatalf("err %v (class %v), want the header limit", err, metrics.Classify(err))
	}
	if err := cl.Do(context.Background(), mustPrepare(t, "GET", s.URL+"/small", nil), Call{}, &res); err != nil || res.Status != 200 {
		t.Fatalf("after: %v %+v", err, res)
	}
	if dialed, _ := o.counts(); dialed != 1 {
		t.Errorf("dialed %d, want 1", dialed)
	}
}

// rawServer runs an HTTP/2 server written frame by frame: it reads the
// client's preface, then calls serve with a framer on the connection.
func rawServer(t testing.TB, serve func(fr *http2.Framer, c net.Conn)) string {
	t.Helper()
	addr := testserver.Raw(t, func(c net.Conn) {
		defer c.Close()
		buf := make([]byte, len(http2.ClientPreface))
		if _, err := io.ReadFull(c, buf); err != nil {
			return
		}
		serve(http2.NewFramer(c, c), c)
	})
	return strings.Replace(addr, "https://", "http://", 1)
}

// answer writes a 200 with body on stream id.
func answer(fr *http2.Framer, id uint32, body string) {
	var b bytes.Buffer
	enc := hpack.NewEncoder(&b)
	_ = enc.WriteField(hpack.HeaderField{Name: ":status", Value: "200"})
	_ = fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: b.Bytes(), EndHeaders: true})
	_ = fr.WriteData(id, true, []byte(body))
}

// A server that never sends its SETTINGS, and one that never ACKs the
// client's nor answers: the request ends at its timeout, as a timeout.
func TestSilentServers(t *testing.T) {
	for _, tc := range []struct {
		name  string
		serve func(fr *http2.Framer, c net.Conn)
	}{
		{"no SETTINGS", func(fr *http2.Framer, c net.Conn) { _, _ = io.Copy(io.Discard, c) }},
		{"no ACK, no answer", func(fr *http2.Framer, c net.Conn) {
			_ = fr.WriteSettings()
			_, _ = io.Copy(io.Discard, c)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			url := rawServer(t, tc.serve)
			p, _ := newPool(t, transport.Config{Concurrency: 1}, 0)
			cl := NewClient(p)
			defer cl.Close()
			cl.Timeout = 150 * time.Millisecond
			var res Result
			err := cl.Do(context.Background(), mustPrepare(t, "GET", url, nil), Call{}, &res)
			if metrics.Classify(err) != metrics.ErrTimeout {
				t.Fatalf("err %v (class %v), want a timeout", err, metrics.Classify(err))
			}
		})
	}
}

// A stream refused (REFUSED_STREAM) goes again, once, and is counted.
func TestRefusedStreamRetried(t *testing.T) {
	url := rawServer(t, func(fr *http2.Framer, c net.Conn) {
		_ = fr.WriteSettings()
		for k := 0; ; {
			f, err := fr.ReadFrame()
			if err != nil {
				return
			}
			h, ok := f.(*http2.HeadersFrame)
			if !ok {
				continue
			}
			if k++; k == 1 {
				_ = fr.WriteRSTStream(h.StreamID, http2.ErrCodeRefusedStream)
				continue
			}
			answer(fr, h.StreamID, "hello")
		}
	})
	p, o := newPool(t, transport.Config{Concurrency: 1}, 0)
	cl := NewClient(p)
	defer cl.Close()
	var res Result
	if err := cl.Do(context.Background(), mustPrepare(t, "GET", url, nil), Call{}, &res); err != nil || res.Status != 200 || res.BodyBytes != 5 {
		t.Fatalf("%v %+v", err, res)
	}
	if res.Retries != 1 || p.stats.Refused.Load() != 1 || p.stats.RSTs[http2.ErrCodeRefusedStream].Load() != 1 {
		t.Errorf("retries %d, refused %d, want 1 and 1", res.Retries, p.stats.Refused.Load())
	}
	if dialed, _ := o.counts(); dialed != 1 {
		t.Errorf("dialed %d, want 1 (the retry goes on the same connection)", dialed)
	}
}

// A server breaking the protocol (DATA on stream 0): the connection ends
// with an HTTP/2 error, the request fails as a protocol error, the close
// has the h2 error's reason.
func TestConnectionError(t *testing.T) {
	url := rawServer(t, func(fr *http2.Framer, c net.Conn) {
		_ = fr.WriteSettings()
		for {
			f, err := fr.ReadFrame()
			if err != nil {
				return
			}
			if _, ok := f.(*http2.HeadersFrame); ok {
				fr.AllowIllegalWrites = true
				_ = fr.WriteData(0, false, []byte("bad"))
			}
		}
	})
	p, o := newPool(t, transport.Config{Concurrency: 1}, 0)
	cl := NewClient(p)
	defer cl.Close()
	var res Result
	err := cl.Do(context.Background(), mustPrepare(t, "GET", url, nil), Call{}, &res)
	var ce *ConnError
	if !errors.As(err, &ce) || metrics.Classify(err) != metrics.ErrProtocol {
		t.Fatalf("err %v, want a connection error", err)
	}
	p.Close()
	waitClosed(t, o)
	if _, closed := o.counts(); closed[closeH2Error] != 1 {
		t.Errorf("closes %v, want one h2 error", closed)
	}
}

// cannedH2 answers every HEADERS frame with the same answer bytes (the
// stream id patched in), without allocating per request, so that
// allocations measured are the client's.
func cannedH2(t testing.TB) string {
	var b bytes.Buffer
	fr := http2.NewFramer(&b, nil)
	_ = fr.WriteSettings(http2.Setting{ID: http2.SettingMaxConcurrentStreams, Val: 100})
	settings := bytes.Clone(b.Bytes())
	b.Reset()
	var hb bytes.Buffer
	enc := newEncoder(&hb) // no dynamic table: the same block every time, as nginx sends
	_ = enc.WriteField(hpack.HeaderField{Name: ":status", Value: "200"})
	_ = enc.WriteField(hpack.HeaderField{Name: "content-type", Value: "text/plain"})
	_ = enc.WriteField(hpack.HeaderField{Name: "content-length", Value: "2"})
	_ = fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: hb.Bytes(), EndHeaders: true})
	_ = fr.WriteData(1, true, []byte("ok"))
	resp := bytes.Clone(b.Bytes())
	dataAt := 9 + int(binary.BigEndian.Uint32(append([]byte{0}, resp[:3]...)))
	return rawServer(t, func(_ *http2.Framer, c net.Conn) {
		if _, err := c.Write(settings); err != nil {
			return
		}
		var hdr [9]byte
		skip := make([]byte, 64<<10)
		out := make([]byte, len(resp))
		for {
			if _, err := io.ReadFull(c, hdr[:]); err != nil {
				return
			}
			n := int(hdr[0])<<16 | int(hdr[1])<<8 | int(hdr[2])
			if n > len(skip) {
				return
			}
			if _, err := io.ReadFull(c, skip[:n]); err != nil {
				return
			}
			if http2.FrameType(hdr[3]) != http2.FrameHeaders {
				continue
			}
			id := binary.BigEndian.Uint32(hdr[5:]) & (1<<31 - 1)
			copy(out, resp)
			binary.BigEndian.PutUint32(out[5:], id)
			binary.BigEndian.PutUint32(out[dataAt+5:], id)
			if _, err := c.Write(out); err != nil {
				return
			}
		}
	})
}

// One request on a warm connection allocates nothing.
func TestClientAllocs(t *testing.T) {
	url := cannedH2(t)
	p, _ := newPool(t, transport.Config{Concurrency: 1}, 0)
	cl := NewClient(p)
	defer cl.Close()
	req := mustPrepare(t, "GET", url, nil)
	var res Result
	ctx := context.Background()
	for range 3 {
		if err := cl.Do(ctx, req, Call{}, &res); err != nil || res.Status != 200 || res.BodyBytes != 2 {
			t.Fatal(err, res)
		}
	}
	allocs := testing.AllocsPerRun(500, func() {
		if err := cl.Do(ctx, req, Call{}, &res); err != nil || res.Status != 200 {
			t.Fatal(err, res.Status)
		}
	})
	if allocs > 0 {
		t.Errorf("%v allocations per request, want 0", allocs)
	}
}

// BenchmarkClientDo is one request at a time on a warm connection.
func BenchmarkClientDo(b *testing.B) {
	url := cannedH2(b)
	p, _ := newPool(b, transport.Config{Concurrency: 1}, 0)
	cl := NewClient(p)
	defer cl.Close()
	req := mustPrepare(b, "GET", url, nil)
	var res Result
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if err := cl.Do(ctx, req, Call{}, &res); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkClientParallel is 100 clients sharing one connection.
func BenchmarkClientParallel(b *testing.B) {
	url := cannedH2(b)
	p, _ := newPool(b, transport.Config{Concurrency: 100, MaxConnsPerHost: 1}, 0)
	req := mustPrepare(b, "GET", url, nil)
	b.ReportAllocs()
	b.SetParallelism(50)
	b.RunParallel(func(pb *testing.PB) {
		cl := NewClient(p)
		defer cl.Close()
		var res Result
		for pb.Next() {
			if err := cl.Do(context.Background(), req, Call{}, &res); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// A connection that used its last stream id takes no more streams: the
// next request gets a new connection.
func TestStreamIDsExhausted(t *testing.T) {
	s := startServer(t, false, nil, ok)
	p, o := newPool(t, transport.Config{Concurrency: 1}, 0)
	cl := NewClient(p)
	defer cl.Close()
	req := mustPrepare(t, "GET", s.URL, nil)
	var res Result
	if err := cl.Do(context.Background(), req, Call{}, &res); err != nil {
		t.Fatal(err)
	}
	p.mu.Lock()
	c := p.hosts[hostKey{key: req.key}].conns[0]
	p.mu.Unlock()
	c.mu.Lock()
	c.nextID = maxStreamID // the last one
	c.mu.Unlock()
	for i := range 3 {
		if err := cl.Do(context.Background(), req, Call{}, &res); err != nil || res.Status != 200 {
			t.Fatalf("request %d: %v %+v", i, err, res)
		}
	}
	if dialed, _ := o.counts(); dialed != 2 || s.conns.Load() != 2 {
		t.Errorf("dialed %d, server saw %d, want 2", dialed, s.conns.Load())
	}
}
