package diagnose_test

import (
	"strings"
	"testing"
	"time"

	"github.com/faya-load/faya/diagnose"
	"github.com/faya-load/faya/metrics"
)

// quietRun is the evidence of a ramping run against a server that closes
// idle connections after about serverIdle, one point a second: busy (200
// connections, 190 of them active) until the first stage at or below
// half the peak, quiet after (quietActive active). Two to three seconds
// after the quiet stage's start plus the server's timeout, the server
// closed serverCloses of the idle ones and the client's IdleConnTimeout
// clientCloses, half in each of two seconds.
type quietRun struct {
	stages                     []diagnose.Stage
	rate                       bool
	serverIdle                 []time.Duration // each idle close's idle time
	serverCloses, clientCloses int64
	quietActive                int64 // connections active in the quiet stage
	tail                       bool  // the busy stage's VUs still busy in the quiet stage's first second
	cfg                        func(*diagnose.Config)
}

func (q quietRun) input() diagnose.Input {
	rec := metrics.NewRecorder(1)
	for _, d := range q.serverIdle {
		rec.ConnClosed(metrics.ClosedConn{Reason: metrics.CloseServerIdle, Requests: 100, Lifetime: 10 * time.Second, IdleClosed: true, IdleFor: d})
	}
	s := rec.Flush(nil)
	s.Requests, s.OK, s.Dialed, s.ConnFresh, s.ConnReused = 100_000, 100_000, 200, 200, 99_800
	var length, quietAt time.Duration
	peak := 0.0
	for _, st := range q.stages {
		hi := max(st.From, st.To)
		if quietAt == 0 && peak > 0 && hi <= peak/2 {
			quietAt = length
		}
		peak = max(peak, hi)
		length += st.Duration
	}
	if len(q.stages) == 0 {
		length = 13 * time.Second
	}
	closeAt := 0
	if len(q.serverIdle) > 0 {
		closeAt = int((quietAt+q.serverIdle[0])/time.Second) + 2
	}
	var tl []metrics.Point
	open := int64(200)
	for sec := 1; time.Duration(sec)*time.Second <= length; sec++ {
		p := metrics.Point{T: time.Duration(sec) * time.Second, Requests: 8000, TimeWait: -1}
		if quietAt == 0 || p.T <= quietAt {
			p.ConnsOpen, p.ConnsActive, p.VUsBusy = 200, 190, 200
		} else {
			if sec == closeAt || sec == closeAt+1 {
				p.ServerIdleCloses, p.IdleTimeoutCloses = q.serverCloses/2, q.clientCloses/2
				open -= p.ServerIdleCloses + p.IdleTimeoutCloses
			}
			p.ConnsOpen, p.ConnsActive, p.VUsBusy = open, q.quietActive, q.quietActive
			if q.tail && p.T-time.Second <= quietAt {
				p.VUsBusy = 200
			}
		}
		tl = append(tl, p)
	}
	cfg := diagnose.Config{Concurrency: 200, MaxConnsPerHost: 200, MaxIdleConnsPerHost: 200, MaxIdleConns: 200,
		IdleConnTimeout: 90 * time.Second, Stages: q.stages, StagesRate: q.rate}
	if q.cfg != nil {
		q.cfg(&cfg)
	}
	return diagnose.Input{Config: cfg, Total: s, Timeline: tl, Duration: length, Scheduling: length,
		Start: time.Date(2026, 12, 2, 12, 0, 0, 0, time.UTC)}
}

// rampDown is 200 VUs down to 20: 1s:0-200, 3s:200, 1s:200-20, 8s:20.
var rampDown = []diagnose.Stage{{time.Second, 0, 200}, {3 * time.Second, 200, 200}, {time.Second, 200, 20}, {8 * time.Second, 20, 20}}

// closes is n idle closes after about d (d to d + 90 ms).
func closes(n int, d time.Duration) []time.Duration {
	out := make([]time.Duration, n)
	for i := range out {
		out[i] = d + time.Duration(i%10)*10*time.Millisecond
	}
	return out
}

