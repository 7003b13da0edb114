package doctor

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/faya-load/faya/diagnose"
	"github.com/faya-load/faya/engine"
	"github.com/faya-load/faya/metrics"
	"github.com/faya-load/faya/transport"
)

// The busy-then-quiet probe: the pool the saturation ladder recommends,
// busy for a moment, then one VU for longer than the server's idle
// timeout, with the IdleConnTimeout the idle probe recommends. The pool's
// other connections sit idle; the probe sees which side closes them. A
// server that closes idle connections sooner when many sit idle (a limit
// on its idle connections, a timeout shortened under load) shows it here,
// not with the idle probe's single connection.

// QuietBusyTime is how long the probe's busy part runs.
const QuietBusyTime = time.Second

// quietLength is the quiet part's length for a server idle timeout of
// server: long enough for the client's timeout and the server's to pass.
func quietLength(server time.Duration) time.Duration {
	return (server*3/2 + time.Second).Round(100 * time.Millisecond)
}

// quietPlan states the probe before the probes start.
func quietPlan(o Options) string {
	return fmt.Sprintf("\n  4. busy then quiet (only when 2. saw the server's idle timeout T): the concurrency 3. recommends (at least 2) for %v, "+
		"then 1 VU for 1.5 T + 1s (at most %v), with IdleConnTimeout at 80%% of T: which side closes the busy part's idle connections",
		QuietBusyTime, quietLength(o.IdleWait))
}

// Quiet is what the busy-then-quiet probe measured.
type Quiet struct {
	// Busy is the busy part's concurrency, BusyTime and QuietTime the
	// parts' lengths, IdleConnTimeout the client's idle timeout in it.
	Busy                int
	BusyTime, QuietTime time.Duration
	IdleConnTimeout     time.Duration
	// ServerTimeout is the idle probe's measure of the server's timeout.
	ServerTimeout time.Duration
	// Open is the most connections open (the pool the busy part left),
	// Idle the most idle at once in the quiet part.
	Open, Idle int64
	// Connections closed while idle: by the client's IdleConnTimeout,
	// and by the server, the soonest after ServerMin idle.
	ClientClosed, ServerClosed int64
	ServerMin                  time.Duration
	// Requests, Errors (failed or status 400 and above) and Retries
	// (re-sent after a pooled connection turned out closed).
	Requests, Errors, Retries int64
}

// QuietVerdict is the probe's conclusion: the idle timeout to recommend,
// and why.
type QuietVerdict struct {
	IdleConnTimeout time.Duration
	Lowered         bool // below what the idle probe recommended
	Reason          string
}

// JudgeQuiet decides from the probe's numbers alone (no clock, no
// traffic) what idle timeout to recommend, starting from recommended (the
// idle probe's): lower when the server closed idle connections before the
// client did, to 80% of the soonest such close, never below
// diagnose.MinIdleTimeout's 1 s (a server that closes sooner is the
// server's to fix); else the same, confirmed or not.
func JudgeQuiet(q Quiet, recommended time.Duration) QuietVerdict {
	v := QuietVerdict{IdleConnTimeout: recommended}
	idle := q.ClientClosed + q.ServerClosed
	switch {
	case q.Open < 2 || q.Idle < 1:
		v.Reason = fmt.Sprintf("the busy part left %s open and none sat idle: nothing to judge", plural(q.Open, "connection"))
	case q.ServerClosed > 0:
		v.Reason = fmt.Sprintf("the server closed %d of the %d idle connections while idle, the soonest after %s, before the client's IdleConnTimeout (%s) closed them",
			q.ServerClosed, idle, q.ServerMin.Round(time.Millisecond), q.IdleConnTimeout)
		switch lower := suggestIdle(q.ServerMin); {
		case q.ServerMin >= q.IdleConnTimeout:
			// The client's timeout had passed: its close came late
			// (a busy machine), not too late by its setting.
			v.Reason += "; they had been idle longer than the client's timeout, so the client was late to close them, and the recommendation stands"
		case lower >= recommended:
			v.Reason += "; at about the recommended timeout, which stands"
		case lower < minIdle:
			v.Reason += fmt.Sprintf("; a client timeout below it would be under %s, so raise the server's keep-alive timeout instead", minIdle)
		default:
			v.IdleConnTimeout, v.Lowered = lower, true
			v.Reason += fmt.Sprintf(" (%s with one idle connection): IdleConnTimeout lowered to %s", q.ServerTimeout.Round(time.Millisecond), lower)
		}
	case q.ClientClosed > 0:
		v.Reason = fmt.Sprintf("the client closed %s (of %d open) at its IdleConnTimeout (%s), before the server; the server closed none: the recommendation holds",
			plural(q.ClientClosed, "idle connection"), q.Open, q.IdleConnTimeout)
	default:
		v.Reason = fmt.Sprintf("neither side closed the %d idle connections within the quiet part's %v", q.Idle, q.QuietTime)
	}
	if q.Errors > 0 || q.Retries > 0 {
		v.Reason += fmt.Sprintf("; %d of %d requests failed, %d were re-sent", q.Errors, q.Requests, q.Retries)
	}
	return v
}

