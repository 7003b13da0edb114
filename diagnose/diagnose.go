package diagnose

import (
	"fmt"
	"net/netip"
	"sort"
	"strings"
	"time"

	"github.com/faya-load/faya/metrics"
)

// Severity says how much a finding matters.
type Severity string

// Severities, from least to most serious.
const (
	// Info is a fact worth knowing; nothing needs to change.
	Info Severity = "info"
	// Warning is waste or a distortion of the measurement with a fix.
	Warning Severity = "warning"
	// Error means the run's numbers or the machine are at risk.
	Error Severity = "error"
)

func (s Severity) rank() int {
	switch s {
	case Error:
		return 2
	case Warning:
		return 1
	}
	return 0
}

// Finding is one diagnosis: what was seen, the numbers from the run that
// show it, and what to change.
type Finding struct {
	ID       string   `json:"id"`
	Severity Severity `json:"severity"`
	Title    string   `json:"title"`
	Evidence string   `json:"evidence"`
	Fix      string   `json:"fix"`
}

// Config is what the run was configured to do, as far as the findings
// need it. Pool limits are the effective ones; 0 means no limit.
type Config struct {
	// Engine is the HTTP engine that ran ("h1", "net/http"): findings
	// name what it did.
	Engine string
	// Concurrency is the number of VUs (closed model) or the most VUs
	// (open model): the requests that can be in flight at once.
	Concurrency int
	Open        bool
	// PerVUPools is set when each VU had its own pool (conn scope "vu");
	// the pool limits are then per VU.
	PerVUPools          bool
	MaxConnsPerHost     int
	MaxIdleConnsPerHost int
	MaxIdleConns        int
	IdleConnTimeout     time.Duration
	DisableKeepAlives   bool
	MaxBody             int64 // 0: no cap
	LateThreshold       time.Duration
	// HTTP is the --http mode ("" for auto, "1.1", "2"); H2Offered says
	// the run offered h2 by ALPN (auto or 2, an engine that speaks
	// HTTP/2, an https target).
	HTTP      string
	H2Offered bool
	// H2MaxStreams is the client's cap of streams per HTTP/2 connection
	// (--h2-max-streams; 0: what the server allows, or the default
	// engine's ceil(Concurrency / MaxConnsPerHost)); H2StrictStreams
	// says the pool opened no connection while one was open
	// (--h2-strict-streams).
	H2MaxStreams    int
	H2StrictStreams bool
	// Proxied says the requests went through a proxy (--proxy, or from
	// the environment): the connections the client saw closed are the
	// proxy's.
	Proxied bool
	// Stages are the plan's load over time, from the run's start: VUs
	// (ramping-vus), or arrivals per second with StagesRate
	// (ramping-rate); nil for a constant load or several scenarios. The
	// idle-in-quiet-hours finding reads its quiet stage from them.
	Stages     []Stage
	StagesRate bool
}

// Sockets are readings of the kernel's socket table for the target.
type Sockets struct {
	// Watched is set when the table could be read.
	Watched bool
	// TIME_WAIT sockets to the target: before the run, after it, and the
	// most during it (estimated from the host-wide rise).
	TimeWaitBefore, TimeWaitAfter, TimeWaitPeak int
	// HostPeak is the most TIME_WAIT sockets on the whole host during the
	// run.
	HostPeak int
	// PortLo and PortHi bound the ephemeral port range.
	PortLo, PortHi int
	// Sources are the TIME_WAIT sockets to the target by source address,
	// when the connections bound --local-addr addresses: each address
	// has the whole port range to itself.
	Sources []SourceSockets
}

// SourceSockets are the TIME_WAIT sockets to the target from one source
// address: before the run, after it, and the most during it.
type SourceSockets struct {
	Addr                                        netip.Addr
	TimeWaitBefore, TimeWaitAfter, TimeWaitPeak int
}