func TestIdleInQuietHours(t *testing.T) {
	base := quietRun{stages: rampDown, serverIdle: closes(180, 5*time.Second), serverCloses: 180, quietActive: 20}
	with := func(f func(*quietRun)) quietRun { q := base; f(&q); return q }
	for _, tc := range []struct {
		name string
		run  quietRun
		// says are what the finding must say; empty: it must not fire.
		says, never []string
	}{
		{"ramp down to a quiet stage", base, []string{
			"In the quiet stage 180 of 200 connections sat idle, and the server closed 180 of them after about 5.00s",
			"quiet stage (0:05-0:13 of the run, 12:00:05-12:00:13 UTC: at most 20 VUs, after 200)",
			"up to 180 of 200 connections sat idle", "after 5.00s idle at the least", "an IdleConnTimeout of 1m30s, closed 0",
			"--idle-conn-timeout 4s (in Go: http.Transport.IdleConnTimeout = 4 * time.Second), below the server's 5.00s",
			"--max-idle-conns-per-host 20 (in Go: http.Transport.MaxIdleConnsPerHost = 20), the quiet stage's concurrency (~20)",
		}, nil},
		{"a long server timeout: whole seconds", with(func(q *quietRun) {
			q.serverIdle = closes(180, 60*time.Second)
			q.stages = []diagnose.Stage{{30 * time.Second, 200, 200}, {90 * time.Second, 20, 20}}
		}), []string{"--idle-conn-timeout 48s", "below the server's 60.00s"}, nil},
		{"the busy stage's last iterations in the quiet stage's first second", with(func(q *quietRun) { q.tail = true }),
			[]string{"--max-idle-conns-per-host 20 ", "(~20)"}, nil},
		{"the quiet stage's measured concurrency rounds up", with(func(q *quietRun) { q.quietActive = 23 }),
			[]string{"--max-idle-conns-per-host 25", "(~23)"}, nil},
		{"a quiet stage of one VU: never a pool of one", with(func(q *quietRun) {
			q.stages = []diagnose.Stage{{4 * time.Second, 200, 200}, {9 * time.Second, 1, 1}}
			q.quietActive = 1
		}), []string{"--max-idle-conns-per-host 2 "}, []string{"--max-idle-conns-per-host 1 "}},
		{"a server timeout too short to stay under: no idle timeout below 1 s", with(func(q *quietRun) { q.serverIdle = closes(180, 1100*time.Millisecond) }),
			[]string{"raise the server's keep-alive timeout", "--max-idle-conns-per-host 20"}, []string{"--idle-conn-timeout"}},
		{"per-VU pools: no shared pool to shrink", with(func(q *quietRun) { q.cfg = func(c *diagnose.Config) { c.PerVUPools = true } }),
			[]string{"--idle-conn-timeout 4s"}, []string{"--max-idle-conns-per-host"}},
		{"open model: the measured concurrency", with(func(q *quietRun) {
			q.rate = true
			q.stages = []diagnose.Stage{{4 * time.Second, 5000, 5000}, {9 * time.Second, 400, 400}}
			q.quietActive = 12
		}), []string{"at most 400 requests/s, after 5000", "--max-idle-conns-per-host 15 ", "(~12)"}, nil},

		// Not judged, or not true.
		{"no stages: a constant load", with(func(q *quietRun) { q.stages = nil }), nil, nil},
		{"no ramp down", with(func(q *quietRun) {
			q.stages = []diagnose.Stage{{5 * time.Second, 0, 200}, {8 * time.Second, 200, 200}}
		}), nil, nil},
		{"a ramp down by less than half", with(func(q *quietRun) {
			q.stages = []diagnose.Stage{{5 * time.Second, 200, 200}, {8 * time.Second, 120, 120}}
		}), nil, nil},
		{"no idle closes", with(func(q *quietRun) { q.serverIdle, q.serverCloses = nil, 0 }), nil, nil},
		{"two idle closes: too few to name a timeout", with(func(q *quietRun) { q.serverIdle, q.serverCloses = closes(2, 5*time.Second), 2 }), nil, nil},
		{"closes spread too wide for one timeout", with(func(q *quietRun) {
			q.serverIdle = append(closes(10, time.Second), closes(90, 7*time.Second)...)
		}), nil, nil},
		{"a quiet stage too short", with(func(q *quietRun) {
			q.stages = []diagnose.Stage{{11 * time.Second, 200, 200}, {2 * time.Second, 20, 20}}
		}), nil, nil},
		{"a quiet stage shorter than the server's timeout", with(func(q *quietRun) {
			q.serverIdle = closes(180, 9*time.Second)
		}), nil, nil},
		{"the client closes first: its timeout below the server's", with(func(q *quietRun) {
			q.cfg = func(c *diagnose.Config) { c.IdleConnTimeout = 4 * time.Second }
		}), nil, nil},
		{"the client closed most of them", with(func(q *quietRun) { q.serverCloses, q.clientCloses = 4, 176 }), nil, nil},
		{"keep-alives disabled", with(func(q *quietRun) { q.cfg = func(c *diagnose.Config) { c.DisableKeepAlives = true } }), nil, nil},
	} {
		t.Run(strings.ReplaceAll(tc.name, " ", "_"), func(t *testing.T) {
			fs := diagnose.Analyze(tc.run.input())
			if len(tc.says) == 0 {
				noFinding(t, fs, "idle-in-quiet-hours")
				return
			}
			f := find(t, fs, "idle-in-quiet-hours")
			if f.Severity != diagnose.Warning {
				t.Errorf("severity %s, want warning", f.Severity)
			}
			mention(t, f, tc.says...)
			all := f.Title + " | " + f.Evidence + " | " + f.Fix
			for _, s := range tc.never {
				if strings.Contains(all, s) {
					t.Errorf("finding says %q: %s", s, all)
				}
			}
		})
	}
}
