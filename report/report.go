package report

import (
	"encoding/json"
	"time"

	"github.com/faya-load/faya/diagnose"
	"github.com/faya-load/faya/engine"
	"github.com/faya-load/faya/threshold"
	"github.com/faya-load/faya/transport"
)

// SchemaVersion is the version of the JSON document ([Report]). It changes
// only when a field is removed or changes meaning; fields may be added.
const SchemaVersion = 1

// Meta describes the run a report is about: what was asked, not what was
// measured. Secrets must be redacted before they reach it.
type Meta struct {
	Version string `json:"-"` // the report's top-level faya_version
	URL     string `json:"url"`
	Method  string `json:"method"`
	Engine  string `json:"engine"`
	// Pipeline, above 1, is the requests each VU wrote on its connection
	// before it read their answers (HTTP/1.1 pipelining).
	Pipeline int    `json:"pipeline,omitempty"`
	Executor string `json:"executor"`
	// Segment is the segment of the plan this run ran ("1/3"; absent for
	// the whole plan). The other fields describe the whole plan.
	Segment   string        `json:"segment,omitempty"`
	VUs       int           `json:"vus"`
	Requests  int64         `json:"requests,omitempty"`    // planned; 0: bounded by Duration
	Duration  time.Duration `json:"duration_ns,omitempty"` // planned; 0: bounded by Requests
	ConnScope string        `json:"conn_scope"`
	Timeout   time.Duration `json:"timeout_ns"`
	Pool      Pool          `json:"pool"`
	// H2Offered says the run offered HTTP/2 (--http 2, or auto on an
	// https target with an engine that speaks it).
	H2Offered bool `json:"h2_offered,omitempty"`

	// Open model and ramping: the rate ("5000/s"), the stages as given
	// ("10s:0-2000,30s:2000"), the VU bounds.
	Rate   string `json:"rate,omitempty"`
	Stages string `json:"stages,omitempty"`
	PreVUs int    `json:"pre_vus,omitempty"`
	MaxVUs int    `json:"max_vus,omitempty"`
	// Open is set for the open model (arrival-rate executors).
	Open          bool          `json:"open_model"`
	GracefulStop  time.Duration `json:"graceful_stop_ns"`
	LateThreshold time.Duration `json:"late_threshold_ns"`
	MaxBody       int64         `json:"max_body"` // 0: no cap

	// File is the scenario file run (faya run -f); Scenarios describe its
	// scenarios, which ran at the same time. URL, Method and the executor
	// fields above are then the first scenario's.
	File      string         `json:"scenario_file,omitempty"`
	Scenarios []ScenarioMeta `json:"scenarios,omitempty"`

	// Proxies are the proxies requests went through (passwords redacted),
	// in the order of Report.Proxies; ProxyMode is how a request picked
	// one; ProxyFromEnv says they came from HTTP_PROXY and HTTPS_PROXY.
	Proxies      []string `json:"proxies,omitempty"`
	ProxyMode    string   `json:"proxy_mode,omitempty"`
	ProxyFromEnv bool     `json:"proxy_from_env,omitempty"`
}

// ProxyReport is one proxy's accounts.
type ProxyReport struct {
	URL      string `json:"url"` // password redacted
	Requests int64  `json:"requests"`
	Errors   int64  `json:"errors"`
	Dialed   int64  `json:"dialed"`
	Fresh    int64  `json:"fresh"`
	Reused   int64  `json:"reused"`
	// HandshakeMean is the mean proxy phase (TLS to the proxy, CONNECT,
	// SOCKS5) of the requests that dialed; 0 when none had one.
	HandshakeMean int64 `json:"handshake_mean_ns"`
}

// Addresses are the accounts per address of the run's connections.
type Addresses struct {
	// Sources are the source addresses connections bound (--local-addr),
	// in its order: connections made from each and the sockets to the
	// target it held in TIME_WAIT (when they could be read). Absent
	// without --local-addr.
	Sources []SourceAddr `json:"sources,omitempty"`
	// Destinations are the addresses connections were made to (--resolve's
	// in its order, then as first dialed; a proxy's when through one),
	// when there were several: at most 32, the rest counted together
	// under "other".
	Destinations []DestAddr `json:"destinations,omitempty"`
}

