package cli_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/faya-load/faya/internal/cli"
	"github.com/faya-load/faya/internal/sockstat"
	"github.com/faya-load/faya/internal/testserver"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

type result struct {
	code           int
	stdout, stderr string
}

func faya(ctx context.Context, args ...string) result {
	var out, errb bytes.Buffer
	code := cli.Main(ctx, args, strings.NewReader(""), &out, &errb)
	return result{code, out.String(), errb.String()}
}

func TestDemo(t *testing.T) {
	r := faya(t.Context(), "demo")
	if r.code != cli.ExitOK {
		t.Fatalf("exit %d, stderr: %s", r.code, r.stderr)
	}
	for _, want := range []string{"Summary", "Latency", "Phases", "Connections", "Status codes", "200"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("demo output lacks %q:\n%s", want, r.stdout)
		}
	}
	if strings.Contains(r.stdout, "generator   CPU") {
		t.Errorf("the demo reports the CPU of a process that also runs the target:\n%s", r.stdout)
	}
	dialed := regexp.MustCompile(`dialed\s+(\d+)`).FindStringSubmatch(r.stdout)
	total := regexp.MustCompile(`requests\s+(\d+)`).FindStringSubmatch(r.stdout)
	server := regexp.MustCompile(`target counted (\d+) connections and (\d+) requests`).FindStringSubmatch(r.stdout)
	if dialed == nil || total == nil || server == nil {
		t.Fatalf("cannot find the counts in:\n%s", r.stdout)
	}
	if dialed[1] != server[1] || total[1] != server[2] {
		t.Errorf("faya: dialed %s, requests %s; the target: %s connections, %s requests", dialed[1], total[1], server[1], server[2])
	}
	if n, _ := strconv.Atoi(dialed[1]); n < 1 || n > 50 {
		t.Errorf("dialed %d for 50 VUs", n)
	}
}

// jsonReport is the part of the JSON report the CLI tests read.
type jsonReport struct {
	SchemaVersion int  `json:"schema_version"`
	Partial       bool `json:"partial"`
	Requests      struct {
		Total, OK, Errors int64
	} `json:"requests"`
	Connections struct {
		Dialed, Fresh, Reused, Unused int64
		PutIdleErrors                 map[string]int64 `json:"put_idle_errors"`
	} `json:"connections"`
	Status map[string]int64 `json:"status"`
	Errors map[string]struct {
		Count int64 `json:"count"`
	} `json:"errors"`
	Run struct {
		Pipeline int `json:"pipeline"`
		Pool     struct {
			MaxConnsPerHost     int `json:"max_conns_per_host"`
			MaxIdleConnsPerHost int `json:"max_idle_conns_per_host"`
		} `json:"pool"`
	} `json:"run"`
}

func readJSON(t *testing.T, data []byte) jsonReport {
	t.Helper()
	var rep jsonReport
	if err := json.Unmarshal(data, &rep); err != nil {
		t.Fatalf("JSON report: %v\n%s", err, data)
	}
	return rep
}

