package metrics_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"runtime"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/faya-load/faya/metrics"
)

func opErr(errno syscall.Errno) error {
	return &url.Error{Op: "Get", URL: "http://127.0.0.1:1/", Err: &net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", errno)}}
}

type timeoutErr struct{}

func (timeoutErr) Error() string   { return "i/o timeout" }
func (timeoutErr) Timeout() bool   { return true }
func (timeoutErr) Temporary() bool { return true }

func TestClassify(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want metrics.ErrClass
	}{
		{nil, metrics.ErrNone},
		{opErr(syscall.ECONNREFUSED), metrics.ErrRefused},
		{opErr(syscall.ECONNRESET), metrics.ErrReset},
		{opErr(syscall.EPIPE), metrics.ErrReset},
		{opErr(syscall.EMFILE), metrics.ErrLocal},
		{opErr(syscall.EADDRNOTAVAIL), metrics.ErrLocal},
		{&net.DNSError{Err: "no such host", Name: "x.invalid", IsNotFound: true}, metrics.ErrDNS},
		{&net.DNSError{Err: "timeout", Name: "x", IsTimeout: true}, metrics.ErrTimeout},
		{fmt.Errorf("get: %w", context.DeadlineExceeded), metrics.ErrTimeout},
		{&url.Error{Op: "Get", URL: "u", Err: timeoutErr{}}, metrics.ErrTimeout},
		{fmt.Errorf("x: %w", context.Canceled), metrics.ErrCanceled},
		{&url.Error{Op: "Get", URL: "u", Err: x509.UnknownAuthorityError{}}, metrics.ErrTLS},
		{&tls.CertificateVerificationError{Err: errors.New("bad")}, metrics.ErrTLS},
		{tls.AlertError(42), metrics.ErrTLS},
		{io.ErrUnexpectedEOF, metrics.ErrEOF},
		{&url.Error{Op: "Get", URL: "u", Err: io.EOF}, metrics.ErrEOF},
		{errors.New(`net/http: HTTP/1.x transport connection broken: malformed HTTP response "garbage"`), metrics.ErrProtocol},
		// net/http's texts for what is not HTTP/1.x, as the fault table
		// (engine.TestFaults) saw them.
		{errors.New(`net/http: HTTP/1.x transport connection broken: malformed MIME header: missing colon: "no colon here"`), metrics.ErrProtocol},
		{errors.New(`net/http: HTTP/1.x transport connection broken: malformed MIME header line: "X-A: a\x00b"`), metrics.ErrProtocol},
		{errors.New(`net/http: HTTP/1.x transport connection broken: malformed MIME header initial line: " X-A: b"`), metrics.ErrProtocol},
		{errors.New(`net/http: HTTP/1.x transport connection broken: invalid empty Content-Length ""`), metrics.ErrProtocol},
		{errors.New(`net/http: HTTP/1.x transport connection broken: http: message cannot contain multiple Content-Length headers; got ["5" "6"]`), metrics.ErrProtocol},
		{errors.New(`net/http: HTTP/1.x transport connection broken: too many transfer encodings: ["chunked" "chunked"]`), metrics.ErrProtocol},
		{errors.New(`net/http: HTTP/1.x transport connection broken: unsupported transfer encoding: "identity"`), metrics.ErrProtocol},
		{errors.New("net/http: HTTP/1.x transport connection broken: net/http: server response headers exceeded 1048576 bytes; aborted"), metrics.ErrProtocol},
		{errors.New("invalid byte in chunk length"), metrics.ErrProtocol},
		{errors.New("http chunk length too large"), metrics.ErrProtocol},
		{errors.New("chunked line ends with bare LF"), metrics.ErrProtocol},
		{errors.New("malformed chunked encoding"), metrics.ErrProtocol},
		{errors.New("chunked encoding contains too much non-data"), metrics.ErrProtocol},
		{errors.New("header line too long"), metrics.ErrProtocol},
		{errors.New("message too large"), metrics.ErrProtocol},
		{errors.New("http: suspiciously long trailer after chunked body"), metrics.ErrProtocol},
		{fmt.Errorf("readLoopPeekFailLocked: %w", nil), metrics.ErrProtocol},
		{fmt.Errorf("readLoopPeekFailLocked: %w", opErr(syscall.ECONNRESET)), metrics.ErrReset},
		{errors.New("http: unexpected EOF reading trailer"), metrics.ErrEOF},
		// Go's HTTP/2, as engine.TestH2Faults saw it: the server's
		// RST_STREAM (with the cause Go gives it since x/net set one) is
		// a reset; the client's own verdict a protocol error; a frame
		// over SETTINGS_MAX_FRAME_SIZE a protocol error, but an HTTP/1.x
		// answer to the preface is the negotiation failing.
		{errors.New(`Post "http://127.0.0.1:1/": stream error: stream ID 1; INTERNAL_ERROR; received from peer`), metrics.ErrReset},
		{errors.New("stream error: stream ID 3; CANCEL"), metrics.ErrReset},
		{errors.New("stream error: stream ID 3; PROTOCOL_ERROR; invalid header field value"), metrics.ErrProtocol},
		{errors.New("http2: frame too large"), metrics.ErrProtocol},
		{errors.New("http2: failed reading the frame payload: http2: frame too large, note that the frame header looked like an HTTP/1.1 header"), metrics.ErrProtocolNegotiation},
		{errors.New("something new"), metrics.ErrOther},
	} {
		if got := metrics.Classify(tc.err); got != tc.want {
			t.Errorf("Classify(%v) = %s, want %s", tc.err, got, tc.want)
		}
	}
}