// Input is what Analyze reads: the run's configuration, its measurements
// and the socket readings.
type Input struct {
	Config     Config
	Total      *metrics.Snapshot
	Timeline   []metrics.Point
	Duration   time.Duration
	Scheduling time.Duration
	Sockets    Sockets
	// GeneratorBusy is the share of its CPUs (GOMAXPROCS) the generator
	// used during the run, 0 when unknown.
	GeneratorBusy float64
	CPUs          int
	// StepSetup marks the setup steps among Total.Steps, index for index.
	StepSetup []bool
	// RunDelay is how long the generator's threads waited for a CPU while
	// runnable during the run (summed over its threads, from the kernel's
	// schedstat), -1 when unknown. A generator that waited long without
	// being busy was starved by others on the machine.
	RunDelay time.Duration
	// Start is when the run's clock started (wall time; zero: unknown),
	// for findings that name a time of the run.
	Start time.Time
}

// TimeWaitShare is the share of the ephemeral port range above which the
// TIME_WAIT sockets to one target get a warning (and above five times it,
// an error).
const TimeWaitShare = 0.10

// Analyze returns the findings of a run, the most serious first. A clean
// run gets one info finding that says so.
func Analyze(in Input) []Finding {
	if in.Total == nil {
		in.Total = &metrics.Snapshot{}
	}
	a := analysis{Input: in, s: in.Total}
	a.failures()
	a.httpErrors()
	a.setupFailed()
	a.vusStopped()
	a.cookiesDropped()
	a.localErrors()
	a.timeWait()
	if !a.failed() {
		// On a run that mostly failed, the pool and the schedule saw
		// too little to be judged.
		a.poolTooSmall()
		a.unboundedConns()
		a.poolWait()
		a.keepAlivesDisabled()
		a.serverCloses()
		a.serverGoAway()
		a.h2NotNegotiated()
		a.streamLimit()
		a.singleConnBottleneck()
		a.serverIdleCloses()
		a.idleInQuietHours()
		a.silentRetries()
		a.writeLate()
		a.bodiesNotDrained()
		a.rateShortfall()
		a.closedStall()
	}
	a.clean()
	sort.SliceStable(a.out, func(i, j int) bool { return a.out[i].Severity.rank() > a.out[j].Severity.rank() })
	return a.out
}

type analysis struct {
	Input
	s   *metrics.Snapshot
	out []Finding
}

func (a *analysis) add(f Finding) {
	if a.Config.Proxied && (f.ID == "server-closes" || f.ID == "server-idle-timeout") {
		f = viaProxy(f)
	}
	a.out = append(a.out, f)
}

// viaProxy is a finding on the closes a run saw, made true of a run
// through a proxy: the client's connections are to the proxy (a
// forwarding proxy's own, or a tunnel that either end may close), so
// the closes are the proxy's, or the server's passed on through it; the
// fix looks at the proxy's keep-alive toward the client too.
func viaProxy(f Finding) Finding {
	f.Title = strings.Replace(f.Title, "The server", "The server or the proxy", 1)
	f.Evidence += " Requests went through a proxy: the client's connections are to the proxy, so these closes are the proxy's own, or the server's passed on through it."
	f.Fix += "; through a proxy, first check the proxy's own keep-alive toward its clients (its idle timeout, its requests per connection): the client sees its closes, not the server's"
	return f
}

// concurrency is the requests that could be in flight at once: the VUs,
// or more when more were seen busy.
func (a *analysis) concurrency() int {
	return max(a.Config.Concurrency, int(a.s.VUsBusyMax), 1)
}

// minConns is the fewest connections the run could have used.
func (a *analysis) minConns() int64 {
	if a.Config.DisableKeepAlives {
		return a.s.Requests
	}
	return int64(a.concurrency())
}

// churn is the connections dialed beyond the fewest possible.
func (a *analysis) churn() int64 { return max(a.s.Dialed-a.minConns(), 0) }

func (a *analysis) reason(r metrics.CloseReason) int64 { return a.s.CloseReasons[r] }

func (a *analysis) putIdle(r metrics.CloseReason) int64 { return a.s.PutIdleErrors[r] }

// engineName names the engine that ran, for the findings' evidence.
func (a *analysis) engineName() string {
	if a.Config.Engine == "net/http" {
		return "net/http"
	}
	return "faya's h1 engine"
}

