package metrics

import (
	"math/bits"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
)

// Metric names one duration distribution kept as an HDR histogram.
type Metric uint8

// The metrics. Blocked through StreamWait are the request phases in the
// order of [Phase].
const (
	Latency Metric = iota // the request's total time
	Blocked               // waiting for a connection from the pool
	DNS
	Connect
	Proxy // the proxy's handshake (CONNECT, SOCKS5, TLS to an HTTPS proxy)
	TLS
	Send
	Wait
	Receive
	StreamWait      // an HTTP/2 request's wait for a free stream slot
	IdleBeforeReuse // how long a reused connection sat idle before this request
	ServiceTime     // the request's time once it had a connection (no client-side queueing)
	ScheduleLag     // open model: actual start minus intended start
	ConnLifetime    // how long closed connections were open
	ServerIdleClose // how long connections sat idle before the server closed them
	// ConnRequests is the number of requests each closed connection
	// carried (a count, not a duration), and ServerCloseRequests the same
	// for the connections the server closed after a request.
	ConnRequests
	ServerCloseRequests
	// ContinueWait is how long a request sent with "Expect: 100-continue"
	// waited, its head written, before it sent its body or had its
	// answer: for the server's 100 Continue, for a final answer, or for
	// the ExpectContinueTimeout.
	ContinueWait
	// H2Streams is the number of streams (requests) each closed HTTP/2
	// connection carried, H2GoAwayLastStream the last-stream-id of the
	// GOAWAY frames received (counts, not durations), and H2PingRTT the
	// PING round trips.
	H2Streams
	H2GoAwayLastStream
	H2PingRTT
	// H2ReadBusy is, for each closed HTTP/2 connection whose reader was
	// timed, the share of its time that reader was busy (not waiting in
	// a read), in units of 1/[ReadBusyScale] (per mille): a ratio, not a duration.
	H2ReadBusy

	numMetrics
)

// NumMetrics is the number of Metric values.
const NumMetrics = int(numMetrics)

var metricNames = [...]string{"latency", "blocked", "dns", "connect", "proxy", "tls", "send", "wait", "receive", "stream_wait",
	"idle_before_reuse", "service_time", "schedule_lag", "conn_lifetime", "server_idle_close", "conn_requests", "server_close_requests", "continue_wait",
	"h2_streams", "h2_goaway_last_stream", "h2_ping_rtt", "h2_read_busy"}

// String returns the metric's stable name.
func (m Metric) String() string { return metricNames[m] }

// Histogram range and precision, the same everywhere so that histograms
// merge exactly: 1 ns to 1 hour at 3 significant digits. Larger values are
// recorded as the maximum and counted in [Snapshot.Clamped].
const (
	histLowest  = 1
	histHighest = int64(time.Hour)
	histDigits  = 3
)

func newHist() *hdrhistogram.Histogram {
	return hdrhistogram.New(histLowest, histHighest, histDigits)
}

// MaxStatus bounds the status codes counted one by one; codes outside
// [0, MaxStatus) are counted under 0.
const MaxStatus = 1000