func TestErrClassNames(t *testing.T) {
	for c := range metrics.NumErrClasses {
		name := metrics.ErrClass(c).String()
		back, ok := metrics.ParseErrClass(name)
		if !ok || back != metrics.ErrClass(c) {
			t.Errorf("ParseErrClass(%q) = %v, %v", name, back, ok)
		}
	}
}

func sample(lat time.Duration, status int) *metrics.Sample {
	s := &metrics.Sample{Latency: lat, Status: status, BytesSent: 10, BytesReceived: 20, BodyBytes: 5, Reused: 1}
	s.Phases[0] = lat / 10 // blocked
	s.PhaseSet = 1
	return s
}

// Merging two snapshots gives exactly the snapshot of all their samples.
func TestMergeExact(t *testing.T) {
	var a, b, all metrics.Snapshot
	for i := range 1000 {
		s := sample(time.Duration(i+1)*time.Microsecond, 200+i%2*300)
		if i%3 == 0 {
			a.Add(s)
		} else {
			b.Add(s)
		}
		all.Add(s)
	}
	a.Merge(&b)
	for _, m := range []metrics.Metric{metrics.Latency, metrics.Blocked} {
		for _, q := range []float64{0.5, 0.9, 0.99, 0.999, 1} {
			if x, y := metrics.Quantile(a.Hist(m), q), metrics.Quantile(all.Hist(m), q); x != y {
				t.Errorf("%s q%v: merged %d, direct %d", m, q, x, y)
			}
		}
	}
	if a.Requests != 1000 || a.OK != 500 || a.HTTPErrors != 500 || a.Status[200] != 500 || a.Status[500] != 500 {
		t.Errorf("counts after merge: %d requests, %d ok, %d http errors", a.Requests, a.OK, a.HTTPErrors)
	}
	if a.BytesSent != all.BytesSent || a.ConnReused != 1000 {
		t.Errorf("bytes sent %d want %d, reused %d", a.BytesSent, all.BytesSent, a.ConnReused)
	}
	if a.Hist(metrics.DNS) != nil {
		t.Error("a phase that never happened has a histogram")
	}
}

// Quantile takes a fraction; hdrhistogram's ValueAtQuantile takes a percent.
func TestQuantileIsAFraction(t *testing.T) {
	var s metrics.Snapshot
	for i := 1; i <= 1000; i++ {
		s.Add(sample(time.Duration(i)*time.Millisecond, 200))
	}
	p99 := time.Duration(metrics.Quantile(s.Hist(metrics.Latency), 0.99))
	if p99 < 989*time.Millisecond || p99 > 991*time.Millisecond {
		t.Errorf("p99 = %v, want 990ms", p99)
	}
	d := metrics.DistOf(s.Hist(metrics.Latency))
	if d.Count != 1000 || d.P50 < 499*time.Millisecond || d.P50 > 501*time.Millisecond {
		t.Errorf("dist %+v", d)
	}
}

func TestClamp(t *testing.T) {
	var s metrics.Snapshot
	s.Add(sample(3*time.Hour, 200))
	// The latency (3h) is above the range; the blocked phase (18m) is not.
	if s.Clamped != 1 {
		t.Errorf("clamped = %d, want 1", s.Clamped)
	}
	if m := s.Hist(metrics.Latency).Max(); m < int64(59*time.Minute) {
		t.Errorf("max = %v, want clamped to an hour", time.Duration(m))
	}
}

func TestRecorderConcurrent(t *testing.T) {
	rec := metrics.NewRecorder(4)
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sh := rec.Shard(w)
			for i := range 5000 {
				sh.Record(sample(time.Duration(i+1)*time.Microsecond, 200), nil)
			}
		}()
	}
	var total metrics.Snapshot
	var iv metrics.Snapshot
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	for running := true; running; {
		select {
		case <-done:
			running = false
		default:
		}
		total.Merge(rec.Flush(&iv))
	}
	total.Merge(rec.Flush(&iv))
	if total.Requests != 40000 || total.Hist(metrics.Latency).TotalCount() != 40000 {
		t.Errorf("requests %d, latency count %d, want 40000", total.Requests, total.Hist(metrics.Latency).TotalCount())
	}
}