func (a *analysis) poolTooSmall() {
	c := a.concurrency()
	for _, k := range []struct {
		reason      metrics.CloseReason
		flag, field string
		limit       int
	}{
		{metrics.CloseTooManyIdleForHost, "--max-idle-conns-per-host", "MaxIdleConnsPerHost", a.Config.MaxIdleConnsPerHost},
		{metrics.CloseTooManyIdle, "--max-idle-conns", "MaxIdleConns", a.Config.MaxIdleConns},
	} {
		n := a.putIdle(k.reason)
		if n == 0 {
			continue
		}
		sev := Warning
		if a.s.Requests > 0 && float64(n) > 0.1*float64(a.s.Requests) {
			sev = Error
		}
		want := c
		if k.limit >= c {
			want = 2 * k.limit // more requests were in flight than the VUs say (redirects, other hosts)
		}
		want = poolFloor(want)
		a.add(Finding{
			ID:       "idle-pool-too-small",
			Severity: sev,
			Title:    fmt.Sprintf("The idle pool is smaller than the concurrency: %s thrown away and dialed again", plural(n, "connection")),
			Evidence: fmt.Sprintf("%d connections dialed for %d concurrent requests (at least %d needed); %s closed right after their request because %s (%d) idle connections were already kept (%s %d). Each one cost a new TCP%s handshake and left a socket in TIME_WAIT.",
				a.s.Dialed, c, a.minConns(), were(n), k.field, k.limit, k.reason, n, tlsNote(a.s)),
			Fix: fmt.Sprintf("%s %d (in Go: http.Transport.%s = %d), the concurrency seen", k.flag, want, k.field, want),
		})
	}
}

func plural(n int64, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}

// were is "1 was" or "N were".
func were(n int64) string {
	if n == 1 {
		return "1 was"
	}
	return fmt.Sprintf("%d were", n)
}

func tlsNote(s *metrics.Snapshot) string {
	if h := s.Hist(metrics.TLS); h != nil && h.TotalCount() > 0 {
		return "+TLS"
	}
	return ""
}

func (a *analysis) unboundedConns() {
	if a.Config.MaxConnsPerHost != 0 || a.Config.DisableKeepAlives || a.Config.PerVUPools {
		return
	}
	c := int64(a.concurrency())
	over := a.s.MaxOpen > c+max(2, c/10)
	if !over && a.churn() <= c/10+2 {
		return
	}
	a.add(Finding{
		ID:       "unbounded-connections",
		Severity: Warning,
		Title:    "Connections are not capped: more were opened than requests can be in flight",
		Evidence: fmt.Sprintf("MaxConnsPerHost is unset (no limit); %d connections were open at once and %d dialed in all for %d concurrent requests. Without a cap, net/http dials a new connection whenever a request finds no idle one for an instant, even when one is about to be returned.",
			a.s.MaxOpen, a.s.Dialed, c),
		Fix: fmt.Sprintf("--max-conns-per-host %d (in Go: http.Transport.MaxConnsPerHost = %d)", poolFloor(int(c)), poolFloor(int(c))),
	})
}

// MinPool is the smallest pool (a cap of connections, or of idle ones) a
// finding recommends: with one, a request waits while the connection
// closes and another is dialed (a server's close, a GOAWAY), and a burst's
// requests queue behind each other.
const MinPool = 2

// poolFloor is a pool size to recommend for n: n, or MinPool if more.
func poolFloor(n int) int { return max(n, MinPool) }

func (a *analysis) poolWait() {
	limit := a.Config.MaxConnsPerHost
	c := a.concurrency()
	if limit <= 0 || limit >= c || a.Config.PerVUPools {
		return
	}
	if a.s.Protocols[metrics.ProtoH2] > a.s.Protocols[metrics.ProtoH1] {
		// Over HTTP/2 the VUs share connections' streams: a request
		// queues for a stream slot (stream_wait: stream-limit judges it),
		// and its blocked is the wait for a connection being dialed (the
		// first, or one replacing a connection the server ended), which
		// a connection per VU would not spare.
		return
	}
	blocked := metrics.DistOf(a.s.Hist(metrics.Blocked))
	lat := metrics.DistOf(a.s.Hist(metrics.Latency))
	if blocked.Count == 0 || lat.Mean <= 0 || float64(blocked.Mean) < 0.1*float64(lat.Mean) {
		return
	}
	share := 100 * float64(blocked.Mean) / float64(lat.Mean)
	a.add(Finding{
		ID:       "pool-wait",
		Severity: Warning,
		Title:    fmt.Sprintf("Requests wait for a connection: %.0f%% of the latency is the wait for the pool", share),
		Evidence: fmt.Sprintf("%d VUs share at most %d connections (MaxConnsPerHost); a request waited %s at the median and %s at the p99 for one (blocked), of a mean latency of %s.",
			c, limit, dur(blocked.P50), dur(blocked.P99), dur(lat.Mean)),
		Fix: fmt.Sprintf("--max-conns-per-host %d (the concurrency) so each VU has its connection; keep the cap only if queueing in the client is what you want to measure", poolFloor(c)),
	})
}

