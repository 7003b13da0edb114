package diagnose

import (
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/faya-load/faya/metrics"
)

// Shortfall explains an open-model run that started fewer iterations than
// its schedule asked for, or started them late.
type Shortfall struct {
	Target, Achieved float64 // iterations per second
	// Short is set when iterations were dropped: the achieved rate is
	// below the target. Without it, the schedule was kept in count but
	// not in time (iterations started late).
	Short bool
	// LimitedBy names what ran out: "vus", "pool" (VUs waited for a
	// connection), "streams" (over HTTP/2: VUs waited for a free stream
	// slot), "generator" (its CPU was busy), "starved" (it was not busy, but the machine did not give
	// it a CPU in time), or empty when the schedule was kept.
	LimitedBy string
	Reason    string // the evidence
	Fix       string
}

// GeneratorBusy is the share of its CPUs above which a generator that
// dropped iterations with VUs to spare is named as the limit.
const GeneratorBusy = 0.9

// Starvation thresholds: a generator that was not busy is starved when its
// threads waited for a CPU this share of the run (per CPU), or when its
// schedule ran this late at the worst.
const (
	StarvedDelayShare = 0.05
	StarvedLag        = 250 * time.Millisecond
)

// busy says how busy the generator was: "93% of its 1 CPU".
func busy(in Input) string {
	cpus := "CPUs"
	if in.CPUs == 1 {
		cpus = "CPU"
	}
	return fmt.Sprintf("%.0f%% of its %d %s", 100*in.GeneratorBusy, in.CPUs, cpus)
}

// starved reports whether the generator was kept from running while it
// was not busy, with the evidence.
func starved(in Input, lag metrics.Dist) (string, bool) {
	if in.GeneratorBusy <= 0 || in.GeneratorBusy >= GeneratorBusy {
		return "", false
	}
	share := 0.0
	if in.RunDelay > 0 && in.Duration > 0 && in.CPUs > 0 {
		share = in.RunDelay.Seconds() / (in.Duration.Seconds() * float64(in.CPUs))
	}
	if share < StarvedDelayShare && lag.Max < StarvedLag {
		return "", false
	}
	ev := fmt.Sprintf("the generator was not busy (it used %s), yet its schedule ran up to %s late", busy(in), dur(lag.Max))
	if in.RunDelay > 0 {
		ev += fmt.Sprintf(" and its threads waited %s for a CPU (run delay)", dur(in.RunDelay))
	}
	return ev + ": other processes, or the machine's host, kept it from running", true
}

// peakRate is the highest intended rate of the run's seconds (at least
// the mean).
func peakRate(in Input, mean float64) float64 {
	peak := mean
	var prev time.Duration
	for _, p := range in.Timeline {
		if d := p.T - prev; d >= 500*time.Millisecond {
			peak = max(peak, float64(p.Intended)/d.Seconds())
		}
		prev = p.T
	}
	return peak
}

