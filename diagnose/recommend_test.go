package diagnose_test

import (
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/faya-load/faya/diagnose"
	"github.com/faya-load/faya/metrics"
)

// recommended finds the values a fix recommends for the pool's flags.
var recommended = regexp.MustCompile(`(--max-conns-per-host|--max-idle-conns-per-host|--max-idle-conns|--idle-conn-timeout) (\S+)`)

// noHarm fails when a finding recommends a pool below 2 or
// a client idle timeout below diagnose.MinIdleTimeout: values that would
// make the run worse (a request waiting while the one connection closes;
// a reconnect after every pause).
func noHarm(t *testing.T, fs []diagnose.Finding) {
	t.Helper()
	for _, f := range fs {
		for _, m := range recommended.FindAllStringSubmatch(f.Fix, -1) {
			if m[1] == "--idle-conn-timeout" {
				if d, err := time.ParseDuration(m[2]); err != nil || d < diagnose.MinIdleTimeout {
					t.Errorf("%s recommends %s %s (%v): below %s", f.ID, m[1], m[2], err, diagnose.MinIdleTimeout)
				}
				continue
			}
			if n, err := strconv.Atoi(m[2]); err != nil || n < diagnose.MinPool {
				t.Errorf("%s recommends %s %s (%v): below %d", f.ID, m[1], m[2], err, diagnose.MinPool)
			}
		}
	}
}

// The pool sizes the findings recommend: the concurrency (or twice a
// limit the run overflowed), never below 2, also for a run of one VU.
func TestPoolRecommendationFloor(t *testing.T) {
	type pool struct{ conc, perHost, idle, maxConns int }
	for _, tc := range []struct {
		name   string
		pool   pool
		reason metrics.CloseReason // an idle put refused for it, 50 times
		open   int64               // the most connections open at once
		id     string
		says   string
	}{
		{"1 VU, idle per host unset", pool{1, 0, 100, 1}, metrics.CloseTooManyIdleForHost, 1, "idle-pool-too-small",
			"--max-idle-conns-per-host 2 (in Go: http.Transport.MaxIdleConnsPerHost = 2)"},
		{"1 VU, idle per host 1", pool{1, 1, 100, 1}, metrics.CloseTooManyIdleForHost, 1, "idle-pool-too-small",
			"--max-idle-conns-per-host 2 (in Go: http.Transport.MaxIdleConnsPerHost = 2)"},
		{"1 VU, idle unset", pool{1, 100, 0, 1}, metrics.CloseTooManyIdle, 1, "idle-pool-too-small",
			"--max-idle-conns 2 (in Go: http.Transport.MaxIdleConns = 2)"},
		{"8 VUs, idle per host 2", pool{8, 2, 100, 8}, metrics.CloseTooManyIdleForHost, 8, "idle-pool-too-small",
			"--max-idle-conns-per-host 8 (in Go: http.Transport.MaxIdleConnsPerHost = 8)"},
		{"4 VUs, idle per host 4, overflowed", pool{4, 4, 100, 8}, metrics.CloseTooManyIdleForHost, 8, "idle-pool-too-small",
			"--max-idle-conns-per-host 8 (in Go: http.Transport.MaxIdleConnsPerHost = 8)"},
		{"1 VU, no cap", pool{1, 100, 100, 0}, 0, 6, "unbounded-connections",
			"--max-conns-per-host 2 (in Go: http.Transport.MaxConnsPerHost = 2)"},
		{"8 VUs, no cap", pool{8, 100, 100, 0}, 0, 30, "unbounded-connections",
			"--max-conns-per-host 8 (in Go: http.Transport.MaxConnsPerHost = 8)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := &metrics.Snapshot{Requests: 1000, OK: 1000, Dialed: 60, ConnFresh: 60, ConnReused: 940, MaxOpen: tc.open}
			if tc.reason != 0 {
				s.PutIdleErrors[tc.reason] = 50
			}
			cfg := diagnose.Config{Concurrency: tc.pool.conc, MaxIdleConnsPerHost: tc.pool.perHost, MaxIdleConns: tc.pool.idle,
				MaxConnsPerHost: tc.pool.maxConns, IdleConnTimeout: 90 * time.Second}
			fs := diagnose.Analyze(diagnose.Input{Config: cfg, Total: s, Duration: 2 * time.Second})
			mention(t, find(t, fs, tc.id), tc.says)
			noHarm(t, fs)
		})
	}
}

// The client idle timeouts findings recommend, at the 1 s floor's edge:
// 80% of the server's timeout, rounded, when that is 1 s or more; else
// none, and the server's timeout is the one to raise.
func TestIdleRecommendationFloor(t *testing.T) {
	cfg := diagnose.Config{Concurrency: 10, MaxConnsPerHost: 10, MaxIdleConnsPerHost: 10, IdleConnTimeout: 90 * time.Second}
	for _, tc := range []struct {
		server time.Duration
		says   string // "": no client timeout, raise the server's
	}{
		{time.Millisecond, ""},
		{900 * time.Millisecond, ""},
		{1200 * time.Millisecond, ""}, // 960 ms
		{1250 * time.Millisecond, "--idle-conn-timeout 1s (in Go: http.Transport.IdleConnTimeout = 1 * time.Second)"},
		{2 * time.Second, "--idle-conn-timeout 1.6s (in Go: http.Transport.IdleConnTimeout = 1600 * time.Millisecond)"},
	} {
		t.Run(tc.server.String(), func(t *testing.T) {
			fs := diagnose.Analyze(diagnose.Input{Config: cfg, Total: idleCloses(5, tc.server)})
			f := find(t, fs, "server-idle-timeout")
			if tc.says == "" {
				mention(t, f, "raise the server's keep-alive timeout")
				if recommended.MatchString(f.Fix) {
					t.Errorf("fix %q: want no client setting", f.Fix)
				}
			} else {
				mention(t, f, tc.says)
			}
			noHarm(t, fs)
		})
	}
}