func (a *analysis) keepAlivesDisabled() {
	if !a.Config.DisableKeepAlives {
		return
	}
	a.add(Finding{
		ID:       "keepalives-disabled",
		Severity: Warning,
		Title:    "Keep-alives are disabled: every request opens its own connection",
		Evidence: fmt.Sprintf("--disable-keepalives: %d requests dialed %d connections; connect%s time is in every request (connect p50 %s).",
			a.s.Requests, a.s.Dialed, tlsNote(a.s), dur(metrics.DistOf(a.s.Hist(metrics.Connect)).P50)),
		Fix: "drop --disable-keepalives (in Go: http.Transport.DisableKeepAlives = false) unless connection setup is what you mean to measure",
	})
}

// oneRequestEach reports a server that closes after each answer, its
// closes seen late: every connection the run closed had carried one
// request at most, and most of its idle closes were found when the next
// request was sent on the connection (and re-sent). Such idle closes are
// closes after the request, not a keep-alive timeout (which a client sees
// while the connection sits idle, before it is used again).
//
// Or a few such idle closes among many closes right after a request (ten
// times as many at least): the same closes, a few seen while the
// connection sat idle because the next request came late (a loaded
// client's VU descheduled past transport.QuickClose).
func (a *analysis) oneRequestEach() bool {
	per := metrics.DistOf(a.s.Hist(metrics.ConnRequests))
	idle := a.reason(metrics.CloseServerIdle)
	if per.Count < MinIdleObservations || per.Max > 1 || idle == 0 {
		return false
	}
	return idle >= MinIdleObservations && 2*a.s.Retries >= idle || a.reason(metrics.CloseServer) >= 10*idle
}

func (a *analysis) serverCloses() {
	byServer := a.reason(metrics.CloseServer)
	if a.oneRequestEach() {
		byServer += a.reason(metrics.CloseServerIdle)
	}
	answers := a.s.CloseAnswers
	if byServer == 0 && answers == 0 || a.Config.DisableKeepAlives {
		return
	}
	var what []string
	if answers > 0 {
		what = append(what, fmt.Sprintf("%d of %d responses asked to close the connection", answers, a.s.Requests))
	}
	if a.s.HTTP10 > 0 {
		what = append(what, fmt.Sprintf("%d were HTTP/1.0 answers", a.s.HTTP10))
	}
	if eof := byServer - min(answers, byServer); eof > 0 {
		what = append(what, fmt.Sprintf("%d connections were closed by the server (EOF or reset) after a request without saying so", eof))
	}
	evidence := strings.Join(what, "; ") + fmt.Sprintf(". %d connections were dialed for %d requests.", a.s.Dialed, a.s.Requests)
	fix := "nothing on the client can keep these connections: make the server keep connections alive (HTTP/1.1 keep-alive; e.g. nginx keepalive_timeout above 0)"
	title := "The server closes connections"
	per := metrics.DistOf(a.s.Hist(metrics.ServerCloseRequests))
	switch {
	case a.s.Requests > 0 && answers >= a.s.Requests*95/100:
		title = "The server does not keep connections alive: every request pays a new connection"
		if a.s.HTTP10 >= answers*95/100 {
			title = "The server answers HTTP/1.0 without keep-alive: every request pays a new connection"
		}
	case per.Count > 0 && per.P50 > 1 && per.P50 == per.Max:
		// Connections closed by the server all after the same number of
		// requests: a per-connection request limit.
		n := int64(per.P50)
		title = fmt.Sprintf("The server closes each connection after %d requests", n)
		evidence += fmt.Sprintf(" The %d connections the server closed carried %d requests each.", per.Count, n)
		fix = fmt.Sprintf("raise the server's per-connection request limit (e.g. nginx keepalive_requests, now %d); Go's client has no setting for it", n)
	}
	sev := Warning
	if a.s.Dialed > 0 && a.s.Requests > 0 && float64(a.s.Dialed) < 0.01*float64(a.s.Requests) {
		sev = Info // a few closes in a long run
	}
	a.add(Finding{ID: "server-closes", Severity: sev, Title: title, Evidence: evidence, Fix: fix})
}