// Snapshot is a mergeable aggregate of samples and connection events over
// an interval (or a whole run). Merging two snapshots gives exactly the
// snapshot of the union: counters add, histograms merge.
//
// A Snapshot is not safe for concurrent use.
type Snapshot struct {
	Requests   int64 // requests that ended (with a response or an error)
	OK         int64 // responses with a status below 400
	HTTPErrors int64 // responses with a status of 400 or more
	Errors     int64 // requests that failed without a complete response

	Status     [MaxStatus]int64
	ErrCount   [NumErrClasses]int64
	ErrExample [NumErrClasses]string

	BytesSent     int64 // wire bytes written, headers included
	BytesReceived int64 // wire bytes read, headers included
	BodyBytes     int64 // response body bytes read
	Truncated     int64 // responses whose body exceeded the cap and was cut

	ConnFresh  int64 // connections got for their first request
	ConnReused int64 // connections got again
	Retries    int64 // requests net/http re-sent on another connection
	Redirects  int64 // redirects followed

	// Connection events, from the pool's dialer.
	Dialed        int64
	Closed        int64
	CloseReasons  [NumCloseReasons]int64
	PutIdleErrors [NumCloseReasons]int64
	MaxOpen       int64 // the most connections open at once (a maximum, not a sum, when merged)

	Clamped int64 // values above the histogram range, recorded as its maximum

	// Open-model schedule: iterations whose intended start came
	// (Intended = Sent + Dropped), handed to a VU, dropped for want of a
	// free VU, and started later than the late threshold.
	Intended, Sent, Dropped, Late int64
	// Iterations counts iterations started (open and closed model).
	Iterations int64
	// VUs: the most busy at once, and the number allocated (maxima when
	// merged).
	VUsBusyMax, VUsAllocated int64

	// Answers: responses that asked to close the connection ("Connection:
	// close", or HTTP/1.0 without keep-alive), and HTTP/1.0 responses.
	CloseAnswers, HTTP10 int64

	// Checks passed and failed, over the iterations' requests.
	ChecksPassed, ChecksFailed int64
	// Setup counts the setup requests (a VU's login), which are kept
	// apart: they are in their steps' stats, not in the counts above
	// (their checks are in ChecksPassed and ChecksFailed). SetupFailed
	// counts those that failed: no response, a status of 400 or more, or
	// a failed check.
	Setup, SetupFailed int64
	// Expect counts the requests sent with "Expect: 100-continue" by how
	// the wait for the server's 100 Continue ended (index: ExpectOutcome).
	Expect [NumExpectOutcomes]int64
	// CookiesDropped counts the cookies VUs' jars refused or evicted (over
	// a browser's limits), setup requests included.
	CookiesDropped int64
	// VUsStopped counts the VUs that stopped before the run's end because
	// a step failed with on_failure: stop_vu (or a Go scenario's Setup
	// failed).
	VUsStopped int64
	// Protocols counts the requests by the protocol of the connection
	// they were sent on (index: Protocol; an engine that does not say
	// records ProtoH1), setup requests and requests that got no
	// connection excluded; DialedProto counts the
	// connections established by protocol.
	Protocols   [NumProtocols]int64
	DialedProto [NumProtocols]int64
	// H2 are the HTTP/2 connections' accounts.
	H2 H2Stats
	// Steps are the stats per step, by the recorder's step index.
	Steps []StepStats
	// Proxies are the stats per proxy, by the proxy's index in the run.
	Proxies []ProxyStats
	// Sources are the accounts per source address (--local-addr), Dests
	// per destination address, by slot (see [Recorder.ConnDialedAt]);
	// at most MaxSourceAddrs and MaxDestAddrs.
	Sources, Dests []AddrStats

	hist [numMetrics]*hdrhistogram.Histogram
	// raw, in a shard's snapshot, takes the values on the request's path;
	// foldInto moves them into another snapshot's hist (a shard's
	// snapshot has no histograms of its own).
	raw *[numMetrics]*rawHist
}

// recording returns an empty snapshot that records its histograms'
// values cheaply (a shard's): its values reach histograms only through
// settle, a Merge and foldInto (see [Recorder.Flush]).
func recording() *Snapshot { return &Snapshot{raw: new([numMetrics]*rawHist)} }

// settle moves what the steps of a shard's snapshot counted cheaply (their
// last status's run) into their fields, before the snapshot is merged.
func (s *Snapshot) settle() {
	for i := range s.Steps {
		s.Steps[i].settle()
	}
}

// foldInto moves the values s (a shard's snapshot) recorded cheaply into
// dst's histograms, the steps' latencies included, and clears them. The
// shard's snapshots keep no histograms of their own: a histogram per
// metric per shard, and per spare, would be a quarter of a megabyte each,
// cleared (so resident) once a second.
func (s *Snapshot) foldInto(dst *Snapshot) {
	if s.raw == nil {
		return
	}
	for m, r := range s.raw {
		if r != nil {
			dst.hist[m] = r.fold(dst.hist[m])
		}
	}
	for i := range s.Steps {
		if r := s.Steps[i].rawLatency; r != nil && r.any {
			t := dst.stepStats(i)
			t.latency = r.fold(t.latency)
		}
	}
}

// Hist returns the histogram of m, or nil when nothing was recorded.
func (s *Snapshot) Hist(m Metric) *hdrhistogram.Histogram { return s.hist[m] }

// record counts d in m's histogram.
func (s *Snapshot) record(m Metric, d time.Duration) {
	if !s.recordRaw(m, d) {
		s.recordSlow(m, d)
	}
}

// recordRaw is record's usual case, small enough to be inlined: a shard's
// snapshot counting a value in range in counts it already has. It
// reports false when it did not count d.
func (s *Snapshot) recordRaw(m Metric, d time.Duration) bool {
	if s.raw == nil || uint64(d) > uint64(histHighest) {
		return false
	}
	r := s.raw[m]
	if r == nil {
		return false
	}
	r.counts[rawIndex(int64(d))]++
	r.any = true
	return true
}

func (s *Snapshot) recordSlow(m Metric, d time.Duration) {
	v := int64(d)
	if v > histHighest {
		v = histHighest
		s.Clamped++
	}
	v = max(v, 0)
	if s.raw != nil {
		r := s.raw[m]
		if r == nil {
			r = newRawHist()
			s.raw[m] = r
		}
		r.record(v)
		return
	}
	h := s.hist[m]
	if h == nil {
		h = newHist()
		s.hist[m] = h
	}
	_ = h.RecordValue(v)
}

