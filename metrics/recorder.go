package metrics

import (
	"net/netip"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// Sample is what one request measured. The engine fills one per request
// and records it; nothing keeps it afterwards.
type Sample struct {
	// Latency is the request's time from its intended start (open model)
	// or its actual start (closed model).
	Latency time.Duration
	// End is when the request ended, on the run's clock.
	End time.Duration
	// ServiceTime is the request's time once it had a connection: Latency
	// without the client-side queueing (schedule lag and the wait for a
	// connection from the pool), so what the network and server took.
	ServiceTime time.Duration
	// Scheduled marks the first request of an open-model iteration; Lag is
	// its actual start minus its intended start, and Late says the lag was
	// above the run's threshold.
	Scheduled bool
	Lag       time.Duration
	Late      bool
	// First marks the first request of an iteration.
	First bool
	// Step is the recorder's index of the request's step plus one (0: no
	// step stats). Setup marks a VU's setup request (its login), kept out
	// of the run's totals.
	Step  int
	Setup bool
	// Proxy is 1 + the index of the proxy the request went through (0:
	// direct).
	Proxy int
	// NotSent marks a sample of a step that sent no request (its template
	// failed, or a Go scenario returned an error): only its checks count.
	NotSent bool
	// Checks passed and failed on this response; CheckFailure says how
	// the first one failed.
	ChecksPassed, ChecksFailed int
	CheckFailure               string
	// Expect is how the wait for the server's 100 Continue ended, for a
	// request sent with "Expect: 100-continue" (ExpectNone otherwise);
	// ContinueWait is how long it lasted.
	Expect       ExpectOutcome
	ContinueWait time.Duration
	// CookiesDropped counts the cookies the VU's jar refused or evicted
	// after this request (a browser's limits: see session.Jar).
	CookiesDropped int32
	// CloseAnswers counts the answers of the request's hops (redirects
	// included) that said the connection ends after them (asked to close
	// it, or delimited the body by the close); HTTP10 those that
	// were HTTP/1.0 responses.
	CloseAnswers, HTTP10 int32
	// Dest is 1 + the slot of the address the request's connection was
	// made to, as [Recorder.ConnDialedAt] returned it (0: not known).
	Dest int32

	Phases   [NumPhases]time.Duration // indexed by Metric - Blocked
	PhaseSet uint16                   // bit i: Phases[i] happened

	Status    int      // 0 when no response arrived
	Err       ErrClass // ErrNone when the response was read completely
	Truncated bool     // the body exceeded the cap and was cut

	BytesSent     int64
	BytesReceived int64
	BodyBytes     int64

	// Proto is the protocol of the connection the request was sent on
	// (ProtoH1 when the engine does not say).
	Proto Protocol

	Fresh, Reused int // connections got (first use, reuse)
	WasIdle       bool
	IdleTime      time.Duration
	Retries       int
	Redirects     int
}

// Recorder aggregates samples from many goroutines without a shared lock:
// each goroutine records into one of a few shards (one per CPU, not per VU:
// a snapshot's histograms take a few hundred KiB), and [Recorder.Flush]
// collects them.
type Recorder struct {
	shards []Shard

	stepMu    sync.Mutex
	stepNames []string
	stepIndex map[string]int

	// VUs counts VUs allocated and busy; executors update it.
	VUs VUGauge
	// Sched counts open-model iterations; the scheduler updates it.
	Sched ScheduleCounter

	connMu   sync.Mutex
	conns    Snapshot // connection events since the last flush
	open     int64
	openPeak int64
	// srcs and dsts give source and destination addresses their slots.
	srcs addrTable[netip.Addr]
	dsts addrTable[netip.AddrPort]
	// h2Unknown: the HTTP/2 accounts not measured (H2NotMeasured),
	// copied into every flush.
	h2Unknown atomic.Uint32
}

// Shard is one recording slot of a Recorder. Record is safe for concurrent
// use; give each goroutine a fixed shard so that contention stays rare.
type Shard struct {
	mu    sync.Mutex
	cur   *Snapshot
	spare *Snapshot
	_     [40]byte // keep shards on separate cache lines
}

// NewRecorder returns a Recorder with n shards (at least 1).
func NewRecorder(n int) *Recorder {
	n = max(n, 1)
	r := &Recorder{shards: make([]Shard, n)}
	r.srcs.limit = MaxSourceAddrs
	r.dsts.limit, r.dsts.other = MaxDestAddrs, true
	for i := range r.shards {
		r.shards[i].cur = recording()
		r.shards[i].spare = recording()
	}
	return r
}

// StepIndex returns the index of the step named name, registering it the
// first time; a Sample carries it plus one.
func (r *Recorder) StepIndex(name string) int {
	r.stepMu.Lock()
	defer r.stepMu.Unlock()
	if i, ok := r.stepIndex[name]; ok {
		return i
	}
	if r.stepIndex == nil {
		r.stepIndex = map[string]int{}
	}
	i := len(r.stepNames)
	r.stepIndex[name] = i
	r.stepNames = append(r.stepNames, name)
	return i
}

// StepNames returns the registered step names, by index.
func (r *Recorder) StepNames() []string {
	r.stepMu.Lock()
	defer r.stepMu.Unlock()
	return append([]string(nil), r.stepNames...)
}

// Shard returns the shard for worker i (any non-negative integer).
func (r *Recorder) Shard(i int) *Shard { return &r.shards[i%len(r.shards)] }

// Record adds one sample. err is the request's error, kept (as an
// [Example]: printable and bounded) as the example message of its class
// when the class has none yet.
func (s *Shard) Record(x *Sample, err error) {
	s.mu.Lock()
	s.cur.Add(x)
	if err != nil && x.Err != ErrNone && s.cur.ErrExample[x.Err] == "" {
		s.cur.ErrExample[x.Err] = Example(err.Error())
	}
	s.mu.Unlock()
}

// ConnDialed counts an established HTTP/1.x connection.
func (r *Recorder) ConnDialed() { r.ConnDialedProto(ProtoH1) }

// ConnDialedProto counts an established connection that speaks p (for
// TLS, what ALPN negotiated).
func (r *Recorder) ConnDialedProto(p Protocol) {
	r.connMu.Lock()
	r.dialedLocked(p)
	r.connMu.Unlock()
}

// dialedLocked counts a connection that speaks p; connMu is held.
func (r *Recorder) dialedLocked(p Protocol) {
	r.conns.Dialed++
	if int(p) < NumProtocols {
		r.conns.DialedProto[p]++
	}
	r.open++
	if r.open > r.openPeak {
		r.openPeak = r.open
	}
}

// ClosedConn describes a connection that closed.
type ClosedConn struct {
	Reason   CloseReason
	Requests int64 // requests it carried
	// Received and Sent are its wire bytes not yet charged to a request.
	Received, Sent int64
	Lifetime       time.Duration
	// ServerClosed is set when the server closed it (after a request);
	// IdleClosed when the server closed it while idle, after IdleFor.
	ServerClosed bool
	IdleClosed   bool
	IdleFor      time.Duration
	// Proto is the protocol it spoke; for ProtoH2, Requests is its
	// streams (recorded in the H2Streams distribution too) and
	// PeakStreams the most it had open at once.
	Proto       Protocol
	PeakStreams int
	// ReadTimed says its reader's busy time was measured (an HTTP/2
	// connection of the default engine): busy ReadBusy of ReadSpan.
	ReadTimed          bool
	ReadBusy, ReadSpan time.Duration
}

// ConnClosed counts a closed connection: why it closed, how many requests
// it carried, how long it lived, and its wire bytes not yet charged to a
// request.
func (r *Recorder) ConnClosed(c ClosedConn) {
	r.connMu.Lock()
	r.conns.Closed++
	r.open--
	if int(c.Reason) < NumCloseReasons {
		r.conns.CloseReasons[c.Reason]++
	}
	r.conns.record(ConnRequests, time.Duration(c.Requests))
	r.conns.record(ConnLifetime, c.Lifetime)
	if c.ServerClosed {
		r.conns.record(ServerCloseRequests, time.Duration(c.Requests))
	}
	if c.IdleClosed {
		r.conns.record(ServerIdleClose, c.IdleFor)
	}
	r.conns.BytesReceived += c.Received
	r.conns.BytesSent += c.Sent
	if c.Proto == ProtoH2 {
		r.conns.H2.Conns++
		r.conns.record(H2Streams, time.Duration(c.Requests))
		r.conns.H2.PeakStreams = max(r.conns.H2.PeakStreams, int64(c.PeakStreams))
		if c.ReadTimed {
			r.conns.readLoop(c.ReadBusy, c.ReadSpan)
		}
	}
	r.connMu.Unlock()
}

// PutIdleFailed counts a connection net/http could not return to the idle
// pool, by reason.
func (r *Recorder) PutIdleFailed(reason CloseReason) {
	r.connMu.Lock()
	if int(reason) < NumCloseReasons {
		r.conns.PutIdleErrors[reason]++
	}
	r.connMu.Unlock()
}

// Open returns the number of connections open now.
func (r *Recorder) Open() int64 {
	r.connMu.Lock()
	defer r.connMu.Unlock()
	return r.open
}

// Flush moves everything recorded since the last Flush into dst (which is
// reset first) and returns it. It holds each shard's lock only to swap two
// pointers, so recording goroutines are not held up while it merges.
// Flush must not be called concurrently with itself.
func (r *Recorder) Flush(dst *Snapshot) *Snapshot {
	if dst == nil {
		dst = &Snapshot{}
	}
	dst.ResetYield(runtime.Gosched)
	for i := range r.shards {
		s := &r.shards[i]
		s.mu.Lock()
		full := s.cur
		s.cur = s.spare
		s.mu.Unlock()
		// The shard's counts are merged; its histograms' values, recorded
		// as raw counts, are folded straight into dst's histograms (the
		// shard has none to merge).
		full.settle()
		dst.MergeYield(full, runtime.Gosched)
		full.foldInto(dst)
		full.ResetYield(runtime.Gosched)
		s.mu.Lock()
		s.spare = full
		s.mu.Unlock()
	}
	r.connMu.Lock()
	dst.Merge(&r.conns)
	r.conns.Reset()
	dst.H2.Unknown |= H2Unknown(r.h2Unknown.Load())
	r.nameAddrs(dst)
	dst.MaxOpen = max(dst.MaxOpen, r.openPeak)
	r.openPeak = r.open
	r.connMu.Unlock()
	dst.VUsBusyMax, dst.VUsAllocated = r.VUs.take()
	dst.VUsStopped += r.VUs.stopped.Swap(0)
	dst.Sent, dst.Dropped = r.Sched.sent.Swap(0), r.Sched.dropped.Swap(0)
	dst.Intended = dst.Sent + dst.Dropped
	return dst
}

// VUGauge counts VUs: allocated, and busy in an iteration. Begin and End
// are two atomic operations; the peak is updated only when it rises.
type VUGauge struct {
	busy, peak, allocated, stopped atomic.Int64
}

// Stopped counts a VU that stopped before the run's end (on_failure:
// stop_vu).
func (g *VUGauge) Stopped() { g.stopped.Add(1) }

// Begin marks a VU starting an iteration.
func (g *VUGauge) Begin() {
	n := g.busy.Add(1)
	for {
		p := g.peak.Load()
		if n <= p || g.peak.CompareAndSwap(p, n) {
			return
		}
	}
}

// End marks a VU ending an iteration.
func (g *VUGauge) End() { g.busy.Add(-1) }

// Allocated counts n more VUs allocated.
func (g *VUGauge) Allocated(n int) { g.allocated.Add(int64(n)) }

// take returns the peak of busy VUs since the last take, and the VUs
// allocated so far.
func (g *VUGauge) take() (peak, allocated int64) {
	return g.peak.Swap(g.busy.Load()), g.allocated.Load()
}

// ScheduleCounter counts the iterations an open-model scheduler sent to a
// VU or dropped for want of a free one. Only the scheduler writes it.
type ScheduleCounter struct {
	sent, dropped atomic.Int64
}

// Sent counts an iteration handed to a VU.
func (c *ScheduleCounter) Sent() { c.sent.Add(1) }

// Dropped counts an iteration no VU was free for.
func (c *ScheduleCounter) Dropped() { c.dropped.Add(1) }
