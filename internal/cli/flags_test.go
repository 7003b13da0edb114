package cli_test

import (
	"encoding/json"
	"regexp"
	"strings"
	"testing"

	"github.com/faya-load/faya/internal/cli"
	"github.com/faya-load/faya/internal/testserver"
)

// The flags users of hey, k6, vegeta, oha and wrk type get the faya flag
// that does it, and a collision with another tool's meaning is named:
// exit 2, before any traffic.
func TestOtherToolsFlags(t *testing.T) {
	srv := testserver.Start(t)
	url := srv.URL + "/"
	for _, tc := range []struct {
		name string
		args []string
		want []string
	}{
		{"k6 stage", []string{"run", "--stage", "30s:20", url}, []string{"unknown flag: --stage", "did you mean --stages (open model: a ramping rate) or --vu-stages (closed model: ramping VUs)?"}},
		{"hey disable-keepalive", []string{"run", "--disable-keepalive", url}, []string{"unknown flag: --disable-keepalive", "did you mean --disable-keepalives?"}},
		{"k6 vus", []string{"run", "--vus", "10", url}, []string{"unknown flag: --vus", "-c/--concurrency"}},
		{"hey z", []string{"run", "-z", "10s", url}, []string{"unknown shorthand flag: 'z' in -z", "hey's -z is -d/--duration here"}},
		{"hey T", []string{"run", "-T", "application/json", url}, []string{"unknown shorthand flag: 'T'", "-H 'Content-Type: ...'"}},
		{"http2", []string{"run", "--http2", url}, []string{"unknown flag: --http2", "use --http 2"}},
		{"h2", []string{"run", "--h2", url}, []string{"unknown flag: --h2", "use --http 2"}},
		{"h3", []string{"run", "--http3", url}, []string{"unknown flag: --http3", "not HTTP/3 yet"}},
		{"latency correction", []string{"run", "--latency-correction", url}, []string{"unknown flag: --latency-correction", "faya's open model measures latency from each request's intended start; see -r/--rate"}},
		{"typo", []string{"run", "--requets", "5", url}, []string{"unknown flag: --requets", "did you mean --requests?"}},
		{"curl data", []string{"run", "--data", "x", url}, []string{"unknown flag: --data", "--body"}},
		{"hey d body", []string{"run", "-m", "POST", "-d", `{"a":1}`, url}, []string{`-d {"a":1}: -d is the duration here (hey's and curl's -d is the body): give the body with --body`}},
		{"hey q", []string{"run", "-q", "100", url}, []string{"-q is --quiet here (hey's -q is a rate per worker): for 100 requests a second use -r 100"}},
		{"single dash long", []string{"run", "-disable-keepalive", url}, []string{"-disable-keepalive: faya's long flags take two dashes: --disable-keepalives"}},
		{"single dash rate", []string{"run", "-rate", "50", url}, []string{"-rate: faya's long flags take two dashes: --rate"}},
		{"single dash doctor", []string{"doctor", "-max-concurrency", "4", url}, []string{"-max-concurrency: faya's long flags take two dashes: --max-concurrency"}},
		{"vegeta attack", []string{"attack", url}, []string{`unknown command "attack"`, "run"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := faya(t.Context(), tc.args...)
			if r.code != cli.ExitUsage {
				t.Errorf("exit %d, want %d; stderr: %s", r.code, cli.ExitUsage, r.stderr)
			}
			for _, w := range tc.want {
				if !strings.Contains(r.stderr, w) {
					t.Errorf("stderr %q does not contain %q", r.stderr, w)
				}
			}
		})
	}
	if st := srv.Stats(); st.ConnsNew != 0 || st.Requests != 0 {
		t.Errorf("bad input sent traffic: %d connections, %d requests", st.ConnsNew, st.Requests)
	}
}

// Flags that look like single-dash long flags but are short flags with
// their values still work.
func TestShortFlagsWithValues(t *testing.T) {
	srv := testserver.Start(t)
	r := faya(t.Context(), "run", "-c2", "-n10", "-mHEAD", "-Hx-a: b", "-q", srv.URL+"/")
	if r.code != cli.ExitOK || srv.Stats().Requests != 10 {
		t.Errorf("exit %d, the server saw %d requests, want 10; stderr: %s", r.code, srv.Stats().Requests, r.stderr)
	}
}

// A single target ramps from the previous stage's end, 0 at the start,
// as k6's --stage does: --stages 1s:100,1s:200 ramps 0 to 100, then 100
// to 200 (50 + 150 arrivals, where holding each rate would be 100 + 200).
func TestStagesRampFromPrevious(t *testing.T) {
	srv := testserver.Start(t)
	r := faya(t.Context(), "run", "--stages", "1s:100,1s:200", "--json", "-", srv.URL+"/")
	if r.code != cli.ExitOK {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	var rep scheduleJSON
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
		t.Fatal(err)
	}
	if rep.Schedule.Intended != 200 || rep.Schedule.Sent+rep.Schedule.Dropped != 200 {
		t.Errorf("--stages 1s:100,1s:200: schedule %+v, want 200 intended (ramps of 50 and 150)", rep.Schedule)
	}
	var full struct {
		Run struct {
			Stages string `json:"stages"`
		} `json:"run"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &full); err != nil || full.Run.Stages != "1s:100,1s:200" {
		t.Errorf("run.stages %q, want the stages as given", full.Run.Stages)
	}
}

// faya run --help groups its flags as the README's tables do, each flag
// once, in the README's order.
func TestRunHelpGroups(t *testing.T) {
	r := faya(t.Context(), "run", "--help")
	if r.code != cli.ExitOK {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	out := r.stdout
	groups := []struct{ title, first, last string }{
		{"Load flags:", "--concurrency", "--late-threshold"},
		{"Request flags:", "--method", "--engine"},
		{"Pool flags", "--max-conns-per-host", "--conn-scope"},
		{"Proxy flags:", "--proxy ", "--proxy-from-env"},
		{"Scenario file and pass/fail flags:", "--file", "--threshold"},
		{"Output flags:", "--json", "--quiet"},
	}
	at := 0
	for k, g := range groups {
		i := strings.Index(out[at:], g.title)
		if i < 0 {
			t.Fatalf("help lacks %q after offset %d:\n%s", g.title, at, out)
		}
		at += i
		seg := out[at:]
		if k+1 < len(groups) {
			if end := strings.Index(seg, groups[k+1].title); end >= 0 {
				seg = seg[:end]
			}
		}
		for _, f := range []string{g.first, g.last} {
			if !strings.Contains(seg, f) {
				t.Errorf("%s is not under %q:\n%s", f, g.title, seg)
			}
		}
	}
	for _, f := range []string{"template", "base-url", "max-vus", "pipeline", "metrics-linger", "proxy-mode", "help"} {
		def := regexp.MustCompile(`(?m)^\s+(-\w, )?--` + f + `[ \[]`)
		if n := len(def.FindAllString(out, -1)); n != 1 {
			t.Errorf("--%s is listed %d times in the help, want once:\n%s", f, n, out)
		}
	}
	if strings.Contains(out, "--cpuprofile") {
		t.Errorf("the hidden --cpuprofile is in the help")
	}
}