// RateShortfall says which resource ran out when an open-model run fell
// short of its rate (iterations dropped) or started iterations late: the
// VUs (all MaxVUs busy), the pool (VUs waiting for a connection because
// MaxConnsPerHost is below MaxVUs), the generator's CPU, or a generator
// starved of CPU by others.
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
	peak := peakRate(in, sf.Target)
	starvedWhy, isStarved := starved(in, lag)
	switch {
	case s.Dropped > 0:
		sf.Short = true
		blocked := metrics.DistOf(s.Hist(metrics.Blocked))
		pool := in.Config.MaxConnsPerHost
		if blocked.Count > 0 && lat.Mean > 0 && float64(blocked.Mean) > 0.3*float64(lat.Mean) && pool > 0 && pool < maxVUs {
			sf.LimitedBy = "pool"
			sf.Reason = fmt.Sprintf("%d iterations dropped: the VUs were waiting for a connection (blocked mean %s of latency mean %s); --max-conns-per-host %d is below --max-vus %d",
				s.Dropped, dur(blocked.Mean), dur(lat.Mean), pool, maxVUs)
			sf.Fix = fmt.Sprintf("--max-conns-per-host %d (as many as --max-vus)", poolFloor(maxVUs))
			return sf
		}
		if why, fix, ok := streamShortfall(in, lat, maxVUs); ok {
			sf.LimitedBy = "streams"
			sf.Reason = fmt.Sprintf("%d iterations dropped: %s", s.Dropped, why)
			sf.Fix = fix
			return sf
		}
		need := int64(math.Ceil(peak * lat.P99.Seconds()))
		// Starved names the machine only where the VUs would have kept
		// the rate at the typical latency: where even the median answer
		// needs a quarter more VUs than there were (rate x p50), the VUs
		// ran out whatever the machine did, and more of them is the fix.
		vusShort := 4*peak*lat.P50.Seconds() > 5*float64(maxVUs)
		if isStarved && !vusShort {
			sf.LimitedBy = "starved"
			sf.Reason = fmt.Sprintf("%d iterations dropped: %s, so iterations piled up and the VUs ran out", s.Dropped, starvedWhy)
			sf.Fix = "run faya where it gets its CPUs (nothing else busy beside it, taskset, a VM without steal time), or lower the rate; more VUs would not help"
			return sf
		}
		if in.GeneratorBusy >= GeneratorBusy && need*4 <= int64(maxVUs) {
			sf.LimitedBy = "generator"
			sf.Reason = fmt.Sprintf("%d iterations dropped when all %d VUs were busy at once, though at the latency p99 %s the peak rate %.0f/s needs about %d: the generator used %s, so iterations started late (schedule lag p99 %s) and piled up",
				s.Dropped, maxVUs, dur(lat.P99), peak, need, busy(in), dur(lag.P99))
			sf.Fix = "give the generator more CPU (more cores for faya, or another machine), or lower the rate; more VUs would not help"
			return sf
		}
		sf.LimitedBy = "vus"
		if need > int64(maxVUs) {
			sf.Reason = fmt.Sprintf("%d iterations dropped: all %d VUs (--max-vus) were busy; at the peak rate %.0f/s and the latency p99 %s the rate needs about %d VUs at once (rate x latency)",
				s.Dropped, maxVUs, peak, dur(lat.P99), need)
			if isStarved {
				sf.Reason += fmt.Sprintf("; besides, %s, which may have slowed the answers too", starvedWhy)
			}
			sf.Fix = fmt.Sprintf("--max-vus %d (the need, with a quarter more for bursts); if the latency grows with the rate, the target is slower than this rate", roundUp(need*5/4))
			return sf
		}
		atMax := max(int64(math.Ceil(peak*lat.Max.Seconds())), 2*int64(maxVUs))
		sf.Reason = fmt.Sprintf("%d iterations dropped when all %d VUs (--max-vus) were busy at once: at the latency p99 %s the peak rate %.0f/s needs only about %d, but the slowest responses took %s (the target stalled), and while they lasted every VU was taken",
			s.Dropped, maxVUs, dur(lat.P99), peak, need, dur(lat.Max))
		sf.Fix = fmt.Sprintf("--max-vus %d to ride out the slowest responses (rate x max latency), or keep %d and read the drops as the stall's measure", roundUp(atMax), maxVUs)
	case lateShare > 0.01 || in.Config.LateThreshold > 0 && lag.P99 > in.Config.LateThreshold:
		if isStarved {
			sf.LimitedBy = "starved"
			sf.Reason = fmt.Sprintf("%d iterations started late (over %s; schedule lag p99 %s): %s", s.Late, in.Config.LateThreshold, dur(lag.P99), starvedWhy)
			sf.Fix = "run faya where it gets its CPUs (nothing else busy beside it, taskset, a VM without steal time)"
			return sf
		}
		sf.LimitedBy = "generator"
		sf.Reason = fmt.Sprintf("%d iterations started late (over %s; schedule lag p99 %s): the generator's CPU is busy", s.Late, in.Config.LateThreshold, dur(lag.P99))
		if in.GeneratorBusy > 0 {
			sf.Reason += fmt.Sprintf(" (it used %s)", busy(in))
		}
		sf.Fix = "give the generator more CPU (or another machine), or lower the rate"
	}
	return sf
}

// roundUp rounds n up to a number a person would type: two significant
// digits.
func roundUp(n int64) int64 {
	step := int64(1)
	for n > 100*step {
		step *= 10
	}
	return (n + step - 1) / step * step
}

// streamShortfall: over HTTP/2 the VUs queue for a free stream slot
// (stream_wait), not for a connection (blocked): they were that queue
// when the wait was over 30% of the latency and the pool's streams (its
// connections times the streams each may carry) are below --max-vus.
func streamShortfall(in Input, lat metrics.Dist, maxVUs int) (why, fix string, ok bool) {
	a := analysis{Input: in, s: in.Total}
	wait := metrics.DistOf(a.s.Hist(metrics.StreamWait))
	if wait.Count == 0 || lat.Mean <= 0 || float64(wait.Mean) <= 0.3*float64(lat.Mean) {
		return "", "", false
	}
	c := int64(maxVUs)
	per, client, conns, ok := a.streamCapacity(c)
	if !ok {
		return "", "", false
	}
	src := "the server's SETTINGS_MAX_CONCURRENT_STREAMS"
	if client {
		src = "--h2-max-streams"
	}
	bound := fmt.Sprintf("--max-conns-per-host %d", conns)
	if a.Config.H2StrictStreams {
		bound = "--h2-strict-streams"
	}
	what := fmt.Sprintf("%d connections (%s) of %d streams each", conns, bound, per)
	if conns == 1 {
		what = fmt.Sprintf("1 connection (%s) of %d streams", bound, per)
	}
	why = fmt.Sprintf("the VUs were waiting for a free stream slot on their HTTP/2 connections (stream_wait mean %s of latency mean %s): %s (%s) carry %d requests at once, below --max-vus %d",
		dur(wait.Mean), dur(lat.Mean), what, src, conns*per, maxVUs)
	return why, a.streamFix(c, per, conns, client), true
}