// Add records one sample. A setup sample (a VU's login) counts in its
// step's stats and in the connection accounts (bytes, connections got),
// not in the run's request counts and latencies.
func (s *Snapshot) Add(x *Sample) {
	if x.NotSent {
		s.addNotSent(x)
		return
	}
	if x.Step > 0 {
		s.stepStats(x.Step-1).add(x, s.raw != nil)
	}
	if x.Proxy > 0 {
		s.addProxied(x)
	}
	if x.Dest > 0 && x.Dest <= MaxDestAddrs && !x.Setup {
		addrStats(&s.Dests, int(x.Dest)-1).add(x)
	}
	s.BytesSent += x.BytesSent
	s.BytesReceived += x.BytesReceived
	s.BodyBytes += x.BodyBytes
	s.CloseAnswers += int64(x.CloseAnswers)
	s.HTTP10 += int64(x.HTTP10)
	s.ConnFresh += int64(x.Fresh)
	s.ConnReused += int64(x.Reused)
	s.Retries += int64(x.Retries)
	s.Redirects += int64(x.Redirects)
	if x.WasIdle && !s.recordRaw(IdleBeforeReuse, x.IdleTime) {
		s.recordSlow(IdleBeforeReuse, x.IdleTime)
	}
	s.CookiesDropped += int64(x.CookiesDropped)
	if x.Setup {
		s.addSetup(x)
		return
	}
	s.Requests++
	if int(x.Proto) < NumProtocols && (x.Fresh+x.Reused > 0 || x.Status != 0) {
		s.Protocols[x.Proto]++ // a request that got no connection spoke nothing
	}
	switch {
	case x.Err != ErrNone:
		s.Errors++
		s.ErrCount[x.Err]++
	case x.Status >= 400:
		s.HTTPErrors++
	default:
		s.OK++
	}
	if x.Err == ErrNone || x.Status != 0 {
		st := x.Status
		if st < 0 || st >= MaxStatus {
			st = 0
		}
		s.Status[st]++
	}
	if x.Truncated {
		s.Truncated++
	}
	s.ChecksPassed += int64(x.ChecksPassed)
	s.ChecksFailed += int64(x.ChecksFailed)
	if x.First {
		s.Iterations++
	}
	// The request's path: recordRaw inlined, record's call only when it
	// does not count.
	if !s.recordRaw(Latency, x.Latency) {
		s.recordSlow(Latency, x.Latency)
	}
	if !s.recordRaw(ServiceTime, x.ServiceTime) {
		s.recordSlow(ServiceTime, x.ServiceTime)
	}
	if x.Scheduled {
		s.addScheduled(x)
	}
	for set := x.PhaseSet & (1<<NumPhases - 1); set != 0; set &= set - 1 {
		i := bits.TrailingZeros16(set)
		if m := Blocked + Metric(i); !s.recordRaw(m, x.Phases[i]) {
			s.recordSlow(m, x.Phases[i])
		}
	}
	if x.Expect != ExpectNone {
		s.addExpect(x)
	}
}

// The rare parts of Add, out of its line: a request's path runs Add's
// code from a cache that the kernel and 50 VUs' requests have emptied
// (bench/instr.sh cache), and code that it skips, in between, is lines
// fetched for nothing.

// addNotSent counts a sample of a step that sent no request: only the
// failed checks count.
//
//go:noinline
func (s *Snapshot) addNotSent(x *Sample) {
	if x.Step > 0 {
		s.stepStats(x.Step - 1).addChecks(x)
	}
	s.ChecksPassed += int64(x.ChecksPassed)
	s.ChecksFailed += int64(x.ChecksFailed)
	switch {
	case x.Setup && x.ChecksFailed > 0:
		s.SetupFailed++
	case !x.Setup && x.First:
		s.Iterations++
	}
}

//go:noinline
func (s *Snapshot) addProxied(x *Sample) { s.proxyStats(x.Proxy - 1).add(x) }

// addSetup counts a setup sample's own counts (its step's, its bytes and
// connections are counted already).
//
//go:noinline
func (s *Snapshot) addSetup(x *Sample) {
	s.Setup++
	if x.Err != ErrNone || x.Status >= 400 || x.ChecksFailed > 0 {
		s.SetupFailed++
	}
	s.ChecksPassed += int64(x.ChecksPassed)
	s.ChecksFailed += int64(x.ChecksFailed)
}

//go:noinline
func (s *Snapshot) addScheduled(x *Sample) {
	s.record(ScheduleLag, x.Lag)
	if x.Late {
		s.Late++
	}
}

