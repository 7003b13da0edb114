package cli_test

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/faya-load/faya/internal/cli"
	"github.com/faya-load/faya/internal/testserver"
)

// writeShop writes a scenario file for the target at base, with n users,
// and returns its path.
func writeShop(t *testing.T, base string, users int, extra string) string {
	t.Helper()
	dir := t.TempDir()
	var csv strings.Builder
	csv.WriteString("user,password\n")
	for i := range users {
		fmt.Fprintf(&csv, "user%03d,pw%d\n", i, i)
	}
	if err := os.WriteFile(filepath.Join(dir, "users.csv"), []byte(csv.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	src := fmt.Sprintf(`version: 1
base_url: %s
data:
  users: { file: users.csv, mode: per-vu }
scenarios:
  browse:
    executor: vus
    vus: %d
    iterations: 200
    setup:
      - name: login
        method: POST
        url: /login
        form: { user: "{{ .data.users.user }}", password: "{{ .data.users.password }}" }
        check: { status: 200 }
    steps:
      - name: list
        url: /items
        extract:
          first: { json: "$.items[0].id" }
      - name: item
        url: /items/{{ .vars.first }}
        check:
          json: { name: "item {{ .vars.first }}" }
      - name: me
        url: /me
        check:
          json: { user: "{{ .data.users.user }}" }
%s`, base, users, extra)
	path := filepath.Join(dir, "shop.yaml")
	if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

type fileReport struct {
	Requests struct {
		Total, OK, Errors, Setup int64
	} `json:"requests"`
	Checks struct{ Passed, Failed int64 } `json:"checks"`
	Steps  []struct {
		Scenario, Name string
		Setup          bool
		Requests       int64
		ChecksFailed   int64 `json:"checks_failed"`
	} `json:"steps"`
	Thresholds []struct {
		Threshold string
		Step      string
		Pass      bool
	} `json:"thresholds"`
	Run struct {
		File      string `json:"scenario_file"`
		Scenarios []struct {
			Name       string
			VUs        int
			Iterations int64
			Steps      int
		} `json:"scenarios"`
	} `json:"run"`
}

func readReport(t *testing.T, path string) fileReport {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var r fileReport
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatalf("%v\n%s", err, b)
	}
	return r
}

// faya run -f: 20 VUs log in as 20 users once, then browse with their
// sessions; the text and JSON reports have the steps and the thresholds.
func TestRunFile(t *testing.T) {
	srv := testserver.Start(t)
	file := writeShop(t, srv.URL, 20, `thresholds:
  run: ["error_rate < 1%", "checks > 99%"]
  steps:
    item: ["p99(latency) < 10s"]
`)
	out := filepath.Join(t.TempDir(), "r.json")
	r := faya(t.Context(), "run", "-f", file, "--json", out)
	if r.code != cli.ExitOK {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
	}
	st := srv.Stats()
	if st.Logins != 20 || st.Unauthorized != 0 || len(st.Sessions) != 20 {
		t.Fatalf("target: %d logins, %d refused, %d sessions; want 20, 0, 20", st.Logins, st.Unauthorized, len(st.Sessions))
	}
	if st.Requests != 20+3*200 {
		t.Errorf("target saw %d requests, want 620", st.Requests)
	}
	rep := readReport(t, out)
	if rep.Requests.Total != 600 || rep.Requests.OK != 600 || rep.Requests.Setup != 20 || rep.Checks.Failed != 0 || rep.Checks.Passed != 3*200+20 { // the logins' checks count too
		t.Errorf("report: %+v, checks %+v", rep.Requests, rep.Checks)
	}
	steps := map[string]int64{}
	for _, s := range rep.Steps {
		steps[s.Name] = s.Requests
	}
	if steps["login"] != 20 || steps["list"] != 200 || steps["item"] != 200 || steps["me"] != 200 {
		t.Errorf("steps %v", steps)
	}
	if len(rep.Thresholds) != 3 || !rep.Thresholds[0].Pass || !rep.Thresholds[2].Pass || rep.Thresholds[2].Step != "item" {
		t.Errorf("thresholds %+v", rep.Thresholds)
	}
	if rep.Run.File != file || len(rep.Run.Scenarios) != 1 || rep.Run.Scenarios[0].VUs != 20 || rep.Run.Scenarios[0].Steps != 3 {
		t.Errorf("run %+v", rep.Run)
	}
	for _, want := range []string{"scenario file " + file, "browse: closed model, 20 VUs, 200 iterations, 1 step of setup per VU; 3 steps", "Steps", "login", "Thresholds", "PASS  checks > 99%"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("text report lacks %q:\n%s", want, r.stdout)
		}
	}
}

// Flags override the file: -c and -n change the executor, -H adds a
// header, and a failing --threshold exits 99 after a complete report.
func TestRunFileOverridesAndThresholds(t *testing.T) {
	srv := testserver.Start(t)
	file := writeShop(t, srv.URL, 20, "")
	out := filepath.Join(t.TempDir(), "r.json")
	r := faya(t.Context(), "run", "-f", file, "-c", "2", "-n", "7", "-H", "X-Test: 1", "--threshold", "p99(latency) < 1ns", "--json", out)
	if r.code != cli.ExitThresholds {
		t.Fatalf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", r.code, cli.ExitThresholds, r.stdout, r.stderr)
	}
	if st := srv.Stats(); st.Logins != 2 || st.Requests != 2+3*7 {
		t.Errorf("target: %d logins, %d requests; want 2 and 23", st.Logins, st.Requests)
	}
	rep := readReport(t, out)
	if rep.Requests.Total != 21 || len(rep.Thresholds) != 1 || rep.Thresholds[0].Pass {
		t.Errorf("report: requests %d, thresholds %+v", rep.Requests.Total, rep.Thresholds)
	}
	if !regexp.MustCompile(`FAIL\s+p99\(latency\) < 1ns`).MatchString(r.stdout) {
		t.Errorf("text report does not show the failed threshold:\n%s", r.stdout)
	}
	// Thresholds on a single URL run too.
	r = faya(t.Context(), "run", "-c", "1", "-n", "5", "--threshold", "requests >= 5", srv.URL+"/")
	if r.code != cli.ExitOK {
		t.Errorf("a passing threshold: exit %d\n%s", r.code, r.stderr)
	}
}

func TestRunFileBadInput(t *testing.T) {
	srv := testserver.Start(t)
	file := writeShop(t, srv.URL, 20, "")
	bad := filepath.Join(t.TempDir(), "bad.yaml")
	if err := os.WriteFile(bad, []byte("version: 1\nscenarios:\n  s:\n    executor: vus\n    vus: 1\n    iterations: 1\n    steps:\n      - url: http://127.0.0.1:1/{{ .vars.nope }}\n        methd: GET\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	local := filepath.Join(t.TempDir(), "local.yaml")
	if err := os.WriteFile(local, []byte("version: 1\ntransport:\n  local_addr: 127.0.0.2\nscenarios:\n  s:\n    executor: vus\n    vus: 1\n    iterations: 1\n    steps:\n      - url: "+srv.URL+"/\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"run", "-f", file, srv.URL}, "takes no URL argument"},
		{[]string{"run", "-f", local, "--ip-family", "6"}, "--ip-family 6 and transport.local_addr 127.0.0.2 contradict"},
		{[]string{"run", "-f", local, "--ip-family", "4", "--local-addr", "::1"}, "--ip-family 4 and --local-addr ::1 contradict"},
		{[]string{"run", "-f", file, "--dns-mode", "sticky"}, `--dns-mode "sticky": want first, round-robin or random`},
		{[]string{"run", "-f", file, "-m", "POST"}, "--method is for a single URL"},
		{[]string{"run", "-f", file, "--template"}, "--template is for a single URL: the steps of " + file + " are templates already"},
		{[]string{"run", "-f", file, "-n", "0"}, "-n/--requests 0: give a positive number"},
		{[]string{"run", "-f", file, "--max-vus", "5"}, "--max-vus: scenario browse has executor vus"},
		{[]string{"run", "-f", file, "--threshold", "p99(latency) < fast"}, `--threshold "p99(latency) < fast"`},
		{[]string{"run", "-f", filepath.Join(t.TempDir(), "none.yaml")}, "cannot read the scenario file"},
		{[]string{"run", "-f", bad}, bad + `:8: scenario s: step 1: url: variable "nope"`},
		{[]string{"run", "-f", bad}, bad + `:9: step: unknown key "methd"`},
		{[]string{"validate", bad}, bad + `:9: step: unknown key "methd"`},
		{[]string{"validate"}, "validate needs exactly one scenario file"},
	} {
		r := faya(t.Context(), tc.args...)
		if r.code != cli.ExitUsage || !strings.Contains(r.stderr, tc.want) {
			t.Errorf("faya %s: exit %d, stderr:\n%s\nwant exit 2 and %q", strings.Join(tc.args, " "), r.code, r.stderr, tc.want)
		}
	}
	if st := srv.Stats(); st.Requests != 0 {
		t.Errorf("bad input sent %d requests", st.Requests)
	}
	r := faya(t.Context(), "validate", file)
	if r.code != cli.ExitOK || !strings.Contains(r.stdout, "ok (1 scenario, 4 steps, 1 data source, 0 thresholds)") {
		t.Errorf("validate a good file: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
}

// The example of docs/scenarios.md validates.
func TestExampleValidates(t *testing.T) {
	r := faya(t.Context(), "validate", "../../examples/shop/shop.yaml")
	if r.code != cli.ExitOK {
		t.Fatalf("exit %d\n%s", r.code, r.stderr)
	}
}