// minIdle is the shortest idle timeout the probes recommend.
const minIdle = diagnose.MinIdleTimeout

// plural writes n and what, with an s unless n is 1.
func plural[N int | int64](n N, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}

// quietProbe runs the busy-then-quiet probe when the idle probe saw the
// server's timeout, and applies its verdict to r's recommendation.
func (o Options) quietProbe(ctx context.Context, r *Report) error {
	if !r.IdleSeen || ctx.Err() != nil {
		return nil
	}
	busy := max(r.MaxConnsPerHost, 2)
	q := Quiet{Busy: busy, BusyTime: QuietBusyTime, QuietTime: quietLength(r.IdleTimeout),
		IdleConnTimeout: r.IdleConnTimeout, ServerTimeout: r.IdleTimeout}
	res, err := o.run(ctx, engine.Executor{Type: engine.RampingVUs, VUStages: []engine.VUStage{
		{Duration: q.BusyTime, From: busy, To: busy}, {Duration: q.QuietTime, From: 1, To: 1}}},
		transport.Config{MaxConnsPerHost: busy, MaxIdleConnsPerHost: busy, MaxIdleConns: busy, IdleConnTimeout: q.IdleConnTimeout})
	if err != nil {
		return err
	}
	s := res.Total
	for _, p := range res.Timeline {
		q.Open = max(q.Open, p.ConnsOpen)
		if p.T > q.BusyTime {
			q.Idle = max(q.Idle, p.ConnsOpen-p.ConnsActive)
		}
	}
	q.ClientClosed, q.ServerClosed = s.CloseReasons[metrics.CloseIdleTimeout], s.CloseReasons[metrics.CloseServerIdle]
	q.ServerMin = metrics.DistOf(s.Hist(metrics.ServerIdleClose)).Min
	q.Requests, q.Errors, q.Retries = s.Requests, s.Errors+s.HTTPErrors, s.Retries
	r.Quiet = &q
	r.QuietVerdict = JudgeQuiet(q, r.IdleConnTimeout)
	r.IdleConnTimeout = r.QuietVerdict.IdleConnTimeout
	return nil
}

// quietText is the probe's section of the report.
func (r *Report) quietText() string {
	var b strings.Builder
	fmt.Fprintf(&b, "\nBusy then quiet\n")
	q := r.Quiet
	if q == nil {
		fmt.Fprintf(&b, "  not probed: the server's idle timeout was not seen\n")
		return b.String()
	}
	fmt.Fprintf(&b, "  %d VUs for %v, then 1 VU for %v, IdleConnTimeout %s: %d connections open, up to %d idle in the quiet part\n",
		q.Busy, q.BusyTime, q.QuietTime, q.IdleConnTimeout, q.Open, q.Idle)
	fmt.Fprintf(&b, "  closed idle: %d by the client's IdleConnTimeout, %d by the server\n", q.ClientClosed, q.ServerClosed)
	fmt.Fprintf(&b, "  %s\n", r.QuietVerdict.Reason)
	return b.String()
}

// quietComment is the probe's note on the Go literal's IdleConnTimeout.
func (r *Report) quietComment() string {
	switch q := r.Quiet; {
	case q == nil:
		return ""
	case r.QuietVerdict.Lowered:
		return fmt.Sprintf("; busy then quiet, the server closed idle connections after %s", q.ServerMin.Round(time.Millisecond))
	case q.ClientClosed > 0 && q.ServerClosed == 0:
		return fmt.Sprintf("; busy then quiet, it closed %s first", plural(q.ClientClosed, "idle connection"))
	}
	return ""
}
