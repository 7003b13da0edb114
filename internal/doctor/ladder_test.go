package doctor_test

import (
	"strings"
	"testing"

	"github.com/faya-load/faya/internal/doctor"
)

// rung is a step measured three times (or as many runs as given).
func rung(c int, rps ...float64) doctor.Step {
	return doctor.Step{Concurrency: c, Runs: rps, Requests: 10_000}
}

// The ladder's decision is a pure function of the measured steps: it
// stops only on errors or a drop beyond the steps' own spread, and
// recommends the highest concurrency whose throughput stayed within the
// spread of the best.
func TestJudge(t *testing.T) {
	errs := rung(16, 3000, 3100, 3050)
	errs.Errors = 500 // 5% of the requests
	for _, tc := range []struct {
		name            string
		steps           []doctor.Step
		stop            bool
		knee, recommend int
		reason          string
	}{
		{"none", nil, false, 1, 1, ""},
		{"still growing", []doctor.Step{rung(1, 1000, 1010, 990), rung(2, 1900, 1950, 1920), rung(4, 3500, 3550, 3480)}, false, 4, 4, ""},
		{
			// The first-dip rule (stop when doubling adds under 10%) would
			// stop at 8 and recommend 4; 8's runs overlap 4's, so the
			// ladder goes on, and 16 is still within the best's spread.
			"dip within the spread",
			[]doctor.Step{rung(1, 1000, 1020, 990), rung(2, 1900, 1950, 1920), rung(4, 3500, 3600, 3400), rung(8, 3300, 3450, 3600), rung(16, 3550, 3650, 3450), rung(32, 2000, 2050, 1950)},
			true, 4, 16, "dropped beyond the spread",
		},
		{"drop at once", []doctor.Step{rung(1, 1000, 1010, 1005), rung(2, 800, 810, 790)}, true, 1, 1, "dropped beyond the spread"},
		{"errors", []doctor.Step{rung(1, 1000, 1010, 990), rung(2, 1900, 1950, 1920), rung(4, 2900, 3000, 2950), rung(8, 3100, 3050, 3000), errs}, true, 4, 8, "errors"},
		// One run each: no spread to go by, so a 2% margin stands for it.
		{"single runs, small dip", []doctor.Step{rung(1, 1000), rung(2, 2000), rung(4, 1980)}, false, 2, 4, ""},
		{"single runs, real drop", []doctor.Step{rung(1, 1000), rung(2, 2000), rung(4, 1900)}, true, 2, 2, "dropped beyond the spread"},
		// A noisy best: its spread is wide, so later steps in it count.
		{"noisy best", []doctor.Step{rung(1, 1000, 1000, 1000), rung(2, 2000, 1500, 2500), rung(4, 1700, 1650, 1600), rung(8, 1400, 1300, 1350)}, true, 2, 4, "dropped beyond the spread"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v := doctor.Judge(tc.steps)
			if v.Stop != tc.stop || v.Knee != tc.knee || v.Recommend != tc.recommend || !strings.Contains(v.Reason, tc.reason) {
				t.Errorf("Judge = %+v, want stop %v, knee %d, recommend %d, reason %q", v, tc.stop, tc.knee, tc.recommend, tc.reason)
			}
		})
	}
}

// The report says when the target is on faya's machine (the throughput is
// what both got, so the recommendation is a lower bound) and when faya's
// CPU was the limit; its Go literal does not claim HTTP/2.
func TestReportLimits(t *testing.T) {
	r := &doctor.Report{URL: "http://127.0.0.1:8080/", Steps: []doctor.Step{rung(1, 1000, 1000, 1000), rung(2, 1990, 2000, 2010)},
		Saturation: 2, MaxConnsPerHost: 2, SharedCPU: true, CPUs: 2}
	r.Steps[1].Busy = 0.97
	var b strings.Builder
	if err := r.Text(&b); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"faya and the target share this machine's 2 CPUs: the throughput measured is what both got together, so the recommendation is a lower bound",
		"faya's CPU was 97% busy at the best step: the generator was a limit too, so the recommendation is a lower bound",
		"MaxConnsPerHost:       2,",
	} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("report lacks %q:\n%s", want, b.String())
		}
	}
	if strings.Contains(r.GoTransport(), "HTTP2") {
		t.Errorf("the Go literal sets HTTP/2, which was not measured:\n%s", r.GoTransport())
	}
	r.SharedCPU, r.Steps[1].Busy = false, 0.3
	b.Reset()
	_ = r.Text(&b)
	if strings.Contains(b.String(), "lower bound") {
		t.Errorf("a lower bound claimed without evidence:\n%s", b.String())
	}
}

// The target's host is on this machine when it is loopback or one of its
// own addresses.
func TestSharesCPU(t *testing.T) {
	for host, want := range map[string]bool{"127.0.0.1": true, "127.3.4.5": true, "::1": true, "localhost": true, "192.0.2.1": false, "2001:db8::1": false} {
		if got := doctor.SharesCPU(t.Context(), host); got != want {
			t.Errorf("SharesCPU(%q) = %v, want %v", host, got, want)
		}
	}
}