// SourceAddr is one source address's accounts.
type SourceAddr struct {
	Addr   string `json:"addr"`
	Dialed int64  `json:"dialed"`
	// TimeWait is the sockets from it to the target in TIME_WAIT after
	// the run, TimeWaitPeak the most at once during it; absent where the
	// socket tables could not be read.
	TimeWait     *int `json:"time_wait,omitempty"`
	TimeWaitPeak *int `json:"time_wait_peak,omitempty"`
}

// DestAddr is one destination address's accounts: the connections made
// to it, the requests they carried (setup requests excluded) and those
// that failed without a response, and their latency (percentiles at 2
// significant digits).
type DestAddr struct {
	Addr     string `json:"addr"`
	Dialed   int64  `json:"dialed"`
	Requests int64  `json:"requests"`
	Errors   int64  `json:"errors"`
	Latency  Dist   `json:"latency_ns"`
}

// ScenarioMeta describes one scenario of a file.
type ScenarioMeta struct {
	Name       string        `json:"name"`
	Executor   string        `json:"executor"`
	VUs        int           `json:"vus"` // closed model: the (peak) VUs
	Iterations int64         `json:"iterations,omitempty"`
	Duration   time.Duration `json:"duration_ns,omitempty"`
	Rate       string        `json:"rate,omitempty"`
	Stages     string        `json:"stages,omitempty"`
	PreVUs     int           `json:"pre_vus,omitempty"`
	MaxVUs     int           `json:"max_vus,omitempty"`
	SetupSteps int           `json:"setup_steps"`
	Steps      int           `json:"steps"`
}

// Pool is the pool configuration the run used: the plan's
// [transport.Config] after its defaults, where a negative limit means no
// limit. The fields mean what they mean there. Its JSON is the report's
// "pool" object, a subset with 0 for no limit and durations in
// nanoseconds (docs/json.md).
type Pool transport.Config

// poolJSON is Pool in the report's JSON.
type poolJSON struct {
	MaxConnsPerHost       int           `json:"max_conns_per_host"`
	MaxIdleConnsPerHost   int           `json:"max_idle_conns_per_host"`
	MaxIdleConns          int           `json:"max_idle_conns"`
	IdleConnTimeout       time.Duration `json:"idle_conn_timeout_ns"`
	DisableKeepAlives     bool          `json:"disable_keepalives"`
	DialTimeout           time.Duration `json:"dial_timeout_ns"`
	TLSHandshakeTimeout   time.Duration `json:"tls_handshake_timeout_ns"`
	ResponseHeaderTimeout time.Duration `json:"response_header_timeout_ns"`
	Insecure              bool          `json:"insecure"`
	// The protocol mode when not auto, and the HTTP/2 knobs when set.
	HTTP            string        `json:"http,omitempty"`
	H2MaxStreams    int           `json:"h2_max_streams,omitempty"`
	H2StrictStreams bool          `json:"h2_strict_streams,omitempty"`
	H2PingTimeout   time.Duration `json:"h2_ping_timeout_ns,omitempty"`
	// The DNS knobs when set: the TTL absent for the run's default (one
	// lookup per name), 0 for a lookup per new connection.
	DNSTTL   *time.Duration `json:"dns_ttl_ns,omitempty"`
	DNSMode  string         `json:"dns_mode,omitempty"`
	IPFamily string         `json:"ip_family,omitempty"`
}

