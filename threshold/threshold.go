// Package threshold parses and evaluates pass/fail conditions on a run's
// metrics, such as "p99(latency) < 300ms", "error_rate < 1%" or
// "checks > 99%", for the whole run or for one step.
//
// An expression is AGGREGATE(METRIC) OP VALUE or RATE OP VALUE:
//
//	AGGREGATE  p50, p90, p99.9 (any percentile), mean, min, max
//	METRIC     latency, service_time, schedule_lag, blocked, dns, connect,
//	           proxy, tls, send, wait, receive (a step has latency, and the phases'
//	           means)
//	RATE       error_rate (requests without a response below 400, as a
//	           share), checks (checks passed, as a share), rps (requests
//	           per second), requests, dropped
//	OP         <, <=, >, >=
//	VALUE      a duration (300ms), a percentage (1%), or a number
package threshold

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
	"github.com/faya-load/faya/metrics"
)

// Threshold is one parsed condition.
type Threshold struct {
	// Source is the expression as written; Step, when set, scopes it to
	// the step of that name.
	Source string
	Step   string

	agg    string // "p", "mean", "min", "max", or "" for a rate
	pct    float64
	metric string // a metric, or a rate's name
	op     string
	value  float64 // ns for durations, a fraction for percentages
	isDur  bool
}

// Metric is what the threshold measures: a metric ("latency", "dns", ...)
// or a rate ("error_rate", "checks", "rps", "requests", "dropped").
func (t Threshold) Metric() string { return t.metric }

var metricsByName = map[string]metrics.Metric{
	"latency": metrics.Latency, "service_time": metrics.ServiceTime, "schedule_lag": metrics.ScheduleLag,
	"blocked": metrics.Blocked, "dns": metrics.DNS, "connect": metrics.Connect, "proxy": metrics.Proxy, "tls": metrics.TLS,
	"send": metrics.Send, "wait": metrics.Wait, "receive": metrics.Receive,
	"stream_wait": metrics.StreamWait,
}

var rates = map[string]bool{"error_rate": true, "checks": true, "rps": true, "requests": true, "dropped": true}

// Parse parses an expression, for the run (step "") or one step.
func Parse(expr, step string) (Threshold, error) {
	t := Threshold{Source: expr, Step: step}
	var lhs, rhs string
	for _, op := range []string{"<=", ">=", "<", ">"} {
		if i := strings.Index(expr, op); i >= 0 {
			lhs, rhs, t.op = strings.TrimSpace(expr[:i]), strings.TrimSpace(expr[i+len(op):]), op
			break
		}
	}
	if t.op == "" {
		return t, fmt.Errorf("threshold %q: no comparison: write e.g. p99(latency) < 300ms or error_rate < 1%%", expr)
	}
	if open := strings.IndexByte(lhs, '('); open >= 0 && strings.HasSuffix(lhs, ")") {
		agg, m := lhs[:open], lhs[open+1:len(lhs)-1]
		switch {
		case agg == "mean" || agg == "min" || agg == "max":
			t.agg = agg
		case strings.HasPrefix(agg, "p"):
			p, err := strconv.ParseFloat(agg[1:], 64)
			if err != nil || p <= 0 || p > 100 {
				return t, fmt.Errorf("threshold %q: %q is not a percentile like p50, p99 or p99.9", expr, agg)
			}
			t.agg, t.pct = "p", p/100
		default:
			return t, fmt.Errorf("threshold %q: %q: want pNN, mean, min or max", expr, agg)
		}
		if _, ok := metricsByName[m]; !ok {
			return t, fmt.Errorf("threshold %q: unknown metric %q (known: latency, service_time, schedule_lag, blocked, dns, connect, proxy, tls, send, wait, receive, stream_wait)", expr, m)
		}
		if mm := metricsByName[m]; step != "" && m != "latency" && (t.agg != "mean" || mm < metrics.Blocked || mm > metrics.StreamWait) {
			return t, fmt.Errorf("threshold %q: a step keeps the percentiles of its latency and the means of its phases (blocked ... receive, stream_wait) only", expr)
		}
		t.metric = m
	} else {
		if !rates[lhs] {
			return t, fmt.Errorf("threshold %q: %q: want AGGREGATE(METRIC) such as p99(latency), or one of error_rate, checks, rps, requests, dropped", expr, lhs)
		}
		if step != "" && (lhs == "rps" || lhs == "dropped") {
			return t, fmt.Errorf("threshold %q: %s is for the whole run", expr, lhs)
		}
		t.metric = lhs
	}
	v, isDur, err := parseValue(rhs)
	if err != nil {
		return t, fmt.Errorf("threshold %q: %w", expr, err)
	}
	t.value, t.isDur = v, isDur
	if t.agg != "" && !isDur {
		return t, fmt.Errorf("threshold %q: compare %s with a duration, e.g. 300ms", expr, lhs)
	}
	if t.agg == "" && isDur {
		return t, fmt.Errorf("threshold %q: %s is not a duration; compare it with a number or a percentage", expr, lhs)
	}
	return t, nil
}

func parseValue(s string) (float64, bool, error) {
	if p, ok := strings.CutSuffix(s, "%"); ok {
		f, err := strconv.ParseFloat(strings.TrimSpace(p), 64)
		if err != nil {
			return 0, false, fmt.Errorf("%q is not a percentage", s)
		}
		return f / 100, false, nil
	}
	if f, err := strconv.ParseFloat(s, 64); err == nil {
		return f, false, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, false, fmt.Errorf("%q is not a duration (300ms), a percentage (1%%) or a number", s)
	}
	return float64(d), true, nil
}

