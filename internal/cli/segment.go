package cli

import (
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/faya-load/faya/engine"
	"github.com/faya-load/faya/internal/merge"
	"github.com/faya-load/faya/internal/runfile"
	"github.com/spf13/pflag"
)

// part is the part of a plan one process runs: a segment, from a start
// time, and what its saved run says of it.
type part struct {
	seg    engine.Segment
	start  time.Time
	origin runfile.Origin
}

// options are the engine options that run the part.
func (p part) options() []engine.Option {
	var opts []engine.Option
	if !p.seg.Whole() {
		opts = append(opts, engine.WithSegment(p.seg))
	}
	if !p.start.IsZero() {
		opts = append(opts, engine.WithStart(p.start))
	}
	return opts
}

// distOpts are faya run's flags for distributed runs.
type distOpts struct {
	segment string
	startAt string
	agent   string

	// coordinator (coordinator.go)
	agents       int
	nats         natsOpts
	natsListen   string
	joinTimeout  time.Duration
	agentTimeout time.Duration
	maxSkew      time.Duration
	tolerateLost int
}

func (d *distOpts) bind(fs *pflag.FlagSet) {
	fs.StringVar(&d.segment, "segment", "", "run segment I of N of the plan (I from 0, e.g. 0/3): the N segments together are exactly the whole run (VUs, -n, the arrival schedule and data rows split, none twice); Kubernetes: $(JOB_COMPLETION_INDEX)/N")
	fs.StringVar(&d.startAt, "start-at", "", "start the run at this time, RFC 3339 (2026-05-01T10:00:00Z) or +DURATION from now (+10s), so that processes started apart run one schedule")
	fs.StringVar(&d.agent, "agent-name", "", "with --segment: the name of this part in faya merge's agents table (default: host:pid)")
	d.bindCoordinator(fs)
}

// part parses the segment and start flags.
func (d *distOpts) part(fs *pflag.FlagSet) (part, []error) {
	var p part
	var errs []error
	if d.segment != "" {
		seg, err := engine.ParseSegment(d.segment)
		if err != nil {
			errs = append(errs, usagef("--segment: %v", err))
		}
		p.seg = seg
	}
	if fs.Changed("start-at") {
		t, err := parseStartAt(d.startAt, time.Now())
		if err != nil {
			errs = append(errs, err)
		}
		p.start = t
	}
	if fs.Changed("agent-name") && d.segment == "" {
		errs = append(errs, usagef("--agent-name names a segment's run: use it with --segment"))
	}
	return p, errs
}

// parseStartAt parses --start-at: RFC 3339, or +DURATION from now.
func parseStartAt(s string, now time.Time) (time.Time, error) {
	s = strings.TrimSpace(s)
	if rest, ok := strings.CutPrefix(s, "+"); ok {
		d, err := time.ParseDuration(rest)
		if err != nil || d < 0 {
			return time.Time{}, usagef("--start-at %q: want +DURATION (e.g. +10s) or an RFC 3339 time (e.g. 2026-05-01T10:00:00Z)", s)
		}
		return now.Add(d), nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, usagef("--start-at %q: want an RFC 3339 time (e.g. 2026-05-01T10:00:00Z) or +DURATION (e.g. +10s)", s)
	}
	if ago := now.Sub(t); ago > engine.MissedStart {
		return time.Time{}, usagef("--start-at %s is %v in the past: give a later time, or +DURATION", s, ago.Round(time.Second))
	}
	return t, nil
}

// originOf is what a saved run of the part says of it.
func originOf(plan engine.Plan, p part, name string) runfile.Origin {
	o := runfile.Origin{Segment: p.seg.String(), PlanHash: merge.PlanHash(plan)}
	red := plan.Redacted()
	o.Plan = &red
	if !p.seg.Whole() {
		o.Agent = name
		if o.Agent == "" {
			host, _ := os.Hostname()
			o.Agent = fmt.Sprintf("%s:%d", host, os.Getpid())
		}
	}
	return o
}

// checkPart refuses a plan its segments cannot split.
func checkPart(plan engine.Plan, p part) error {
	if p.seg.Whole() {
		return nil
	}
	if err := plan.CheckSegments(p.seg.Count); err != nil {
		return usagef("--segment %s: %v", p.seg, err)
	}
	return nil
}