// MarshalJSON writes the report's pool object.
func (p Pool) MarshalJSON() ([]byte, error) {
	var ttl *time.Duration
	if p.DNSTTL != 0 {
		ttl = new(max(p.DNSTTL, 0))
	}
	return json.Marshal(poolJSON{
		DNSTTL:                ttl,
		DNSMode:               string(p.DNSMode),
		IPFamily:              string(p.IPFamily),
		MaxConnsPerHost:       max(p.MaxConnsPerHost, 0),
		MaxIdleConnsPerHost:   max(p.MaxIdleConnsPerHost, 0),
		MaxIdleConns:          max(p.MaxIdleConns, 0),
		IdleConnTimeout:       p.IdleConnTimeout,
		DisableKeepAlives:     p.DisableKeepAlives,
		DialTimeout:           p.DialTimeout,
		TLSHandshakeTimeout:   p.TLSHandshakeTimeout,
		ResponseHeaderTimeout: p.ResponseHeaderTimeout,
		Insecure:              p.InsecureSkipVerify,
		HTTP:                  string(p.HTTP),
		H2MaxStreams:          p.H2MaxStreams,
		H2StrictStreams:       p.H2StrictStreams,
		H2PingTimeout:         p.H2PingTimeout,
	})
}

// UnmarshalJSON reads the report's pool object (a saved run's): a limit
// of 0 is no limit.
func (p *Pool) UnmarshalJSON(b []byte) error {
	var j poolJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return err
	}
	unlimited := func(v int) int {
		if v == 0 {
			return -1
		}
		return v
	}
	var ttl time.Duration
	if j.DNSTTL != nil {
		if ttl = *j.DNSTTL; ttl <= 0 {
			ttl = transport.DNSNoCache
		}
	}
	*p = Pool{
		DNSTTL:                ttl,
		DNSMode:               transport.DNSMode(j.DNSMode),
		IPFamily:              transport.IPFamily(j.IPFamily),
		MaxConnsPerHost:       unlimited(j.MaxConnsPerHost),
		MaxIdleConnsPerHost:   unlimited(j.MaxIdleConnsPerHost),
		MaxIdleConns:          unlimited(j.MaxIdleConns),
		IdleConnTimeout:       j.IdleConnTimeout,
		DisableKeepAlives:     j.DisableKeepAlives,
		DialTimeout:           j.DialTimeout,
		TLSHandshakeTimeout:   j.TLSHandshakeTimeout,
		ResponseHeaderTimeout: j.ResponseHeaderTimeout,
		InsecureSkipVerify:    j.Insecure,
		HTTP:                  transport.HTTPVersion(j.HTTP),
		H2MaxStreams:          j.H2MaxStreams,
		H2StrictStreams:       j.H2StrictStreams,
		H2PingTimeout:         j.H2PingTimeout,
	}
	return nil
}

// Report is one run's report: the JSON document, field for field, and what
// the text rendering prints. Durations are in nanoseconds.
type Report struct {
	SchemaVersion int     `json:"schema_version"`
	Version       string  `json:"faya_version"`
	Partial       bool    `json:"partial"`
	Run           Meta    `json:"run"`
	Duration      int64   `json:"duration_ns"`
	Throughput    float64 `json:"throughput_rps"`

	// LatencySpectrum is the latency at the percentiles of
	// [SpectrumPercentiles], from the whole run's histogram; empty when no
	// request completed.
	LatencySpectrum []SpectrumPoint `json:"latency_spectrum"`

	Requests    Requests        `json:"requests"`
	Schedule    Schedule        `json:"schedule"`
	Bytes       Bytes           `json:"bytes"`
	Latency     Dist            `json:"latency_ns"`
	ServiceTime Dist            `json:"service_time_ns"`
	Lag         Dist            `json:"schedule_lag_ns"`
	Phases      map[string]Dist `json:"phases_ns"`
	// ExpectContinue is how requests sent with "Expect: 100-continue"
	// went on (absent when none was).
	ExpectContinue *ExpectContinue       `json:"expect_continue,omitempty"`
	Connections    Connections           `json:"connections"`
	Status         map[string]int64      `json:"status"`
	Errors         map[string]ErrorClass `json:"errors"`
	Sockets        Sockets               `json:"sockets"`
	Checks         Checks                `json:"checks"`
	Steps          []Step                `json:"steps"`
	Thresholds     []threshold.Result    `json:"thresholds"`
	// Proxies are the accounts per proxy (absent without proxies).
	Proxies []ProxyReport `json:"proxies,omitempty"`
	// Addresses are the accounts per source address (--local-addr) and
	// per destination address (when connections went to several): absent
	// when neither.
	Addresses *Addresses `json:"addresses,omitempty"`
	Timeline  []Point    `json:"timeline"`
	// Findings explain the connections and the schedule, most serious
	// first; a clean run has one info finding that says so.
	Findings []diagnose.Finding `json:"findings"`
	// Generator is the CPU faya used (absent where it cannot be read).
	Generator *Generator `json:"generator,omitempty"`
	// Agents are the agents of a distributed run, or the runs merged by
	// faya merge, one per segment (absent for a run of one process).
	Agents []Agent `json:"agents,omitempty"`
	// NotRun says how much of the plan did not run when agents were lost
	// or missing (absent when all of it ran).
	NotRun string `json:"not_run,omitempty"`
}