//go:noinline
func (s *Snapshot) addExpect(x *Sample) {
	s.Expect[x.Expect]++
	s.record(ContinueWait, x.ContinueWait)
}

// Merge adds o into s.
func (s *Snapshot) Merge(o *Snapshot) { s.MergeYield(o, nil) }

// MergeYield merges like Merge and calls between, if not nil, after each
// histogram: merging a histogram takes a fraction of a millisecond, all
// of them milliseconds, which a single busy CPU should not spend at once
// (runtime.Gosched lets the VUs and the open-model scheduler run).
func (s *Snapshot) MergeYield(o *Snapshot, between func()) {
	s.Requests += o.Requests
	s.OK += o.OK
	s.HTTPErrors += o.HTTPErrors
	s.Errors += o.Errors
	for i, v := range o.Status {
		s.Status[i] += v
	}
	for i, v := range o.ErrCount {
		s.ErrCount[i] += v
		if s.ErrExample[i] == "" {
			s.ErrExample[i] = o.ErrExample[i]
		}
	}
	s.BytesSent += o.BytesSent
	s.BytesReceived += o.BytesReceived
	s.BodyBytes += o.BodyBytes
	s.Truncated += o.Truncated
	s.ConnFresh += o.ConnFresh
	s.ConnReused += o.ConnReused
	s.Retries += o.Retries
	s.Redirects += o.Redirects
	s.Dialed += o.Dialed
	s.Closed += o.Closed
	for i := range s.CloseReasons {
		s.CloseReasons[i] += o.CloseReasons[i]
		s.PutIdleErrors[i] += o.PutIdleErrors[i]
	}
	s.MaxOpen = max(s.MaxOpen, o.MaxOpen)
	s.Clamped += o.Clamped
	s.Intended += o.Intended
	s.Sent += o.Sent
	s.Dropped += o.Dropped
	s.Late += o.Late
	s.Iterations += o.Iterations
	s.VUsBusyMax = max(s.VUsBusyMax, o.VUsBusyMax)
	s.VUsAllocated = max(s.VUsAllocated, o.VUsAllocated)
	s.CloseAnswers += o.CloseAnswers
	s.HTTP10 += o.HTTP10
	s.ChecksPassed += o.ChecksPassed
	s.ChecksFailed += o.ChecksFailed
	s.Setup += o.Setup
	for i := range s.Expect {
		s.Expect[i] += o.Expect[i]
	}
	s.SetupFailed += o.SetupFailed
	s.VUsStopped += o.VUsStopped
	s.CookiesDropped += o.CookiesDropped
	for i := range s.Protocols {
		s.Protocols[i] += o.Protocols[i]
		s.DialedProto[i] += o.DialedProto[i]
	}
	s.H2.merge(&o.H2)
	for i := range o.Steps {
		s.stepStats(i).merge(&o.Steps[i])
		if between != nil && o.Steps[i].latency != nil {
			between()
		}
	}
	for i := range o.Proxies {
		s.proxyStats(i).merge(&o.Proxies[i])
	}
	mergeAddrs(&s.Sources, o.Sources, MaxSourceAddrs)
	mergeAddrs(&s.Dests, o.Dests, MaxDestAddrs)
	for i, h := range o.hist {
		s.hist[i] = mergeHist(s.hist[i], h)
		if between != nil && h != nil {
			between()
		}
	}
}

func mergeHist(dst, src *hdrhistogram.Histogram) *hdrhistogram.Histogram {
	if src == nil || src.TotalCount() == 0 {
		return dst
	}
	if dst == nil {
		dst = newHist()
	}
	dst.Merge(src)
	return dst
}

// Reset empties s, keeping its histograms' memory.
func (s *Snapshot) Reset() { s.ResetYield(nil) }

// ResetYield resets like Reset and calls between, if not nil, after each
// histogram it clears (a quarter of a megabyte each).
func (s *Snapshot) ResetYield(between func()) {
	hist, steps, proxies, raw := s.hist, s.Steps, s.Proxies, s.raw
	sources, dests := s.Sources, s.Dests
	*s = Snapshot{raw: raw, Sources: resetAddrs(sources), Dests: resetAddrs(dests)}
	for i, h := range hist {
		if h != nil && h.TotalCount() > 0 {
			h.Reset()
			if between != nil {
				between()
			}
		}
		s.hist[i] = h
	}
	for i := range steps {
		steps[i].reset()
	}
	s.Steps = steps
	clear(proxies)
	s.Proxies = proxies
}

// Clone returns a deep copy of s.
func (s *Snapshot) Clone() *Snapshot {
	c := &Snapshot{}
	c.Merge(s)
	c.MaxOpen = s.MaxOpen
	return c
}