// MinIdleObservations is how many idle closes by the server a finding
// needs before it names the server's keep-alive timeout.
const MinIdleObservations = 3

// MinIdleTimeout is the shortest client idle timeout a finding
// recommends: below it a client reconnects between requests as often as
// the server's short timeout makes it.
const MinIdleTimeout = time.Second

// serverTimeout estimates the server's keep-alive timeout from the idle
// closes it made: the shortest idle time after which it closed one. ok is
// false with fewer than MinIdleObservations of them.
func (a *analysis) serverTimeout() (d time.Duration, ok bool) {
	idle := metrics.DistOf(a.s.Hist(metrics.ServerIdleClose))
	return idle.Min, idle.Count >= MinIdleObservations
}

// idleFix is the client setting that keeps clear of a server keep-alive
// timeout of server, or "" when none should be recommended: 80% of it,
// rounded to the nearest number a person would type (the histogram's
// bucket puts a 5 s timeout at 4.997 s: 4 s, not 3.9 s), so between 75%
// and 85% of it.
func idleFix(server time.Duration) string {
	suggest := roundNear(server * 8 / 10)
	if suggest < MinIdleTimeout {
		return ""
	}
	return fmt.Sprintf("--idle-conn-timeout %s (in Go: http.Transport.IdleConnTimeout = %s)", suggest, goDuration(suggest))
}

func (a *analysis) serverIdleCloses() {
	idle := metrics.DistOf(a.s.Hist(metrics.ServerIdleClose))
	if idle.Count == 0 || a.oneRequestEach() {
		return
	}
	ev := fmt.Sprintf("The server closed %s while they sat idle in the pool; they had been idle %s at the least and %s at the median, while the client keeps idle connections for %s (IdleConnTimeout).",
		plural(idle.Count, "connection"), dur(idle.Min), dur(idle.P50), a.Config.IdleConnTimeout)
	if a.s.Retries > 0 {
		ev += fmt.Sprintf(" %d requests were sent on such a connection and re-sent by %s.", a.s.Retries, a.engineName())
	}
	server, enough := a.serverTimeout()
	if enough && idle.P90 > 2*idle.Min+time.Second {
		// A keep-alive timeout closes connections after one idle time
		// (seen a little later by a client that looks now and then);
		// closes spread this wide are something else.
		a.add(Finding{
			ID:       "server-idle-timeout",
			Severity: Info,
			Title:    fmt.Sprintf("The server closed %s that sat idle for %s to %s: not one keep-alive timeout", plural(idle.Count, "connection"), dur(idle.Min), dur(idle.Max)),
			Evidence: ev + " Idle times this spread out do not come from a keep-alive timeout: the server closed them for another reason (a restart or a reload, or a limit on its idle connections).",
			Fix:      "check the server's log for a restart or a reload at the time; no client setting follows from these closes",
		})
		return
	}
	if !enough {
		a.add(Finding{
			ID:       "server-idle-timeout",
			Severity: Info,
			Title:    fmt.Sprintf("The server closed %s that sat idle", plural(idle.Count, "connection")),
			Evidence: ev + fmt.Sprintf(" %s too few to tell the server's keep-alive timeout.", plural(idle.Count, "close is")),
			Fix:      "nothing yet; a longer run shows whether the server's keep-alive timeout is shorter than the client's",
		})
		return
	}
	sev := Info
	if a.Config.IdleConnTimeout > server {
		sev = Warning
	}
	fix := idleFix(server)
	if fix == "" {
		fix = fmt.Sprintf("raise the server's keep-alive timeout (e.g. nginx keepalive_timeout, Apache KeepAliveTimeout) well above %s: a timeout this short makes every client reconnect after a pause; a client idle timeout below it would close connections as often", dur(server))
	} else {
		fix += ", below the server's, so the client closes first and never sends on a connection the server is closing"
	}
	a.add(Finding{
		ID:       "server-idle-timeout",
		Severity: sev,
		Title:    fmt.Sprintf("The server closes idle connections after about %s, before the client does", dur(server)),
		Evidence: ev,
		Fix:      fix,
	})
}