// Generator is the CPU the generator's process used during the run.
type Generator struct {
	CPU  int64 `json:"cpu_ns"` // user and system time
	CPUs int   `json:"cpus"`   // GOMAXPROCS
	// Busy is CPU / (duration x CPUs): near 1, the generator was itself
	// a limit (requests started, or answers were read, late).
	Busy float64 `json:"busy"`
	// RunDelay is how long its threads waited for a CPU while runnable
	// (Linux's schedstat; absent where unknown): long waits while not
	// busy mean others on the machine starved it.
	RunDelay int64 `json:"run_delay_ns,omitempty"`
}

// SpectrumPoint is the latency at one percentile.
type SpectrumPoint struct {
	Percentile float64 `json:"percentile"` // 0 to 100
	Value      int64   `json:"value_ns"`
}

// SpectrumPercentiles are the percentiles of [Report.LatencySpectrum]: 0 is
// the minimum, 100 the maximum.
var SpectrumPercentiles = []float64{0, 10, 25, 50, 75, 90, 95, 99, 99.5, 99.9, 99.95, 99.99, 99.999, 100}

// Checks counts the checks (and extractions) over the iterations'
// responses; Rate is Passed / (Passed + Failed), 1 when there were none.
type Checks struct {
	Passed int64   `json:"passed"`
	Failed int64   `json:"failed"`
	Rate   float64 `json:"rate"`
}

// Step is one step's numbers. Setup steps (a VU's login) are measured
// here and not in the run's totals.
type Step struct {
	Scenario     string           `json:"scenario"`
	Name         string           `json:"name"`
	Setup        bool             `json:"setup"`
	Requests     int64            `json:"requests"`
	OK           int64            `json:"ok"`
	HTTPErrors   int64            `json:"http_errors"`
	Errors       int64            `json:"errors"`
	Status       map[string]int64 `json:"status"`
	ChecksPassed int64            `json:"checks_passed"`
	ChecksFailed int64            `json:"checks_failed"`
	// CheckFailure is how a check failed, the first seen.
	CheckFailure string `json:"check_failure,omitempty"`
	Latency      Dist   `json:"latency_ns"`
	// PhasesMean are the means of the phases that happened, ns.
	PhasesMean map[string]int64 `json:"phases_mean_ns"`
}

// Sockets are the kernel's TIME_WAIT sockets to the target, when they
// could be read (Linux).
type Sockets struct {
	Watched        bool `json:"watched"`
	TimeWaitBefore int  `json:"time_wait_before"`
	TimeWaitAfter  int  `json:"time_wait_after"`
	TimeWaitPeak   int  `json:"time_wait_peak"`
	HostPeak       int  `json:"host_time_wait_peak"`
	PortLo         int  `json:"port_range_lo"`
	PortHi         int  `json:"port_range_hi"`
}