var limitedByName = map[string]string{"vus": "VUs", "pool": "connection pool", "streams": "HTTP/2 stream slots of the connection pool", "generator": "generator's CPU", "starved": "CPU the machine gave the generator"}

func (a *analysis) rateShortfall() {
	sf := RateShortfall(a.Input)
	if sf.LimitedBy == "" {
		return
	}
	if !sf.Short {
		a.add(Finding{
			ID:       "late-starts",
			Severity: Warning,
			Title:    fmt.Sprintf("Iterations started late, though all %d were sent: limited by the %s", a.s.Sent, limitedByName[sf.LimitedBy]),
			Evidence: sf.Reason,
			Fix:      sf.Fix,
		})
		return
	}
	sev := Warning
	if sf.Achieved < 0.9*sf.Target {
		sev = Error
	}
	a.add(Finding{
		ID:       "rate-shortfall",
		Severity: sev,
		Title:    fmt.Sprintf("The achieved rate fell short of the target (%.1f/s of %.1f/s, %d dropped): limited by the %s", sf.Achieved, sf.Target, a.s.Dropped, limitedByName[sf.LimitedBy]),
		Evidence: sf.Reason,
		Fix:      sf.Fix,
	})
}

// closedStall reports a closed-model run whose slowest requests were far
// slower than its percentiles show: the server stalled, and the closed
// model, which waits for each answer before it sends the next request,
// sent almost nothing meanwhile (coordinated omission).
func (a *analysis) closedStall() {
	if a.Config.Open || a.s.Requests == 0 {
		return
	}
	lat := metrics.DistOf(a.s.Hist(metrics.Latency))
	if lat.Max < 200*time.Millisecond || lat.P90 <= 0 {
		return
	}
	// A stall shows as seconds in which almost nothing completed, the
	// slowest requests far above most. A generator kept from running
	// looks the same: not when its threads waited that long for a CPU.
	quiet, seconds := quietSeconds(a.Timeline)
	if quiet == 0 || lat.Max < 10*lat.P90 {
		return
	}
	if a.RunDelay > 0 && a.CPUs > 0 && a.RunDelay/time.Duration(a.CPUs) >= lat.Max/2 {
		return
	}
	ratio := float64(lat.Max) / float64(max(lat.P999, 1))
	ev := fmt.Sprintf("The slowest request took %s, %.0fx the p99.9 (%s) and %.0fx the p90 (%s)", dur(lat.Max), ratio, dur(lat.P999), float64(lat.Max)/float64(lat.P90), dur(lat.P90))
	if quiet > 0 {
		ev += fmt.Sprintf("; in %d of %d whole seconds fewer than a tenth of the usual requests completed", quiet, seconds)
	}
	ev += ". Each VU waits for its answer before it sends the next request, so while the server stalls almost nothing is sent: the stall is a handful of samples and the percentiles hide it (coordinated omission)."
	rate := 0.0
	if a.Duration > 0 {
		rate = float64(a.s.Requests) / a.Duration.Seconds()
	}
	r := max(roundUp(int64(rate)), 1)
	vus := roundUp(max(int64(math.Ceil(float64(r)*lat.Max.Seconds()*1.25)), int64(a.concurrency())))
	a.add(Finding{
		ID:       "closed-model-stall",
		Severity: Warning,
		Title:    fmt.Sprintf("The server stalled for up to %s, and the closed model hid it", dur(lat.Max)),
		Evidence: ev,
		Fix: fmt.Sprintf("measure with the open model, which keeps sending on schedule and times each request from its intended start: faya run -r %d -d %s --max-vus %d (same URL and flags)",
			r, a.Duration.Round(time.Second), vus),
	})
}

// quietSeconds counts the timeline's whole seconds (not the first nor the
// last, which are partial) in which fewer than a tenth of the median
// second's requests completed.
func quietSeconds(tl []metrics.Point) (quiet, seconds int) {
	if len(tl) < 3 {
		return 0, 0
	}
	inner := tl[1 : len(tl)-1]
	counts := make([]int64, len(inner))
	for i, p := range inner {
		counts[i] = p.Requests
	}
	med := median(counts)
	for _, n := range counts {
		if float64(n) < 0.1*float64(med) {
			quiet++
		}
	}
	return quiet, len(inner)
}

func median(xs []int64) int64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	return s[len(s)/2]
}