func (a *analysis) silentRetries() {
	if a.s.Retries == 0 {
		return
	}
	if a.s.Protocols[metrics.ProtoH2] > 0 && a.s.Protocols[metrics.ProtoH1] == 0 {
		// Over HTTP/2 a request goes again only when the server said it
		// did not process it (REFUSED_STREAM, above a GOAWAY's last
		// stream): nothing silent, nothing seen twice; server-goaway
		// and connections.h2 tell of them.
		return
	}
	fix := "keep the client's idle timeout below the server's keep-alive timeout, so that the client drops idle connections before the server does"
	if server, ok := a.serverTimeout(); ok {
		if f := idleFix(server); f != "" {
			fix = fmt.Sprintf("%s, below the %s after which the server closed idle connections", f, dur(server))
		}
	}
	if a.silentCloses() > 0 || a.oneRequestEach() {
		fix = "make the server (or the proxy in front of it) keep connections alive, or answer with \"Connection: close\" when it will close: it closes connections after its answer without saying so, and a client finds out only when it sends the next request"
	}
	a.add(Finding{
		ID:       "silent-retries",
		Severity: Warning,
		Title:    fmt.Sprintf("%s silently re-sent %d requests", a.engineName(), a.s.Retries),
		Evidence: fmt.Sprintf("%d requests were written on a pooled connection that turned out closed by the server, and %s re-sent them on another connection. Each counts once in this report; the server may have seen two.", a.s.Retries, a.engineName()),
		Fix:      fix,
	})
}

// silentCloses is the connections the server closed after a request
// without saying so (no "Connection: close"): closed by the server beyond
// those its answers announced.
func (a *analysis) silentCloses() int64 {
	by := a.reason(metrics.CloseServer)
	return by - min(a.s.CloseAnswers, by)
}

// writeLate reports connections net/http dropped because its writer had
// not confirmed the write 50 ms after the answer.
func (a *analysis) writeLate() {
	n := a.reason(metrics.CloseWriteLate)
	if n == 0 {
		return
	}
	ev := fmt.Sprintf("net/http closed %s right after a request whose answer was read whole, because its writer goroutine had not reported the request written 50 ms after the answer (net/http then drops the connection: golang/go#7569); a later request dialed a replacement for each.", plural(n, "connection"))
	var causes []string
	if a.RunDelay > 0 && a.Duration > 0 {
		causes = append(causes, fmt.Sprintf("the generator's threads waited %s in all for a CPU during the %s run (run delay from the kernel's schedstat), so a goroutine could wait that long", dur(a.RunDelay), dur(a.Duration)))
	}
	if a.s.Requests > 0 {
		if per := a.s.BytesSent / a.s.Requests; per >= 64<<10 {
			causes = append(causes, fmt.Sprintf("the requests carry about %d kB each, so a server that answers before it has read the whole request body causes it", per>>10))
		}
	}
	if len(causes) > 0 {
		ev += " Likely cause: " + strings.Join(causes, "; or ") + "."
	}
	sev := Info
	if a.s.Dialed > 0 && float64(n) > 0.05*float64(a.s.Dialed) {
		sev = Warning
	}
	a.add(Finding{
		ID:       "write-late",
		Severity: sev,
		Title:    fmt.Sprintf("net/http closed %s after their answers: its writer was late", plural(n, "connection")),
		Evidence: ev,
		Fix:      "give the generator CPUs of its own (fewer processes beside it, taskset); a server that answers uploads early is not the client's to fix. The h1 engine (--engine h1) finishes each write before it reads the answer and keeps such connections",
	})
}