// Requests counts requests by outcome: Total = OK + HTTPErrors + Errors.
type Requests struct {
	Total      int64 `json:"total"`
	OK         int64 `json:"ok"`          // a response with a status below 400
	HTTPErrors int64 `json:"http_errors"` // a response with a status of 400 or more
	Errors     int64 `json:"errors"`      // no complete response; see errors
	Retries    int64 `json:"retries"`     // silently re-sent by net/http on another connection
	Redirects  int64 `json:"redirects"`   // redirects followed
	Truncated  int64 `json:"truncated"`   // bodies cut at the body cap
	// Interrupted counts requests canceled when the graceful stop ran out.
	Interrupted int64 `json:"interrupted"`
	// Setup counts the VUs' setup requests (their logins), kept out of
	// the counts above and measured per step.
	Setup int64 `json:"setup"`
	// SetupFailed counts the setup requests that failed: no response, a
	// status of 400 or more, or a failed check; SetupStatus and
	// SetupErrors break the setup requests down by status and by error
	// class (absent without setup).
	SetupFailed int64            `json:"setup_failed"`
	SetupStatus map[string]int64 `json:"setup_status,omitempty"`
	SetupErrors map[string]int64 `json:"setup_errors,omitempty"`
	// VUsStopped counts the VUs stopped before the end by a failed step
	// with on_failure: stop-vu.
	VUsStopped int64 `json:"vus_stopped"`
	// CookiesDropped counts the cookies the VUs' jars refused or evicted:
	// over 4,096 bytes, or past 50 per domain or 3,000 per VU (a browser's
	// limits; the oldest make room).
	CookiesDropped int64 `json:"cookies_dropped"`
	// Protocols counts the requests by the protocol of their connection
	// ({"h1": n, "h2": n}; a request that got none is in neither); absent when the run neither used nor asked
	// for HTTP/2.
	Protocols map[string]int64 `json:"protocols,omitempty"`
}

// Schedule is how iterations were started. In the closed model every
// iteration is intended when it starts, so intended = sent and nothing is
// dropped or late.
type Schedule struct {
	Intended    int64   `json:"intended"`     // iterations whose intended start came
	Sent        int64   `json:"sent"`         // handed to a VU
	Dropped     int64   `json:"dropped"`      // no VU was free (open model)
	Late        int64   `json:"late"`         // started later than the late threshold after their intended start
	TargetRPS   float64 `json:"target_rps"`   // intended per second of scheduling
	AchievedRPS float64 `json:"achieved_rps"` // sent per second of scheduling
	Scheduling  int64   `json:"scheduling_ns"`
	VUsBusyMax  int64   `json:"vus_busy_max"`
	VUsAlloc    int64   `json:"vus_allocated"`
	// LimitedBy names what ran out when the achieved rate fell short of
	// the target: "vus", "pool" or "generator"; empty when it did not.
	LimitedBy string `json:"limited_by"`
	Reason    string `json:"reason,omitempty"`
}

// Bytes are wire bytes (headers included) and response body bytes.
type Bytes struct {
	Sent     int64 `json:"sent"`
	Received int64 `json:"received"`
	Body     int64 `json:"body_received"`
}

// Dist is a distribution. Durations are nanoseconds; Count 0 means
// nothing was recorded.
type Dist struct {
	Count int64 `json:"count"`
	Min   int64 `json:"min"`
	Mean  int64 `json:"mean"`
	P50   int64 `json:"p50"`
	P90   int64 `json:"p90"`
	P95   int64 `json:"p95"`
	P99   int64 `json:"p99"`
	P999  int64 `json:"p999"`
	Max   int64 `json:"max"`
}

