package threshold

import (
	"strings"
	"testing"
	"time"

	"github.com/faya-load/faya/metrics"
)

func snapshot() *metrics.Snapshot {
	var s metrics.Snapshot
	for i := 1; i <= 1000; i++ {
		x := &metrics.Sample{Latency: time.Duration(i) * time.Millisecond, Status: 200, Step: 1 + i%2, ChecksPassed: 1}
		w := int(metrics.Wait - metrics.Blocked)
		x.Phases[w], x.PhaseSet = time.Duration(i)*time.Microsecond, 1<<w
		if i%100 == 0 {
			x.Status = 500
			x.ChecksPassed, x.ChecksFailed = 0, 1
		}
		s.Add(x)
	}
	return &s
}

func TestEvaluate(t *testing.T) {
	in := Input{Total: snapshot(), StepNames: []string{"odd", "even"}, Scheduling: 10 * time.Second}
	for _, tc := range []struct {
		expr, step string
		pass       bool
		display    string
	}{
		{"p99(latency) < 300ms", "", false, "990ms"},
		{"p50(latency) <= 501ms", "", true, "500ms"},
		{"p99.9(latency) > 1s", "", false, "999ms"},
		{"max(latency) >= 1s", "", true, "1.00s"},
		{"mean(wait) < 1ms", "", true, "501µs"},
		{"error_rate < 1%", "", false, "1.00%"},
		{"error_rate <= 1%", "", true, "1.00%"},
		{"checks > 99%", "", false, "99.00%"},
		{"checks >= 99%", "", true, "99.00%"},
		{"rps > 99", "", true, "100"},
		{"requests >= 1000", "", true, "1000"},
		{"p99(latency) < 1s", "even", true, "989ms"},
		{"requests < 501", "odd", true, "500"},
		{"mean(wait) < 400us", "odd", false, "501µs"},
		{"p99(latency) < 1s", "missing", false, "-"},
	} {
		th, err := Parse(tc.expr, tc.step)
		if err != nil {
			t.Errorf("Parse(%q): %v", tc.expr, err)
			continue
		}
		r := th.evaluate(in)
		if r.Pass != tc.pass || r.Display != tc.display {
			t.Errorf("%q on %q: pass %v display %q, want %v %q (%s)", tc.expr, tc.step, r.Pass, r.Display, tc.pass, tc.display, r.Err)
		}
	}
}

func TestParseErrors(t *testing.T) {
	for _, tc := range []struct{ expr, step, want string }{
		{"p99(latency) 300ms", "", "no comparison"},
		{"p200(latency) < 1s", "", "not a percentile"},
		{"avg(latency) < 1s", "", "want pNN, mean, min or max"},
		{"p99(speed) < 1s", "", `unknown metric "speed"`},
		{"p99(latency) < fast", "", "not a duration"},
		{"p99(latency) < 5", "", "compare p99(latency) with a duration"},
		{"error_rate < 5ms", "", "is not a duration; compare it with a number"},
		{"goodness > 1", "", "want AGGREGATE(METRIC)"},
		{"p99(wait) < 1s", "item", "a step keeps the percentiles of its latency and the means of its phases"},
		{"mean(service_time) < 1s", "item", "a step keeps the percentiles of its latency and the means of its phases"},
		{"mean(schedule_lag) < 1s", "item", "a step keeps the percentiles of its latency and the means of its phases"},
		{"rps > 5", "item", "rps is for the whole run"},
	} {
		_, err := Parse(tc.expr, tc.step)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Parse(%q, %q) = %v, want %q", tc.expr, tc.step, err, tc.want)
		}
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{"p99(latency) < 300ms", "error_rate < 1%", "checks >= 99.5%", "rps > 10"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		th, err := Parse(s, "")
		if err != nil {
			return
		}
		_ = th.evaluate(Input{Total: snapshot(), Scheduling: time.Second})
	})
}