func TestRunJSON(t *testing.T) {
	srv := testserver.Start(t)
	out := filepath.Join(t.TempDir(), "out.json")
	r := faya(t.Context(), "run", "-c", "50", "-n", "20000", "--json", out, srv.URL+"/")
	if r.code != cli.ExitOK {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	data, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	rep := readJSON(t, data)
	st := srv.Stats()
	if rep.SchemaVersion != 1 || rep.Partial {
		t.Errorf("schema_version %d partial %v", rep.SchemaVersion, rep.Partial)
	}
	if rep.Requests.Total != 20000 || st.Requests != 20000 {
		t.Errorf("requests.total = %d, server saw %d; want 20000", rep.Requests.Total, st.Requests)
	}
	c := rep.Connections
	if c.Dialed != st.ConnsNew || c.Dialed > 50 {
		t.Errorf("dialed %d, server %d, want equal and at most 50", c.Dialed, st.ConnsNew)
	}
	if c.Fresh+c.Reused != 20000 || c.Fresh+c.Unused != c.Dialed {
		t.Errorf("fresh %d reused %d unused %d dialed %d: want fresh+reused = total, fresh+unused = dialed", c.Fresh, c.Reused, c.Unused, c.Dialed)
	}
	if rep.Run.Pool.MaxConnsPerHost != 50 || rep.Run.Pool.MaxIdleConnsPerHost != 50 {
		t.Errorf("pool limits %+v, want both derived from -c 50", rep.Run.Pool)
	}
	if len(c.PutIdleErrors) != 7 {
		t.Errorf("put_idle_errors has keys %v, want all 7 reasons", c.PutIdleErrors)
	}
	if !strings.Contains(r.stdout, "Connections") {
		t.Errorf("the text report still goes to stdout with --json FILE:\n%s", r.stdout)
	}
}

// --pipeline: the target sees every request once, on one connection per
// VU, and the report says pipelining was on.
func TestRunPipeline(t *testing.T) {
	srv := testserver.Start(t)
	r := faya(t.Context(), "run", "-c", "3", "-n", "100", "--pipeline", "8", "--json", "-", srv.URL+"/")
	if r.code != cli.ExitOK {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	rep := readJSON(t, []byte(r.stdout))
	st := srv.Stats()
	// At most one connection per VU; a VU that starts after the others
	// took every request (a loaded machine) dials none.
	if rep.Requests.Total != 100 || rep.Requests.OK != 100 || st.Requests != 100 || st.ConnsNew < 1 || st.ConnsNew > 3 || rep.Run.Pipeline != 8 {
		t.Errorf("requests %d (ok %d), target saw %d on %d connections, run.pipeline %d; want 100, 100 on 1 to 3, 8",
			rep.Requests.Total, rep.Requests.OK, st.Requests, st.ConnsNew, rep.Run.Pipeline)
	}
	if !strings.Contains(r.stderr, "pipelining 8 requests per connection") {
		t.Errorf("the text report does not say pipelining is on:\n%s", r.stderr)
	}
}

func TestRunJSONStdout(t *testing.T) {
	srv := testserver.Start(t)
	r := faya(t.Context(), "run", "-c", "2", "-n", "10", "--json", "-", srv.URL+"/")
	if r.code != cli.ExitOK {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	rep := readJSON(t, []byte(r.stdout))
	if rep.Requests.Total != 10 || rep.Status["200"] != 10 {
		t.Errorf("requests %d status %v", rep.Requests.Total, rep.Status)
	}
	if !strings.Contains(r.stderr, "Connections") {
		t.Errorf("with --json - the text report goes to stderr; stderr:\n%s", r.stderr)
	}
}

// --dns-ttl, --dns-mode and --ip-family reach the run and its JSON
// pool: without keep-alives, 6 connections to localhost look it up 6
// times with --dns-ttl 0 and once by default (a DNS phase each time).
func TestDNSFlags(t *testing.T) {
	srv := testserver.Start(t)
	url := strings.Replace(srv.URL, "127.0.0.1", "localhost", 1) + "/"
	for _, tc := range []struct {
		flags  []string
		phases int64
		pool   string
	}{
		{[]string{"--dns-ttl", "0", "--dns-mode", "round-robin", "--ip-family", "4"}, 6, `"dns_ttl_ns":0,"dns_mode":"round-robin","ip_family":"4"}`},
		{[]string{"--ip-family", "4"}, 1, `"ip_family":"4"}`},
		{[]string{"--dns-ttl", "1h", "--ip-family", "4"}, 1, `"dns_ttl_ns":3600000000000,"ip_family":"4"}`},
	} {
		out := filepath.Join(t.TempDir(), "out.json")
		r := faya(t.Context(), append(append([]string{"run", "-c", "1", "-n", "6", "--disable-keepalives", "--json", out}, tc.flags...), url)...)
		if r.code != cli.ExitOK {
			t.Fatalf("%v: exit %d: %s", tc.flags, r.code, r.stderr)
		}
		data, _ := os.ReadFile(out)
		var rep struct {
			jsonReport
			Phases map[string]struct{ Count int64 } `json:"phases_ns"`
		}
		if err := json.Unmarshal(data, &rep); err != nil {
			t.Fatal(err)
		}
		if rep.Requests.OK != 6 || rep.Connections.Dialed != 6 || rep.Phases["dns"].Count != tc.phases {
			t.Errorf("%v: %d ok over %d connections, %d DNS phases; want 6 over 6, %d", tc.flags, rep.Requests.OK, rep.Connections.Dialed, rep.Phases["dns"].Count, tc.phases)
		}
		var compact bytes.Buffer
		if err := json.Compact(&compact, data); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(compact.String(), `"insecure":false,`+tc.pool) {
			t.Errorf("%v: the JSON pool lacks %s:\n%s", tc.flags, tc.pool, data)
		}
	}
}

func TestPoolFlags(t *testing.T) {
	srv := testserver.Start(t)
	out := filepath.Join(t.TempDir(), "out.json")
	r := faya(t.Context(), "run", "-c", "8", "-n", "100", "--max-conns-per-host", "0", "--max-idle-conns-per-host", "3", "--json", out, srv.URL+"/")
	if r.code != cli.ExitOK {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	data, _ := os.ReadFile(out)
	rep := readJSON(t, data)
	if rep.Run.Pool.MaxConnsPerHost != 0 || rep.Run.Pool.MaxIdleConnsPerHost != 3 {
		t.Errorf("pool %+v, want max_conns_per_host 0 (no limit) and max_idle_conns_per_host 3", rep.Run.Pool)
	}
}

func TestBadInput(t *testing.T) {
	srv := testserver.Start(t)
	url := srv.URL + "/"
	missing := filepath.Join(t.TempDir(), "missing")
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"no URL", []string{"run"}, "exactly one URL"},
		{"two URLs", []string{"run", url, url}, "exactly one URL"},
		{"no scheme", []string{"run", "127.0.0.1:8080/"}, "has no scheme: write it as http://127.0.0.1:8080/"},
		{"bad scheme", []string{"run", "ftp://127.0.0.1/"}, `scheme "ftp" is not supported`},
		{"no host", []string{"run", "http:///x"}, "has no host"},
		{"bad header", []string{"run", "-H", "NoColon", url}, `-H "NoColon": want 'Name: value'`},
		{"bad header name", []string{"run", "-H", "Bad Name: x", url}, "not a valid header name"},
		{"negative c", []string{"run", "-c", "-5", url}, "-c/--concurrency -5: must be at least 1"},
		{"zero c", []string{"run", "-c", "0", url}, "-c/--concurrency 0"},
		{"negative n", []string{"run", "-n", "-1", url}, "-n/--requests -1"},
		{"unknown flag", []string{"run", "--bogus", url}, "unknown flag: --bogus"},
		{"not a number", []string{"run", "-c", "many", url}, `invalid argument "many"`},
		{"bad duration", []string{"run", "-d", "10", url}, "must be a duration like"},
		{"unknown command", []string{"attack", url}, `unknown command "attack"`},
		{"both bodies", []string{"run", "--body", "x", "--body-file", missing, url}, "--body and --body-file both given"},
		{"missing body file", []string{"run", "--body-file", missing, url}, "--body-file: open"},
		{"bad scope", []string{"run", "--conn-scope", "host", url}, `--conn-scope "host": want shared or vu`},
		{"negative limit", []string{"run", "--max-conns-per-host", "-1", url}, "--max-conns-per-host -1: must not be negative"},
		{"zero timeout", []string{"run", "--timeout", "0s", url}, "--timeout 0"},
		{"small header limit", []string{"run", "--max-header-bytes", "100", url}, "--max-header-bytes 100: want at least 4096"},
		{"bad local addr", []string{"run", "--local-addr", "127.0.0.2,lo", url}, `--local-addr "lo": want an IPv4 or IPv6 address`},
		{"wide local prefix", []string{"run", "--local-addr", "127.0.0.0/8", url}, `--local-addr "127.0.0.0/8": more than 1024 addresses`},
		{"resolve no port", []string{"run", "--resolve", "shop.test:127.0.0.1", url}, `--resolve "shop.test:127.0.0.1": want HOST:PORT:ADDR`},
		{"resolve bad addr", []string{"run", "--resolve", "shop.test:80:127.0.0.256", url}, `--resolve "shop.test:80:127.0.0.256": address "127.0.0.256"`},
		{"resolve bad host", []string{"run", "--resolve", "shop/x:80:127.0.0.1", url}, `--resolve "shop/x:80:127.0.0.1": host "shop/x" is no host name`},
		{"foreign local addr", []string{"run", "--local-addr", "192.0.2.7", url}, "--local-addr 192.0.2.7 is not an address of this machine"},
		{"dns ttl no unit", []string{"run", "--dns-ttl", "30", url}, `--dns-ttl "30": want a duration such as 30s (0: look up on every new connection`},
		{"negative dns ttl", []string{"run", "--dns-ttl", "-1s", url}, `--dns-ttl "-1s": must not be negative`},
		{"bad dns mode", []string{"run", "--dns-mode", "rr", url}, `--dns-mode "rr": want first, round-robin or random`},
		{"bad ip family", []string{"run", "--ip-family", "ipv4", url}, `--ip-family "ipv4": want 4, 6 or any`},
		{"family and local addr", []string{"run", "--ip-family", "6", "--local-addr", "127.0.0.2", url},
			"--ip-family 6 and --local-addr 127.0.0.2 contradict: an IPv6-only run cannot bind an IPv4 source address; give --local-addr IPv6 addresses only, or --ip-family 4 (or any)"},
		{"family and resolve", []string{"run", "--ip-family", "4", "--resolve", "shop.test:80:[::1]", url},
			"--ip-family 4 and --resolve shop.test:80:::1 contradict: an IPv4-only run cannot dial an IPv6 address; give --resolve IPv4 addresses only, or --ip-family any"},
		{"bad method", []string{"run", "-m", "GE T", url}, "-m/--method"},
		{"unwritable json", []string{"run", "-n", "1", "--json", filepath.Join(missing, "x.json"), url}, "--json"},
		{"bad rate", []string{"run", "-r", "fast", url}, `-r/--rate: rate "fast"`},
		{"zero rate", []string{"run", "-r", "0", url}, "must be positive"},
		{"rate and c", []string{"run", "-r", "100", "-c", "5", url}, "-c/--concurrency is for the closed model"},
		{"rate and n", []string{"run", "-r", "100", "-n", "5", url}, "-n/--requests with -r/--stages"},
		{"rate and stages", []string{"run", "-r", "100", "--stages", "1s:5", url}, "give one"},
		{"bad stage", []string{"run", "--stages", "10s", url}, `--stages "10s": stage 1 "10s": want DURATION:FROM-TO`},
		{"bad stage duration", []string{"run", "--stages", "ten:5", url}, "not a positive duration"},
		{"stages and d", []string{"run", "--stages", "1s:5", "-d", "3s", url}, "-d/--duration with --stages"},
		{"bad vu stage", []string{"run", "--vu-stages", "1s:x", url}, "not a number of VUs"},
		{"vu stages and c", []string{"run", "--vu-stages", "1s:5", "-c", "3", url}, "--concurrency with --vu-stages"},
		{"max vus closed", []string{"run", "--max-vus", "5", url}, "--max-vus is for the open model"},
		{"pre above max", []string{"run", "-r", "10", "--pre-vus", "20", "--max-vus", "5", url}, "--pre-vus 20: must be from 0 to --max-vus (5)"},
		{"negative grace", []string{"run", "--graceful-stop", "-1s", url}, "--graceful-stop -1s"},
		{"bad engine", []string{"run", "--engine", "curl", url}, `--engine "curl": want h1 or net/http`},
		{"zero pipeline", []string{"run", "--pipeline", "0", url}, "--pipeline 0: want 1 (off) or more"},
		{"pipeline net/http", []string{"run", "--pipeline", "4", "--engine", "net/http", url}, "net/http does not pipeline; use the h1 engine"},
		{"pipeline open", []string{"run", "--pipeline", "4", "-r", "100", url}, "only the closed model"},
		{"pipeline post", []string{"run", "--pipeline", "4", "-m", "POST", "--body", "x", url}, "only GET and HEAD"},
		{"doctor no URL", []string{"doctor"}, "doctor needs exactly one URL"},
		{"doctor bad URL", []string{"doctor", "localhost:80"}, "has no scheme"},
		{"doctor bad concurrency", []string{"doctor", "--max-concurrency", "0", url}, "--max-concurrency 0"},
		{"doctor bad repeats", []string{"doctor", "--repeats", "0", url}, "--repeats 0: must be from 1 to 20"},
		{"doctor bad h2 streams", []string{"doctor", "--h2-streams", "0", url}, "--h2-streams 0: must be from 1 to 1000000"},
		{"doctor bad h2 time", []string{"doctor", "--h2-time", "0s", url}, "--h2-time 0s: must be positive"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := faya(t.Context(), tc.args...)
			if r.code != cli.ExitUsage {
				t.Errorf("exit %d, want %d; stderr: %s", r.code, cli.ExitUsage, r.stderr)
			}
			if !strings.Contains(r.stderr, tc.want) {
				t.Errorf("stderr %q does not contain %q", r.stderr, tc.want)
			}
		})
	}
	if st := srv.Stats(); st.ConnsNew != 0 || st.Requests != 0 {
		t.Errorf("bad input sent traffic: %d connections, %d requests", st.ConnsNew, st.Requests)
	}
}

func TestInterruptPartialReport(t *testing.T) {
	srv := testserver.Start(t)
	out := filepath.Join(t.TempDir(), "out.json")
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	go func() {
		for srv.Stats().Requests < 20 {
			time.Sleep(5 * time.Millisecond)
		}
		cancel()
	}()
	r := faya(ctx, "run", "-c", "4", "-d", "1m", "--json", out, srv.URL+"/slow?ms=20")
	if r.code != cli.ExitInterrupted {
		t.Fatalf("exit %d, want %d; stderr: %s", r.code, cli.ExitInterrupted, r.stderr)
	}
	if !strings.Contains(r.stdout, "PARTIAL") {
		t.Errorf("the report is not marked partial:\n%s", r.stdout)
	}
	data, _ := os.ReadFile(out)
	rep := readJSON(t, data)
	if !rep.Partial || rep.Requests.Total < 20 || rep.Requests.Total != srv.Stats().Requests || rep.Requests.Errors != 0 {
		t.Errorf("partial %v, total %d, errors %d, server saw %d: want every request that started finished and counted",
			rep.Partial, rep.Requests.Total, rep.Requests.Errors, srv.Stats().Requests)
	}
}

func TestTargetBadAddr(t *testing.T) {
	r := faya(t.Context(), "target", "--addr", "127.0.0.1:99999")
	if r.code != cli.ExitUsage || !strings.Contains(r.stderr, "--addr") {
		t.Errorf("exit %d stderr %q", r.code, r.stderr)
	}
}

func TestBodyFileAndHeaders(t *testing.T) {
	var mu sync.Mutex
	var seen []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		seen = append(seen, r.Method+" "+r.Host+" "+r.UserAgent()+" "+string(b))
		mu.Unlock()
	}))
	defer srv.Close()
	body := filepath.Join(t.TempDir(), "body.json")
	if err := os.WriteFile(body, []byte(`{"k":"v"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	r := faya(t.Context(), "run", "-c", "1", "-n", "3", "-m", "POST", "--body-file", body, "-H", "Host: example.test", "--json", "-", srv.URL+"/")
	if r.code != cli.ExitOK {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	want := "POST example.test faya/" + cli.Version + ` {"k":"v"}`
	if len(seen) != 3 || seen[0] != want || seen[2] != want {
		t.Errorf("server saw %q, want 3 times %q", seen, want)
	}
}

type scheduleJSON struct {
	Run struct {
		Open   bool `json:"open_model"`
		MaxVUs int  `json:"max_vus"`
		Pool   struct {
			MaxConnsPerHost int `json:"max_conns_per_host"`
		} `json:"pool"`
	} `json:"run"`
	Schedule struct {
		Intended, Sent, Dropped, Late int64
		TargetRPS                     float64 `json:"target_rps"`
		VUsBusyMax                    int64   `json:"vus_busy_max"`
	} `json:"schedule"`
	Service  struct{ Count int64 } `json:"service_time_ns"`
	Lag      struct{ Count int64 } `json:"schedule_lag_ns"`
	Timeline []struct {
		Intended int64 `json:"intended"`
	} `json:"timeline"`
}

func TestRateJSON(t *testing.T) {
	srv := testserver.Start(t)
	r := faya(t.Context(), "run", "-r", "200", "-d", "1s", "--max-vus", "30", "--json", "-", srv.URL+"/")
	if r.code != cli.ExitOK {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	var rep scheduleJSON
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
		t.Fatal(err)
	}
	s := rep.Schedule
	if !rep.Run.Open || rep.Run.MaxVUs != 30 || rep.Run.Pool.MaxConnsPerHost != 30 {
		t.Errorf("run %+v: want the open model, max-vus 30 and the pool limit following it", rep.Run)
	}
	if s.Intended != 200 || s.Sent+s.Dropped != 200 || srv.Stats().Requests != s.Sent {
		t.Errorf("schedule %+v, server saw %d", s, srv.Stats().Requests)
	}
	if rep.Lag.Count != s.Sent || rep.Service.Count != s.Sent {
		t.Errorf("lag count %d, service time count %d, want %d each", rep.Lag.Count, rep.Service.Count, s.Sent)
	}
	var fromTimeline int64
	for _, p := range rep.Timeline {
		fromTimeline += p.Intended
	}
	if fromTimeline != 200 {
		t.Errorf("the timeline adds up to %d intended, want 200", fromTimeline)
	}
	if !strings.Contains(r.stderr, "Schedule") || !strings.Contains(r.stderr, "from the intended start") {
		t.Errorf("text report lacks the schedule:\n%s", r.stderr)
	}
}

func TestStagesAndVUStages(t *testing.T) {
	srv := testserver.Start(t)
	r := faya(t.Context(), "run", "--stages", "1s:0-200", "--json", "-", srv.URL+"/")
	if r.code != cli.ExitOK {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	var rep scheduleJSON
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
		t.Fatal(err)
	}
	if rep.Schedule.Intended != 100 || rep.Schedule.Sent+rep.Schedule.Dropped != 100 {
		t.Errorf("ramp 0-200/s over 1s: schedule %+v, want 100 intended", rep.Schedule)
	}

	srv.Target.Reset()
	r = faya(t.Context(), "run", "--vu-stages", "500ms:0-4,500ms:4", "--json", "-", srv.URL+"/slow?ms=20")
	if r.code != cli.ExitOK {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
		t.Fatal(err)
	}
	if rep.Run.Open || rep.Schedule.VUsBusyMax != 4 || rep.Schedule.Sent != srv.Stats().Requests || rep.Schedule.Sent < 4 { // at least one request per VU: how many more depends on the machine
		t.Errorf("ramping VUs: %+v, server saw %d requests", rep, srv.Stats().Requests)
	}
}

func TestDoctor(t *testing.T) {
	srv := testserver.Start(t)
	r := faya(t.Context(), "doctor", "--max-concurrency", "2", "--idle-wait", "300ms", "--step-time", "100ms", srv.URL+"/")
	if r.code != cli.ExitOK {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	for _, want := range []string{"up to 12 short runs", "each step run 3 times", "4. busy then quiet", "Busy then quiet", "share this machine's", "Keep-alive", "yes (HTTP/1.1)", "Idle timeout", "Saturation",
		"HTTP/2\n  the server does not speak HTTP/2 here: h2c by prior knowledge: the server answered in HTTP/1.x", "Recommended pool", "--max-conns-per-host", "&http.Transport{"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("doctor output lacks %q:\n%s", want, r.stdout)
		}
	}
	if strings.Contains(r.stdout, "ForceAttemptHTTP2") {
		t.Errorf("doctor offers HTTP/2 for an HTTP/1.1 server:\n%s", r.stdout)
	}

	// --json: the JSON alone on stdout, the plan on stderr.
	r = faya(t.Context(), "doctor", "--json", "--max-concurrency", "2", "--repeats", "1", "--idle-wait", "100ms", "--step-time", "100ms", srv.URL+"/")
	var out struct {
		KeepAlive struct {
			KeepAlive bool `json:"keep_alive"`
		} `json:"keep_alive"`
		Saturation struct {
			Steps []struct {
				Concurrency int   `json:"concurrency"`
				Requests    int64 `json:"requests"`
			} `json:"steps"`
		} `json:"saturation"`
		Pool struct {
			MaxConnsPerHost int    `json:"max_conns_per_host"`
			Go              string `json:"go"`
		} `json:"pool"`
		H2 struct {
			Speaks   bool   `json:"speaks_h2"`
			Measured bool   `json:"measured"`
			Why      string `json:"why"`
		} `json:"h2"`
	}
	if r.code != cli.ExitOK || json.Unmarshal([]byte(r.stdout), &out) != nil {
		t.Fatalf("exit %d, stdout not JSON:\n%s\nstderr: %s", r.code, r.stdout, r.stderr)
	}
	if !strings.Contains(r.stderr, "up to 6 short runs") || !out.KeepAlive.KeepAlive || len(out.Saturation.Steps) == 0 || out.Saturation.Steps[0].Requests == 0 ||
		out.Pool.MaxConnsPerHost < 2 || !strings.Contains(out.Pool.Go, "MaxConnsPerHost") || out.H2.Speaks || out.H2.Measured || !strings.Contains(out.H2.Why, "HTTP/1.x") {
		t.Errorf("doctor --json: %+v\nstderr: %s", out, r.stderr)
	}
}

func TestFindingsInJSON(t *testing.T) {
	srv := testserver.Start(t)
	r := faya(t.Context(), "run", "-c", "4", "-n", "100", "--json", "-", srv.URL+"/close")
	if r.code != cli.ExitOK {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	var rep struct {
		Findings []struct{ ID, Severity, Evidence, Fix string } `json:"findings"`
		Sockets  struct {
			Watched       bool
			PortLo        int `json:"port_range_lo"`
			TimeWaitAfter int `json:"time_wait_after"`
		} `json:"sockets"`
		Timeline []struct {
			TimeWait  int64 `json:"time_wait"`
			ConnsOpen int64 `json:"conns_open"`
		} `json:"timeline"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
		t.Fatal(err)
	}
	if len(rep.Findings) == 0 || rep.Findings[0].ID != "server-closes" || rep.Findings[0].Severity != "warning" || rep.Findings[0].Fix == "" {
		t.Errorf("findings %+v, want server-closes first", rep.Findings)
	}
	if _, err := os.Stat("/proc/net/tcp"); err == nil {
		if !rep.Sockets.Watched || rep.Sockets.PortLo == 0 || len(rep.Timeline) == 0 || rep.Timeline[0].TimeWait < 0 {
			t.Errorf("sockets %+v timeline %+v: want the TIME_WAIT readings on Linux", rep.Sockets, rep.Timeline)
		}
	}
	if !strings.Contains(r.stderr, "Findings") || !strings.Contains(r.stderr, "[warning] The server does not keep connections alive") {
		t.Errorf("text findings missing:\n%s", r.stderr)
	}
}