// Connections is what the pool did.
type Connections struct {
	Dialed    int64   `json:"dialed"`      // connections established (the server's count)
	Fresh     int64   `json:"fresh"`       // requests that got a connection's first use
	Reused    int64   `json:"reused"`      // requests that got a connection used before
	Unused    int64   `json:"unused"`      // dialed but never carried a request: dialed - fresh
	ReuseRate float64 `json:"reuse_ratio"` // reused / (fresh + reused)
	Closed    int64   `json:"closed"`
	// ClosedByServer counts connections the server closed or asked to
	// close ("Connection: close", HTTP/1.0, EOF, reset).
	ClosedByServer int64 `json:"closed_by_server"`
	OpenAtEnd      int64 `json:"open_at_end"`
	MaxOpen        int64 `json:"max_open"`
	// CloseReasons counts closed connections by why they closed.
	CloseReasons map[string]int64 `json:"close_reasons"`
	// PutIdleErrors counts connections that could not go back to the
	// idle pool after a request, by reason.
	PutIdleErrors   map[string]int64 `json:"put_idle_errors"`
	RequestsPerConn Dist             `json:"requests_per_conn"` // not durations
	IdleBeforeReuse Dist             `json:"idle_before_reuse_ns"`
	// Lifetime is how long closed connections were open.
	Lifetime Dist `json:"lifetime_ns"`
	// ServerIdleClose is how long connections sat idle before the server
	// closed them (its keep-alive timeout, seen from the client).
	ServerIdleClose Dist `json:"server_idle_close_ns"`
	// CloseAnswers counts responses that said the connection ends after
	// them ("Connection: close", HTTP/1.0 without keep-alive, a body
	// delimited by the close); HTTP10 counts
	// HTTP/1.0 responses.
	CloseAnswers int64 `json:"close_answers"`
	HTTP10       int64 `json:"http10_answers"`
	// Protocols counts the connections established by protocol, and H2
	// are the HTTP/2 connections' accounts; both absent when the run
	// neither used nor asked for HTTP/2 (as are the close reasons goaway
	// and h2_error).
	Protocols map[string]int64 `json:"protocols,omitempty"`
	H2        *H2Connections   `json:"h2,omitempty"`
}

// ExpectContinue counts the requests sent with "Expect: 100-continue" by
// how the wait for the server's 100 Continue ended, and the wait.
type ExpectContinue struct {
	Got100     int64 `json:"got_100"`     // the server answered 100 Continue; the body followed
	Timeout    int64 `json:"timeout"`     // no answer within the timeout; the body went anyway
	FinalFirst int64 `json:"final_first"` // a final answer came first
	// Wait is from the request's head written to the 100, the final
	// answer, or the timeout.
	Wait Dist `json:"wait_ns"`
}

// ErrorClass is the count of one error class and one example message.
type ErrorClass struct {
	Count   int64  `json:"count"`
	Example string `json:"example"`
}

// Point is one interval of the time series.
type Point struct {
	T        int64   `json:"t_ns"` // end of the interval, from the start
	Requests int64   `json:"requests"`
	Errors   int64   `json:"errors"`
	Dialed   int64   `json:"dialed"`
	RPS      float64 `json:"rps"`
	P50      int64   `json:"p50_ns"`
	P99      int64   `json:"p99_ns"`
	Intended int64   `json:"intended"`
	Dropped  int64   `json:"dropped"`
	LagP99   int64   `json:"lag_p99_ns"`
	VUsBusy  int64   `json:"vus_busy"`
	VUsAlloc int64   `json:"vus_allocated"`
	// Connections at the end of the interval: open, carrying a request,
	// idle; TIME_WAIT sockets to the target (-1: not watched).
	ConnsOpen   int64 `json:"conns_open"`
	ConnsActive int64 `json:"conns_active"`
	ConnsIdle   int64 `json:"conns_idle"`
	TimeWait    int64 `json:"time_wait"`
	// Connections closed in the interval while idle: by the client's
	// IdleConnTimeout, and by the server (its keep-alive timeout).
	IdleTimeoutCloses int64 `json:"idle_timeout_closes"`
	ServerIdleCloses  int64 `json:"server_idle_closes"`
}

// Run is what [Build] needs from a finished (or interrupted) run: its
// description, what the engine measured, and what was measured beside
// the engine.
//
//	res, err := e.Run(ctx)
//	...
//	rep := report.Build(report.Run{Meta: report.Describe(e), Result: *res})
type Run struct {
	Meta Meta
	// Result is what the engine measured; its Steps name Total.Steps,
	// index for index, and Interrupted makes the report partial.
	engine.Result
	// Sockets are the socket-table readings, when taken.
	Sockets diagnose.Sockets
	// Thresholds are the evaluated thresholds.
	Thresholds []threshold.Result
	// Agents and NotRun describe a distributed or merged run.
	Agents []Agent
	NotRun string
}