func TestRecorderConnEvents(t *testing.T) {
	rec := metrics.NewRecorder(1)
	for range 3 {
		rec.ConnDialed()
	}
	rec.ConnClosed(metrics.ClosedConn{Reason: 1, Requests: 10, Received: 100, Sent: 50, Lifetime: time.Second, IdleClosed: true, IdleFor: 5 * time.Second})
	rec.PutIdleFailed(2)
	if rec.Open() != 2 {
		t.Errorf("open = %d, want 2", rec.Open())
	}
	s := rec.Flush(nil)
	if s.Dialed != 3 || s.Closed != 1 || s.MaxOpen != 3 || s.CloseReasons[1] != 1 || s.PutIdleErrors[2] != 1 ||
		s.BytesReceived != 100 || s.BytesSent != 50 || s.Hist(metrics.ConnRequests).Max() != 10 ||
		s.Hist(metrics.ConnLifetime).TotalCount() != 1 || s.Hist(metrics.ServerIdleClose).Min() < int64(4*time.Second) {
		t.Errorf("snapshot %+v", s)
	}
	// The peak carries over as the number still open.
	if s := rec.Flush(nil); s.MaxOpen != 2 || s.Dialed != 0 {
		t.Errorf("second flush: max open %d dialed %d, want 2 and 0", s.MaxOpen, s.Dialed)
	}
}

// Memory does not grow with the number of requests: a million samples
// take no more heap than a thousand.
func TestMemoryBounded(t *testing.T) {
	if testing.Short() {
		t.Skip("records a million samples")
	}
	rec := metrics.NewRecorder(2)
	var total, iv metrics.Snapshot
	record := func(n int) {
		sh := rec.Shard(0)
		for i := range n {
			sh.Record(sample(time.Duration(i%100_000+1)*time.Microsecond, 200), nil)
			if i%100_000 == 0 {
				total.Merge(rec.Flush(&iv))
			}
		}
		total.Merge(rec.Flush(&iv))
	}
	heap := func() uint64 {
		runtime.GC()
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		return m.HeapInuse
	}
	record(1000)
	before := heap()
	record(1_000_000)
	after := heap()
	if after > before+1<<20 {
		t.Errorf("heap grew from %d to %d bytes over a million samples", before, after)
	}
	if total.Requests != 1_001_000 {
		t.Errorf("requests = %d", total.Requests)
	}
}

// Each phase's distribution is its Metric, named alike, in the order the
// phases happen (stream_wait last: saved runs keep their indices).
func TestPhaseMetrics(t *testing.T) {
	want := []string{"blocked", "dns", "connect", "proxy", "tls", "send", "wait", "receive", "stream_wait"}
	if metrics.NumPhases != len(want) || metrics.PhaseReceive.Metric() != metrics.Receive || metrics.PhaseBlocked.Metric() != metrics.Blocked ||
		metrics.PhaseStreamWait.Metric() != metrics.StreamWait {
		t.Fatalf("%d phases from %v to %v", metrics.NumPhases, metrics.PhaseBlocked.Metric(), metrics.PhaseReceive.Metric())
	}
	for i, name := range want {
		if got := metrics.Phase(i).String(); got != name {
			t.Errorf("phase %d is %q, want %q", i, got, name)
		}
	}
	for r := range metrics.NumCloseReasons {
		if metrics.CloseReason(r).String() == "" {
			t.Errorf("close reason %d has no name", r)
		}
	}
}

// An interval's point counts the connections closed idle in it, by the
// client's IdleConnTimeout and by the server.
func TestPointIdleCloses(t *testing.T) {
	rec := metrics.NewRecorder(1)
	for range 3 {
		rec.ConnClosed(metrics.ClosedConn{Reason: metrics.CloseServerIdle, IdleClosed: true, IdleFor: 5 * time.Second})
	}
	rec.ConnClosed(metrics.ClosedConn{Reason: metrics.CloseIdleTimeout})
	rec.ConnClosed(metrics.ClosedConn{Reason: metrics.CloseRunEnd})
	p := metrics.PointOf(rec.Flush(nil), time.Second, time.Second)
	if p.ServerIdleCloses != 3 || p.IdleTimeoutCloses != 1 {
		t.Errorf("point: %d server idle closes, %d idle timeouts; want 3 and 1", p.ServerIdleCloses, p.IdleTimeoutCloses)
	}
}
