package cli_test

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/faya-load/faya/internal/cli"
	"github.com/faya-load/faya/internal/testserver"
)

// Inputs a newcomer gets wrong are refused before any traffic, with exit
// code 2 and a message naming the input and the fix.
func TestRefusedBeforeTraffic(t *testing.T) {
	srv := testserver.Start(t)
	url := srv.URL + "/"
	dir := t.TempDir()
	same := filepath.Join(dir, "r.out")
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"zero n", []string{"run", "-n", "0", url}, "-n/--requests 0: give a positive number of requests"},
		{"zero d", []string{"run", "-d", "0", url}, "-d/--duration 0s: give a positive duration"},
		{"zero d rate", []string{"run", "-r", "10", "-d", "0s", url}, "-d/--duration 0s: give a positive duration"},
		{"json and html", []string{"run", "-n", "1", "--json", same, "--html", same, url}, "--json and --html both name " + same},
		{"json and out", []string{"run", "-n", "1", "--json", same, "--out", filepath.Join(dir, ".", "r.out"), url}, "--json and --out both name " + same},
		{"html and cpuprofile", []string{"run", "-n", "1", "--html", same, "--cpuprofile", same, url}, "--html and --cpuprofile both name"},
		{"checks without checks", []string{"run", "-n", "1", "--threshold", "checks > 99%", url}, `--threshold "checks > 99%": this run has no checks`},
		{"space in URL", []string{"run", "-n", "1", srv.URL + "/a b"}, `has a space: write it as %20`},
		{"template in URL", []string{"run", "-n", "1", srv.URL + "/items/{{ randInt 1 20 }}"}, "add --template to render it"},
		{"template in header", []string{"run", "-n", "1", "-H", "X-Id: {{ uuid }}", url}, "add --template to render it"},
		{"http 3", []string{"run", "-n", "1", "--http", "3", url}, `--http "3": want auto, 1.1 or 2`},
		{"http 2 default engine through a proxy", []string{"run", "-n", "1", "--http", "2", "--proxy", "http://127.0.0.1:1", url}, "so HTTP/2 without TLS (h2c) cannot go through it: use an https:// URL"},
		{"h2 max streams 0", []string{"run", "-n", "1", "--engine", "net/http", "--h2-max-streams", "0", url}, "--h2-max-streams 0: want at least 1"},
		{"h2 ping timeout negative", []string{"run", "-n", "1", "--engine", "net/http", "--h2-ping-timeout", "-1s", url}, "--h2-ping-timeout -1s: must not be negative"},
		{"h2 knob with 1.1", []string{"run", "-n", "1", "--engine", "net/http", "--http", "1.1", "--h2-ping-timeout", "5s", url}, "do nothing with --http 1.1"},
		{"strict streams net/http proxy", []string{"run", "-n", "1", "--engine", "net/http", "--h2-strict-streams", "--proxy", "http://127.0.0.1:1", url}, "with --engine net/http apply to direct connections only"},
		{"max streams net/http proxy", []string{"run", "-n", "1", "--engine", "net/http", "--h2-max-streams", "4", "--proxy", "http://127.0.0.1:1", url}, "with --engine net/http apply to direct connections only"},
		{"http 2 pipeline", []string{"run", "-n", "1", "--engine", "net/http", "--http", "2", "--pipeline", "4", url}, "HTTP/2 does not pipeline"},
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
	if _, err := os.Stat(same); err == nil {
		t.Errorf("a refused run created %s", same)
	}
}