func TestPreflightPortWarning(t *testing.T) {
	if _, err := os.Stat("/proc/sys/net/ipv4/ip_local_port_range"); err != nil {
		t.Skip("no port range to read")
	}
	srv := testserver.Start(t)
	// 1000 new connections a second hold 60,000 ports in TIME_WAIT at
	// once, more than Linux's default range.
	r := faya(t.Context(), "run", "-r", "1000", "-d", "50ms", "--disable-keepalives", srv.URL+"/")
	if r.code != cli.ExitOK {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	if !strings.Contains(r.stderr, "faya: warning: at 1000 new connections a second") || !strings.Contains(r.stderr, "ephemeral ports") {
		t.Errorf("no preflight warning:\n%s", r.stderr)
	}
}

// A subprocess whose open-file limit is below the concurrency is warned
// before the run, and its failed connects are counted as local errors.
func TestLowFileLimit(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	if _, err := os.Stat("/proc/self"); err != nil {
		t.Skip("needs Linux")
	}
	prlimit, err := exec.LookPath("prlimit")
	if err != nil {
		t.Skip("no prlimit")
	}
	bin := filepath.Join(t.TempDir(), "faya")
	if out, err := exec.Command("go", "build", "-o", bin, "../../cmd/faya").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	srv := testserver.Start(t)
	cmd := exec.Command(prlimit, "--nofile=60:60", bin, "run", "-c", "100", "-n", "300", "--json", "-", srv.URL+"/slow?ms=50")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("%v: %s", err, stderr.String())
	}
	if !strings.Contains(stderr.String(), "the open-file limit is 60 (hard limit 60), below the 100 connections") {
		t.Errorf("no warning:\n%s", stderr.String())
	}
	var rep struct {
		Errors map[string]struct{ Count int64 } `json:"errors"`
	}
	if err := json.Unmarshal(stdout.Bytes(), &rep); err != nil {
		t.Fatal(err)
	}
	if rep.Errors["local"].Count == 0 {
		t.Errorf("errors %+v: want EMFILE counted as local", rep.Errors)
	}
}

