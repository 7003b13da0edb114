package diagnose

import (
	"fmt"
	"math"
	"sort"
	"strings"
	"time"

	"github.com/faya-load/faya/metrics"
	"github.com/faya-load/faya/transport"
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
	a.poolTooSmall()
	a.unboundedConns()
	a.poolWait()
	a.keepAlivesDisabled()
	a.serverCloses()
	a.serverIdleCloses()
	a.silentRetries()
	a.bodiesNotDrained()
	a.timeWait()
	a.localErrors()
	a.rateShortfall()
	if !a.serious() {
		a.clean()
	}
	sort.SliceStable(a.out, func(i, j int) bool { return a.out[i].Severity.rank() > a.out[j].Severity.rank() })
	return a.out
}

type analysis struct {
	Input
	s   *metrics.Snapshot
	out []Finding
}

func (a *analysis) add(f Finding) { a.out = append(a.out, f) }

func (a *analysis) serious() bool {
	for _, f := range a.out {
		if f.Severity != Info {
			return true
		}
	}
	return false
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

func (a *analysis) reason(name string) int64 { return a.s.CloseReasons[reasonIndex(name)] }

func (a *analysis) putIdle(name string) int64 { return a.s.PutIdleErrors[reasonIndex(name)] }

func (a *analysis) poolTooSmall() {
	c := a.concurrency()
	for _, k := range []struct {
		reason, flag, field string
		limit               int
	}{
		{"too_many_idle_for_host", "--max-idle-conns-per-host", "MaxIdleConnsPerHost", a.Config.MaxIdleConnsPerHost},
		{"too_many_idle", "--max-idle-conns", "MaxIdleConns", a.Config.MaxIdleConns},
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
		a.add(Finding{
			ID:       "idle-pool-too-small",
			Severity: sev,
			Title:    fmt.Sprintf("The idle pool is smaller than the concurrency: %s thrown away and dialed again", plural(n, "connection")),
			Evidence: fmt.Sprintf("%d connections dialed for %d concurrent requests (at least %d needed); %d were closed right after their request because %s (%d) idle connections were already kept (%s %d). Each one cost a new TCP%s handshake and left a socket in TIME_WAIT.",
				a.s.Dialed, c, a.minConns(), n, k.field, k.limit, k.reason, n, tlsNote(a.s)),
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
		Fix: fmt.Sprintf("--max-conns-per-host %d (in Go: http.Transport.MaxConnsPerHost = %d)", c, c),
	})
}

func (a *analysis) poolWait() {
	limit := a.Config.MaxConnsPerHost
	c := a.concurrency()
	if limit <= 0 || limit >= c || a.Config.PerVUPools {
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
		Fix: fmt.Sprintf("--max-conns-per-host %d (the concurrency) so each VU has its connection; keep the cap only if queueing in the client is what you want to measure", c),
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

func (a *analysis) serverCloses() {
	byServer := a.reason("server")
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

func (a *analysis) serverIdleCloses() {
	idle := metrics.DistOf(a.s.Hist(metrics.ServerIdleClose))
	if idle.Count == 0 {
		return
	}
	// The server's keep-alive timeout is about the shortest idle time
	// after which it closed a connection.
	server := idle.Min
	suggest := roundDown(server * 8 / 10)
	ev := fmt.Sprintf("The server closed %d idle connections; they had been idle %s at the least and %s at the median, while the client keeps idle connections for %s (IdleConnTimeout).",
		idle.Count, dur(idle.Min), dur(idle.P50), a.Config.IdleConnTimeout)
	if a.s.Retries > 0 {
		ev += fmt.Sprintf(" %d requests were sent on such a connection and silently retried by net/http.", a.s.Retries)
	}
	sev := Info
	if a.Config.IdleConnTimeout > server {
		sev = Warning
	}
	a.add(Finding{
		ID:       "server-idle-timeout",
		Severity: sev,
		Title:    fmt.Sprintf("The server closes idle connections after about %s, before the client does", dur(server)),
		Evidence: ev,
		Fix:      fmt.Sprintf("--idle-conn-timeout %s, below the server's (in Go: http.Transport.IdleConnTimeout = %s), so the client closes first and never sends on a connection the server is closing", suggest, goDuration(suggest)),
	})
}

func (a *analysis) silentRetries() {
	if a.s.Retries == 0 {
		return
	}
	fix := "--idle-conn-timeout below the server's keep-alive timeout, so that the client drops idle connections before the server does"
	if idle := metrics.DistOf(a.s.Hist(metrics.ServerIdleClose)); idle.Count > 0 {
		fix = fmt.Sprintf("--idle-conn-timeout %s, below the %s after which the server closed idle connections", roundDown(idle.Min*8/10), dur(idle.Min))
	}
	a.add(Finding{
		ID:       "silent-retries",
		Severity: Warning,
		Title:    fmt.Sprintf("net/http silently re-sent %d requests", a.s.Retries),
		Evidence: fmt.Sprintf("%d requests were written on a pooled connection that turned out closed by the server, and net/http re-sent them on another connection (a second GotConn for the same request). Each counts once in this report; the server may have seen two.", a.s.Retries),
		Fix:      fix,
	})
}

func (a *analysis) bodiesNotDrained() {
	n := a.reason("body_not_drained")
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
	switch {
	case share > 5*TimeWaitShare:
		a.add(Finding{ID: "time-wait", Severity: Error,
			Title:    fmt.Sprintf("Half the ephemeral ports to the target are in TIME_WAIT (%d)", peak),
			Evidence: ev,
			Fix:      "reuse connections (see the findings above: idle pool, keep-alives, server closes); or spread source addresses; or widen net.ipv4.ip_local_port_range"})
	case share > TimeWaitShare:
		a.add(Finding{ID: "time-wait", Severity: Warning,
			Title:    fmt.Sprintf("%d sockets to the target are in TIME_WAIT: %.0f%% of the ephemeral ports", peak, 100*share),
			Evidence: ev,
			Fix:      "reuse connections (see the findings above); a longer run at this churn would run out of ports"})
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

func (a *analysis) rateShortfall() {
	sf := RateShortfall(a.Input)
	if sf.LimitedBy == "" {
		return
	}
	sev := Warning
	if sf.Achieved < 0.9*sf.Target {
		sev = Error
	}
	a.add(Finding{
		ID:       "rate-shortfall",
		Severity: sev,
		Title:    fmt.Sprintf("The achieved rate fell short of the target (%.1f/s of %.1f/s): limited by the %s", sf.Achieved, sf.Target, limitedByName[sf.LimitedBy]),
		Evidence: sf.Reason,
		Fix:      sf.Fix,
	})
}

var limitedByName = map[string]string{"vus": "VUs", "pool": "connection pool", "generator": "generator's CPU"}

func (a *analysis) clean() {
	s := a.s
	if s.Requests == 0 {
		return
	}
	msg := fmt.Sprintf("%d requests over %s, every connection reused; nothing to change", s.Requests, plural(s.Dialed, "connection"))
	if s.Dialed > int64(a.concurrency()) {
		msg = fmt.Sprintf("%d requests over %s; nothing to change", s.Requests, plural(s.Dialed, "connection"))
	}
	a.add(Finding{
		ID:       "clean",
		Severity: Info,
		Title:    msg,
		Evidence: fmt.Sprintf("reuse ratio %.2f%%; no idle-put refusals, no server closes, no retries", reuse(s)),
	})
}

func reuse(s *metrics.Snapshot) float64 {
	if used := s.ConnFresh + s.ConnReused; used > 0 {
		return 100 * float64(s.ConnReused) / float64(used)
	}
	return 0
}

// Shortfall explains an open-model run that started fewer iterations than
// its schedule asked for, or started them late.
type Shortfall struct {
	Target, Achieved float64 // iterations per second
	// LimitedBy is "vus", "pool", "generator", or empty when the schedule
	// was kept.
	LimitedBy string
	Reason    string // the evidence
	Fix       string
}

// GeneratorBusy is the share of its CPUs above which a generator that
// dropped iterations with VUs to spare is named as the limit.
const GeneratorBusy = 0.9

// busy says how busy the generator was: "93% of its 1 CPU".
func busy(in Input) string {
	cpus := "CPUs"
	if in.CPUs == 1 {
		cpus = "CPU"
	}
	return fmt.Sprintf("%.0f%% of its %d %s", 100*in.GeneratorBusy, in.CPUs, cpus)
}

// RateShortfall says which resource ran out when an open-model run fell
// short of its rate: the VUs (all MaxVUs busy), the pool (VUs waiting for a
// connection because MaxConnsPerHost is below MaxVUs), or the generator
// (iterations started late).
func RateShortfall(in Input) Shortfall {
	s := in.Total
	var sf Shortfall
	if s == nil || !in.Config.Open || in.Scheduling <= 0 {
		return sf
	}
	sec := in.Scheduling.Seconds()
	sf.Target, sf.Achieved = float64(s.Intended)/sec, float64(s.Sent)/sec
	lat := metrics.DistOf(s.Hist(metrics.Latency))
	lag := metrics.DistOf(s.Hist(metrics.ScheduleLag))
	lateShare := 0.0
	if s.Sent > 0 {
		lateShare = float64(s.Late) / float64(s.Sent)
	}
	maxVUs := in.Config.Concurrency
	switch {
	case s.Dropped > 0:
		blocked := metrics.DistOf(s.Hist(metrics.Blocked))
		pool := in.Config.MaxConnsPerHost
		if blocked.Count > 0 && lat.Mean > 0 && float64(blocked.Mean) > 0.3*float64(lat.Mean) && pool > 0 && pool < maxVUs {
			sf.LimitedBy = "pool"
			sf.Reason = fmt.Sprintf("%d iterations dropped: the VUs were waiting for a connection (blocked mean %s of latency mean %s); --max-conns-per-host %d is below --max-vus %d",
				s.Dropped, dur(blocked.Mean), dur(lat.Mean), pool, maxVUs)
			sf.Fix = fmt.Sprintf("--max-conns-per-host %d (as many as --max-vus)", maxVUs)
			return sf
		}
		need := int64(math.Ceil(sf.Target * lat.Mean.Seconds()))
		if in.GeneratorBusy >= GeneratorBusy && need*4 <= int64(maxVUs) {
			sf.LimitedBy = "generator"
			sf.Reason = fmt.Sprintf("%d iterations dropped when all %d VUs were busy at once, though at the mean latency %s the rate needs about %d: the generator used %s, so iterations started late (schedule lag p99 %s) and piled up",
				s.Dropped, maxVUs, dur(lat.Mean), need, busy(in), dur(lag.P99))
			sf.Fix = "give the generator more CPU (more cores for faya, or another machine), or lower the rate; more VUs would not help"
			return sf
		}
		sf.LimitedBy = "vus"
		sf.Reason = fmt.Sprintf("%d iterations dropped: all %d VUs (--max-vus) were busy; at the mean latency %s the target rate needs about %d VUs at once (rate x latency)",
			s.Dropped, maxVUs, dur(lat.Mean), need)
		sf.Fix = fmt.Sprintf("--max-vus %d or more; if the latency grows with the rate, the target is slower than this rate", max(need*2, int64(maxVUs)+1))
	case lateShare > 0.01 || in.Config.LateThreshold > 0 && lag.P99 > in.Config.LateThreshold:
		sf.LimitedBy = "generator"
		sf.Reason = fmt.Sprintf("the generator started iterations late: schedule lag p99 %s, %d late (over %s); its CPU is busy",
			dur(lag.P99), s.Late, in.Config.LateThreshold)
		if in.GeneratorBusy > 0 {
			sf.Reason += fmt.Sprintf(" (it used %s)", busy(in))
		}
		sf.Fix = "give the generator more CPU (or another machine), or lower the rate"
	}
	return sf
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

// roundDown rounds d down to a number a person would type: whole seconds
// above 10 s, tenths of a second above 1 s, milliseconds below.
func roundDown(d time.Duration) time.Duration {
	switch {
	case d >= 10*time.Second:
		return d.Truncate(time.Second)
	case d >= time.Second:
		return d.Truncate(100 * time.Millisecond)
	case d >= time.Millisecond:
		return d.Truncate(time.Millisecond)
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

func reasonIndex(name string) int {
	r, ok := transport.CloseReasonByName(name)
	if !ok {
		panic("diagnose: unknown close reason " + name)
	}
	return int(r)
}