// -c above -n runs -n VUs, each sending one request, and says so.
func TestConcurrencyCappedAtRequests(t *testing.T) {
	srv := testserver.Start(t)
	r := faya(t.Context(), "run", "-c", "20000", "-n", "5", "--json", "-", srv.URL+"/")
	if r.code != cli.ExitOK {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	var rep struct {
		Run struct {
			VUs int `json:"vus"`
		} `json:"run"`
		Requests struct{ Total int64 } `json:"requests"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
		t.Fatal(err)
	}
	if rep.Run.VUs != 5 || rep.Requests.Total != 5 || srv.Stats().Requests != 5 || srv.Stats().ConnsNew > 5 {
		t.Errorf("run.vus %d, requests %d, server saw %d on %d connections; want 5 VUs, 5 requests, at most 5 connections",
			rep.Run.VUs, rep.Requests.Total, srv.Stats().Requests, srv.Stats().ConnsNew)
	}
	if !strings.Contains(r.stderr, "faya: -c 20000 is more than -n 5: running 5 VUs, one request each") {
		t.Errorf("stderr does not say the VUs were capped:\n%s", r.stderr)
	}
}

// recorder is a server that keeps each request's method and
// Authorization header.
type recorder struct {
	mu      sync.Mutex
	methods []string
	auth    []string
}

func (rc *recorder) start(t *testing.T) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rc.mu.Lock()
		rc.methods = append(rc.methods, r.Method)
		rc.auth = append(rc.auth, r.Header.Get("Authorization"))
		rc.mu.Unlock()
	}))
	t.Cleanup(srv.Close)
	return srv
}

// -m get sends GET, and says so once; a method that is not a standard one
// is sent as written.
func TestMethodCase(t *testing.T) {
	for _, tc := range []struct{ flag, sent, note string }{
		{"get", "GET", "faya: -m get: sending GET (HTTP methods are case-sensitive; the standard ones are upper case)\n"},
		{"Post", "POST", "faya: -m Post: sending POST"},
		{"purge", "purge", ""},
		{"PURGE", "PURGE", ""},
	} {
		t.Run(tc.flag, func(t *testing.T) {
			rc := &recorder{}
			srv := rc.start(t)
			r := faya(t.Context(), "run", "-c", "1", "-n", "3", "-m", tc.flag, "-q", srv.URL+"/")
			if r.code != cli.ExitOK {
				t.Fatalf("exit %d: %s", r.code, r.stderr)
			}
			if len(rc.methods) != 3 || rc.methods[0] != tc.sent || rc.methods[2] != tc.sent {
				t.Errorf("server saw %q, want %s 3 times", rc.methods, tc.sent)
			}
			switch {
			case tc.note == "" && strings.Contains(r.stderr, "sending"):
				t.Errorf("a note for a method sent as written:\n%s", r.stderr)
			case tc.note != "" && strings.Count(r.stderr, tc.note) != 1:
				t.Errorf("stderr does not say %q once:\n%s", tc.note, r.stderr)
			}
		})
	}
}

// A URL's user info is sent as Basic authorization, as curl and Go's
// http.Client send it, on both engines, and stays out of the reports.
func TestURLUserInfo(t *testing.T) {
	for _, engine := range []string{"h1", "net/http"} {
		t.Run(strings.ReplaceAll(engine, "/", ""), func(t *testing.T) {
			rc := &recorder{}
			srv := rc.start(t)
			u := strings.Replace(srv.URL, "http://", "http://alice:s%40cret@", 1) + "/"
			r := faya(t.Context(), "run", "--engine", engine, "-c", "1", "-n", "2", "--json", "-", u)
			if r.code != cli.ExitOK {
				t.Fatalf("exit %d: %s", r.code, r.stderr)
			}
			want := "Basic " + base64.StdEncoding.EncodeToString([]byte("alice:s@cret"))
			if len(rc.auth) != 2 || rc.auth[0] != want || rc.auth[1] != want {
				t.Errorf("server saw Authorization %q, want %q twice", rc.auth, want)
			}
			for _, out := range []string{r.stdout, r.stderr} {
				if strings.Contains(out, "s%40cret") || strings.Contains(out, "s@cret") {
					t.Errorf("the password is in the output:\n%s", out)
				}
			}
			if !strings.Contains(r.stdout, "alice:xxxxx@") {
				t.Errorf("the report does not show the redacted URL:\n%s", r.stdout)
			}

			// An Authorization header given wins, as in Go's client.
			rc.auth = nil
			r = faya(t.Context(), "run", "--engine", engine, "-c", "1", "-n", "1", "-q", "-H", "Authorization: Bearer t", u)
			if r.code != cli.ExitOK || len(rc.auth) != 1 || rc.auth[0] != "Bearer t" {
				t.Errorf("exit %d, server saw %q, want the -H header", r.code, rc.auth)
			}
		})
	}
}

// The open model's default --max-vus lets a first run against a slow
// endpoint keep its schedule: 100/s against 300 ms answers needs 30 VUs,
// and the default (the rate x the 30 s timeout) is 3000; the start says
// so with a memory estimate.
func TestDefaultMaxVUsSlowTarget(t *testing.T) {
	srv := testserver.Start(t)
	r := faya(t.Context(), "run", "-r", "100", "-d", "1s", "--json", "-", srv.URL+"/slow?ms=300")
	if r.code != cli.ExitOK {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	var rep scheduleJSON
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
		t.Fatal(err)
	}
	if rep.Run.MaxVUs != 3000 || rep.Schedule.Intended != 100 || rep.Schedule.Dropped != 0 || rep.Schedule.Sent != 100 || srv.Stats().Requests != 100 {
		t.Errorf("max_vus %d, schedule %+v, server saw %d; want 3000 VUs and all 100 sent, none dropped",
			rep.Run.MaxVUs, rep.Schedule, srv.Stats().Requests)
	}
	if !strings.Contains(r.stderr, "faya: --max-vus 3000 (the default: the peak rate 100/s x the 30s timeout); 3000 busy VUs with their connections take about 59 MiB") {
		t.Errorf("stderr does not state the default and its memory:\n%s", r.stderr)
	}
}

// In a scenario file the default max_vus follows the file's timeout, or
// --timeout, and is lowered to fit a per-vu data source.
func TestDefaultMaxVUsFile(t *testing.T) {
	srv := testserver.Start(t)
	dir := t.TempDir()
	var rows strings.Builder
	rows.WriteString("user\n")
	for i := range 30 {
		rows.WriteString("u" + strconv.Itoa(i) + "\n")
	}
	if err := os.WriteFile(filepath.Join(dir, "users.csv"), []byte(rows.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(dir, "f.yaml")
	src := "version: 1\nbase_url: " + srv.URL + "\ndefaults:\n  timeout: 5s\ndata:\n  users: {file: users.csv, mode: per-vu}\nscenarios:\n" +
		"  a:\n    executor: vus\n    vus: 10\n    iterations: 10\n    steps:\n      - url: /?u={{ .data.users.user }}\n" +
		"  b:\n    executor: rate\n    rate: 100\n    duration: 200ms\n    steps:\n      - url: /\n"
	if err := os.WriteFile(file, []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		args []string
		max  int
		note string
	}{
		{nil, 20, "faya: scenario b: max_vus 20 (the default: the peak rate 100/s x the 5s timeout, bounded by the 30 rows of per-vu data source users); 20 busy VUs"},
		{[]string{"--timeout", "150ms"}, 15, "faya: scenario b: max_vus 15 (the default: the peak rate 100/s x the 150ms timeout); 15 busy VUs"},
	} {
		r := faya(t.Context(), append([]string{"run", "-f", file, "--json", "-"}, tc.args...)...)
		if r.code != cli.ExitOK {
			t.Fatalf("%v: exit %d: %s", tc.args, r.code, r.stderr)
		}
		var rep struct {
			Run struct {
				Scenarios []struct {
					Name   string
					MaxVUs int `json:"max_vus"`
				} `json:"scenarios"`
			} `json:"run"`
		}
		if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
			t.Fatal(err)
		}
		if len(rep.Run.Scenarios) != 2 || rep.Run.Scenarios[1].MaxVUs != tc.max {
			t.Errorf("%v: scenarios %+v, want b with max_vus %d", tc.args, rep.Run.Scenarios, tc.max)
		}
		if !strings.Contains(r.stderr, tc.note) {
			t.Errorf("%v: stderr lacks %q:\n%s", tc.args, tc.note, r.stderr)
		}
	}
}

// faya report refuses an output naming the saved run it reads (or another
// output), so the run is not overwritten.
func TestReportSameFile(t *testing.T) {
	srv := testserver.Start(t)
	saved := filepath.Join(t.TempDir(), "run.faya")
	if r := faya(t.Context(), "run", "-c", "2", "-n", "20", "-q", "--out", saved, srv.URL+"/"); r.code != cli.ExitOK {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	for _, args := range [][]string{
		{"report", saved, "--json", saved},
		{"report", saved, "--html", filepath.Join(filepath.Dir(saved), ".", "run.faya")},
		{"report", saved, "--json", saved + ".x", "--html", saved + ".x"},
	} {
		r := faya(t.Context(), args...)
		if r.code != cli.ExitUsage || !strings.Contains(r.stderr, "both name") {
			t.Errorf("%v: exit %d, stderr %q; want %d, both name", args, r.code, r.stderr, cli.ExitUsage)
		}
	}
	if r := faya(t.Context(), "report", saved); r.code != cli.ExitOK || !strings.Contains(r.stdout, "Summary") {
		t.Errorf("the saved run no longer reads back: exit %d, %s", r.code, r.stderr)
	}
}