// --max-header-bytes bounds the headers on both engines: past it, the
// request is a protocol error.
func TestMaxHeaderBytesFlag(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Big", strings.Repeat("a", 10<<10))
	}))
	t.Cleanup(srv.Close)
	for _, eng := range []string{"h1", "net/http"} {
		for _, tc := range []struct {
			limit          string
			ok, protocolEr int64
		}{{"4096", 0, 2}, {"65536", 2, 0}} {
			out := filepath.Join(t.TempDir(), "out.json")
			r := faya(t.Context(), "run", "--engine", eng, "-c", "1", "-n", "2", "--max-header-bytes", tc.limit, "--json", out, srv.URL+"/")
			data, _ := os.ReadFile(out)
			rep := readJSON(t, data)
			if rep.Requests.OK != tc.ok || rep.Errors["protocol"].Count != tc.protocolEr {
				t.Errorf("%s, --max-header-bytes %s: ok %d, errors %+v (exit %d); want %d ok, %d protocol errors",
					eng, tc.limit, rep.Requests.OK, rep.Errors, r.code, tc.ok, tc.protocolEr)
			}
		}
	}
}

// With --local-addr the pre-run port warning counts every address's
// range: 1000 new connections a second need 60,000 ports, more than 2
// addresses' default ranges hold (2 x 28,232) and less than 4's.
func TestPreflightPortWarningPerSource(t *testing.T) {
	if _, err := os.Stat("/proc/sys/net/ipv4/ip_local_port_range"); err != nil {
		t.Skip("no port range to read")
	}
	lo, hi, err := sockstat.PortRange()
	if err != nil {
		t.Skip(err)
	}
	ports := hi - lo + 1
	srv := testserver.Start(t)
	for _, tc := range []struct {
		addrs string
		n     int
	}{{"127.0.0.2,127.0.0.3", 2}, {"127.0.0.2,127.0.0.3,127.0.0.4,127.0.0.5", 4}} {
		r := faya(t.Context(), "run", "-r", "1000", "-d", "50ms", "--disable-keepalives", "--local-addr", tc.addrs, srv.URL+"/")
		if r.code != cli.ExitOK {
			t.Fatalf("exit %d: %s", r.code, r.stderr)
		}
		warned := strings.Contains(r.stderr, "faya: warning: at 1000 new connections a second")
		if want := 60000 >= tc.n*ports; warned != want {
			t.Errorf("%d source addresses of %d ports each: warned %v, want %v:\n%s", tc.n, ports, warned, want, r.stderr)
		}
		if warned && !strings.Contains(r.stderr, fmt.Sprintf("the %d source addresses of --local-addr have %d (%d ports each", tc.n, tc.n*ports, ports)) {
			t.Errorf("the warning does not count the %d addresses' ports:\n%s", tc.n, r.stderr)
		}
	}
}