// Input is what thresholds are evaluated on.
type Input struct {
	Total *metrics.Snapshot
	// StepNames names Total.Steps, index for index (setup steps too).
	StepNames []string
	// Scheduling is how long iterations were started (for rps).
	Scheduling time.Duration
}

// Result is a threshold's outcome.
type Result struct {
	Threshold string  `json:"threshold"`
	Step      string  `json:"step,omitempty"`
	Value     float64 `json:"value"` // ns for durations, a fraction for rates
	Display   string  `json:"display"`
	Pass      bool    `json:"pass"`
	Err       string  `json:"error,omitempty"`
}

// Evaluate evaluates every threshold. A threshold on a step that did not
// run fails.
func Evaluate(ts []Threshold, in Input) []Result {
	out := make([]Result, 0, len(ts))
	for _, t := range ts {
		out = append(out, t.evaluate(in))
	}
	return out
}

// Failed reports whether any result failed.
func Failed(rs []Result) bool {
	for _, r := range rs {
		if !r.Pass {
			return true
		}
	}
	return false
}

var errNoData = errors.New("no data")

func (t Threshold) evaluate(in Input) Result {
	r := Result{Threshold: t.Source, Step: t.Step}
	v, err := t.measure(in)
	if err != nil {
		r.Err = err.Error()
		r.Display = "-"
		return r
	}
	r.Value = v
	switch {
	case t.isDur:
		r.Display = sig3(time.Duration(v))
	case t.metric == "error_rate" || t.metric == "checks":
		r.Display = strconv.FormatFloat(100*v, 'f', 2, 64) + "%"
	default:
		r.Display = strconv.FormatFloat(v, 'f', -1, 64)
	}
	switch t.op {
	case "<":
		r.Pass = v < t.value
	case "<=":
		r.Pass = v <= t.value
	case ">":
		r.Pass = v > t.value
	case ">=":
		r.Pass = v >= t.value
	}
	return r
}

func (t Threshold) measure(in Input) (float64, error) {
	s := in.Total
	if s == nil {
		return 0, errNoData
	}
	if t.Step != "" {
		return t.measureStep(in)
	}
	if t.agg != "" {
		h := s.Hist(metricsByName[t.metric])
		if h == nil || h.TotalCount() == 0 {
			return 0, fmt.Errorf("%s was not measured", t.metric)
		}
		return t.aggregate(h), nil
	}
	switch t.metric {
	case "error_rate":
		return ratio(s.Errors+s.HTTPErrors, s.Requests)
	case "checks":
		return ratio(s.ChecksPassed, s.ChecksPassed+s.ChecksFailed)
	case "rps":
		if in.Scheduling <= 0 {
			return 0, errNoData
		}
		return float64(s.Requests) / in.Scheduling.Seconds(), nil
	case "requests":
		return float64(s.Requests), nil
	default: // dropped
		return float64(s.Dropped), nil
	}
}

func (t Threshold) measureStep(in Input) (float64, error) {
	var st *metrics.StepStats
	for i, name := range in.StepNames {
		if name == t.Step && i < len(in.Total.Steps) {
			st = &in.Total.Steps[i]
			break
		}
	}
	if st == nil || st.Requests == 0 {
		return 0, fmt.Errorf("step %q did not run", t.Step)
	}
	if t.agg != "" {
		if t.metric != "latency" { // the mean of a phase
			m := metricsByName[t.metric]
			i := int(m - metrics.Blocked)
			if st.PhaseCount[i] == 0 {
				return 0, fmt.Errorf("%s did not happen in step %q", t.metric, t.Step)
			}
			return float64(st.PhaseSum[i]) / float64(st.PhaseCount[i]), nil
		}
		return t.aggregate(st.Latency()), nil
	}
	switch t.metric {
	case "error_rate":
		return ratio(st.Errors+st.HTTPErrors, st.Requests)
	case "checks":
		return ratio(st.ChecksPassed, st.ChecksPassed+st.ChecksFailed)
	default: // requests
		return float64(st.Requests), nil
	}
}

// aggregate applies the threshold's aggregate (pNN, mean, min, max) to h.
func (t Threshold) aggregate(h *hdrhistogram.Histogram) float64 {
	switch t.agg {
	case "p":
		return float64(metrics.Quantile(h, t.pct))
	case "mean":
		return h.Mean()
	case "min":
		return float64(h.Min())
	}
	return float64(h.Max())
}

func ratio(n, d int64) (float64, error) {
	if d == 0 {
		return math.NaN(), errNoData
	}
	return float64(n) / float64(d), nil
}

// sig3 writes d with three significant digits (HDR histograms keep three).
func sig3(d time.Duration) string {
	units := []struct {
		name string
		size time.Duration
	}{{"s", time.Second}, {"ms", time.Millisecond}, {"µs", time.Microsecond}, {"ns", 1}}
	for _, u := range units {
		if d >= u.size || u.size == 1 {
			v := float64(d) / float64(u.size)
			digits := 2
			switch {
			case v >= 100:
				digits = 0
			case v >= 10:
				digits = 1
			}
			if u.size == 1 {
				digits = 0
			}
			return strconv.FormatFloat(v, 'f', digits, 64) + u.name
		}
	}
	return d.String()
}