func (a *analysis) bodiesNotDrained() {
	n := a.reason(metrics.CloseBodyNotDrained)
	if n == 0 && a.s.Truncated == 0 {
		return
	}
	a.add(Finding{
		ID:       "body-not-drained",
		Severity: Warning,
		Title:    fmt.Sprintf("Response bodies not read to the end (%d): their connections were closed instead of reused", max(n, a.s.Truncated)),
		Evidence: fmt.Sprintf("%d responses were longer than the body cap (%d bytes) and were cut; net/http returns a connection to the pool only after its body was read to EOF, so %d connections were closed instead of reused.",
			a.s.Truncated, a.Config.MaxBody, n),
		Fix: "raise --max-body above the largest response (0: no cap); in Go, read every body to EOF (io.Copy(io.Discard, resp.Body)) before Close",
	})
}

func (a *analysis) timeWait() {
	so := a.Sockets
	if !so.Watched || so.PortLo <= 0 || so.PortHi < so.PortLo { // the port range is needed
		return
	}
	ports := so.PortHi - so.PortLo + 1
	peak := max(so.TimeWaitPeak, so.TimeWaitAfter)
	share := float64(peak) / float64(ports)
	ev := fmt.Sprintf("%d local sockets to the target were in TIME_WAIT after the run (%d before, about %d at most during it): %.1f%% of the %d ephemeral ports (%d-%d). A socket stays in TIME_WAIT for 60 s after the side that closed first closed it, holding its port for this target.",
		so.TimeWaitAfter, so.TimeWaitBefore, so.TimeWaitPeak, 100*share, ports, so.PortLo, so.PortHi)
	more, from := "spread source addresses (--local-addr)", ""
	if n := len(so.Sources); n > 0 {
		// Each source address has the whole port range: the budget is
		// theirs together, and the fullest one runs out first.
		fullest := so.Sources[0]
		for _, s := range so.Sources[1:] {
			if max(s.TimeWaitPeak, s.TimeWaitAfter) > max(fullest.TimeWaitPeak, fullest.TimeWaitAfter) {
				fullest = s
			}
		}
		top := max(fullest.TimeWaitPeak, fullest.TimeWaitAfter)
		share = float64(top) / float64(ports)
		ev = fmt.Sprintf("%d local sockets to the target were in TIME_WAIT after the run (%d before, about %d at most during it), from %d source addresses (--local-addr) with %d ephemeral ports each (%d-%d), %d in all: %.1f%% of them. The fullest address, %s, held %d (%d after the run): %.1f%% of its ports. A socket stays in TIME_WAIT for 60 s after the side that closed first closed it, holding its port for this target.",
			so.TimeWaitAfter, so.TimeWaitBefore, so.TimeWaitPeak, n, ports, so.PortLo, so.PortHi, n*ports, 100*float64(peak)/float64(n*ports),
			fullest.Addr, top, fullest.TimeWaitAfter, 100*share)
		peak = top
		more = fmt.Sprintf("add source addresses to the %d of --local-addr", n)
		from = fmt.Sprintf(" from %s (the fullest of %d source addresses)", fullest.Addr, n)
	}
	switch {
	case share > 5*TimeWaitShare:
		a.add(Finding{ID: "time-wait", Severity: Error,
			Title:    fmt.Sprintf("Half the ephemeral ports to the target%s are in TIME_WAIT (%d)", from, peak),
			Evidence: ev,
			Fix:      "reuse connections (see the findings above: idle pool, keep-alives, server closes); or " + more + "; or widen net.ipv4.ip_local_port_range"})
	case share > TimeWaitShare:
		a.add(Finding{ID: "time-wait", Severity: Warning,
			Title:    fmt.Sprintf("%d sockets to the target%s are in TIME_WAIT: %.0f%% of the ephemeral ports", peak, from, 100*share),
			Evidence: ev,
			Fix:      "reuse connections (see the findings above), or " + more + "; a longer run at this churn would run out of ports"})
	case so.TimeWaitAfter-so.TimeWaitBefore > int(a.minConns()):
		a.add(Finding{ID: "time-wait", Severity: Info,
			Title:    fmt.Sprintf("%d new sockets to the target in TIME_WAIT", so.TimeWaitAfter-so.TimeWaitBefore),
			Evidence: ev,
			Fix:      "nothing yet; churn (connections dialed again and again) makes this grow"})
	}
}