// --local-addr at -c 10: the report's source table in JSON and text gives
// the connections from each address, taken in turn (5 and 5 when each VU
// dialed one: the engine's TestLocalAddrs holds that), adding up to those
// dialed, with their TIME_WAIT readings.
func TestLocalAddrReport(t *testing.T) {
	srv := testserver.Start(t)
	r := faya(t.Context(), "run", "-c", "10", "-n", "200", "--local-addr", "127.0.0.2,127.0.0.3", "--json", "-", srv.URL+"/")
	if r.code != cli.ExitOK {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	var rep struct {
		Sockets     struct{ Watched bool } `json:"sockets"`
		Connections struct {
			Dialed int64 `json:"dialed"`
		} `json:"connections"`
		Addresses struct {
			Sources []struct {
				Addr     string `json:"addr"`
				Dialed   int64  `json:"dialed"`
				TimeWait *int   `json:"time_wait"`
			} `json:"sources"`
			Destinations []json.RawMessage `json:"destinations"`
		} `json:"addresses"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
		t.Fatal(err)
	}
	src := rep.Addresses.Sources
	if len(src) != 2 || src[0].Addr != "127.0.0.2" || src[1].Addr != "127.0.0.3" || src[0].Dialed-src[1].Dialed < 0 || src[0].Dialed-src[1].Dialed > 1 ||
		src[0].Dialed+src[1].Dialed != rep.Connections.Dialed || rep.Connections.Dialed == 0 {
		t.Errorf("sources %+v; want the %d connections dialed taken in turn from 127.0.0.2 and 127.0.0.3", src, rep.Connections.Dialed)
	}
	for _, s := range src {
		if (s.TimeWait != nil) != rep.Sockets.Watched {
			t.Errorf("%s: TIME_WAIT %v with the sockets watched %v; want a reading exactly when watched", s.Addr, s.TimeWait, rep.Sockets.Watched)
		}
	}
	if len(rep.Addresses.Destinations) != 0 {
		t.Errorf("%d destinations; want none for a run to one address", len(rep.Addresses.Destinations))
	}
	if !strings.Contains(r.stderr, "Source addresses (--local-addr)") || !regexp.MustCompile(fmt.Sprintf(`\n\s+127\.0\.0\.3\s+%d\s`, src[1].Dialed)).MatchString(r.stderr) {
		t.Errorf("text report lacks the source table:\n%s", r.stderr)
	}
}

// The TIME_WAIT watch takes --resolve's addresses for the names it gives,
// without a lookup: shop.test resolves nowhere, and its sockets are
// watched all the same.
func TestResolveWatchesSockets(t *testing.T) {
	if _, err := os.Stat("/proc/net/tcp"); err != nil {
		t.Skip("no socket tables to read")
	}
	srv := testserver.Start(t)
	_, port, _ := strings.Cut(strings.TrimPrefix(srv.URL, "http://"), ":")
	r := faya(t.Context(), "run", "-c", "2", "-n", "20", "--resolve", "shop.test:"+port+":127.0.0.1", "--json", "-", "http://shop.test:"+port+"/")
	if r.code != cli.ExitOK {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	var rep struct {
		Requests struct{ OK int64 }     `json:"requests"`
		Sockets  struct{ Watched bool } `json:"sockets"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
		t.Fatal(err)
	}
	if rep.Requests.OK != 20 || !rep.Sockets.Watched {
		t.Errorf("%d requests answered, sockets watched %v; want 20, and watched", rep.Requests.OK, rep.Sockets.Watched)
	}
}