func (a *analysis) localErrors() {
	n := a.s.ErrCount[metrics.ErrLocal]
	if n == 0 {
		return
	}
	a.add(Finding{
		ID:       "generator-resources",
		Severity: Error,
		Title:    fmt.Sprintf("%d requests failed on the generator's side: it ran out of file descriptors or ports", n),
		Evidence: fmt.Sprintf("%d requests failed with a local error, e.g. %q. The target is not to blame for these.", n, a.s.ErrExample[metrics.ErrLocal]),
		Fix:      "raise the open-file limit (ulimit -n), reuse connections, or lower the concurrency",
	})
}

// clean says a run had nothing to change: no other finding, few errors,
// and connections reused about as much as the concurrency allows. Its
// evidence is computed from the run.
func (a *analysis) clean() {
	s := a.s
	if s.Requests == 0 || len(a.out) > 0 || a.errorShare() > 0.01 {
		return
	}
	least := a.minConns()
	perConn := metrics.DistOf(s.Hist(metrics.ConnRequests))
	if s.Requests < 2*least {
		a.add(Finding{
			ID:       "too-short",
			Severity: Info,
			Title:    fmt.Sprintf("%d requests over %s: too few to judge connection reuse", s.Requests, plural(s.Dialed, "connection")),
			Evidence: fmt.Sprintf("%d concurrent requests need %d connections, and %d requests are fewer than two for each.", a.concurrency(), least, s.Requests),
			Fix:      fmt.Sprintf("send more requests (-n %d or more, or -d) to see the pool at work", 10*least),
		})
		return
	}
	if s.Dialed > least+max(1, least/20) {
		return // churn without another finding to explain it: no all-clear
	}
	msg := fmt.Sprintf("%d requests over %s; nothing to change", s.Requests, plural(s.Dialed, "connection"))
	if perConn.Count > 0 && perConn.Min >= 2 && s.Dialed <= int64(a.concurrency()) {
		msg = fmt.Sprintf("%d requests over %s, every connection reused; nothing to change", s.Requests, plural(s.Dialed, "connection"))
	}
	best := 100 * (1 - float64(least)/float64(s.Requests))
	early := int64(0)
	for r, n := range s.CloseReasons {
		if metrics.CloseReason(r) != metrics.CloseRunEnd && metrics.CloseReason(r) != metrics.CloseUnused {
			early += n
		}
	}
	closes := "no connection closed before the run's end"
	if early > 0 {
		closes = fmt.Sprintf("%s closed before the run's end", plural(early, "connection"))
	}
	a.add(Finding{
		ID:       "clean",
		Severity: Info,
		Title:    msg,
		Evidence: fmt.Sprintf("reuse ratio %.2f%% (the most %d concurrent requests allow is %.2f%%); %s of %d requests failed or got an error status; %s; no idle-put refusals, no retries",
			reuse(s), a.concurrency(), best, pct(a.errorShare()), s.Requests, closes),
	})
}

func reuse(s *metrics.Snapshot) float64 {
	if used := s.ConnFresh + s.ConnReused; used > 0 {
		return 100 * float64(s.ConnReused) / float64(used)
	}
	return 0
}

func dur(d time.Duration) string {
	switch {
	case d < time.Microsecond:
		return d.String()
	case d < time.Millisecond:
		return fmt.Sprintf("%.0fµs", float64(d)/1e3)
	case d < time.Second:
		return fmt.Sprintf("%.1fms", float64(d)/1e6)
	}
	return fmt.Sprintf("%.2fs", d.Seconds())
}

// roundNear rounds d to the nearest number a person would type: whole
// seconds from 10 s, tenths of a second from 1 s, milliseconds below.
func roundNear(d time.Duration) time.Duration {
	switch {
	case d >= 10*time.Second:
		return d.Round(time.Second)
	case d >= time.Second:
		return d.Round(100 * time.Millisecond)
	case d >= time.Millisecond:
		return d.Round(time.Millisecond)
	}
	return max(d, time.Millisecond)
}

// goDuration writes d as a Go expression.
func goDuration(d time.Duration) string {
	switch {
	case d%time.Second == 0:
		return fmt.Sprintf("%d * time.Second", d/time.Second)
	case d%time.Millisecond == 0:
		return fmt.Sprintf("%d * time.Millisecond", d/time.Millisecond)
	}
	return fmt.Sprintf("%d * time.Microsecond", d/time.Microsecond)
}
