package scenario

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/faya-load/faya/engine"
	"github.com/faya-load/faya/transport"
)

var update = flag.Bool("update", false, "rewrite the golden files")

func TestParseExample(t *testing.T) {
	f, err := Load("../examples/shop/shop.yaml", Options{})
	if err != nil {
		t.Fatal(err)
	}
	p := f.Plan
	if len(p.Scenarios) != 2 {
		t.Fatalf("scenarios = %d, want 2", len(p.Scenarios))
	}
	browse, buyers := p.Scenarios[0], p.Scenarios[1]
	if browse.Name != "browse" || browse.Executor.Type != engine.VUs || browse.Executor.VUs != 50 || browse.Executor.Duration != 20*time.Second {
		t.Errorf("browse executor = %+v", browse.Executor)
	}
	if len(browse.Setup) != 1 || len(browse.Steps) != 3 {
		t.Fatalf("browse: %d setup steps, %d steps; want 1, 3", len(browse.Setup), len(browse.Steps))
	}
	login := browse.Setup[0]
	if login.Method != "POST" || login.URL != "http://127.0.0.1:8080/login" || len(login.Form) != 2 {
		t.Errorf("login step = %+v", login)
	}
	if got := login.Header.Get("Accept"); got != "application/json" {
		t.Errorf("default header Accept = %q", got)
	}
	if x := browse.Steps[0].Extract; len(x) != 1 || x[0].Var != "first" || x[0].JSON != "$.items[0].id" {
		t.Errorf("extract = %+v", x)
	}
	if th := browse.Steps[2].Think; th.Min != 50*time.Millisecond || th.Max != 150*time.Millisecond {
		t.Errorf("think = %+v", th)
	}
	if buyers.Executor.Type != engine.ConstantRate || buyers.Executor.Rate.PerSecond() != 100 || buyers.Executor.MaxVUs < 10 {
		t.Errorf("buyers executor = %+v", buyers.Executor)
	}
	if ct := buyers.Steps[0].Header.Get("Content-Type"); ct != "application/json" || buyers.Steps[0].Method != "POST" {
		t.Errorf("json step: method %s, Content-Type %q", buyers.Steps[0].Method, ct)
	}
	if len(p.Data) != 1 || len(p.Data[0].Rows) != 100 || p.Data[0].Mode != engine.DataPerVU || strings.Join(p.Data[0].Columns, ",") != "user,password" {
		t.Errorf("data = %d sources", len(p.Data))
	}
	if p.Transport.MaxConnsPerHost != -1 || p.Transport.MaxIdleConnsPerHost != 100 || p.Timeout != 10*time.Second {
		t.Errorf("transport = %+v, timeout %v", p.Transport, p.Timeout)
	}
	if !f.Set["max_conns_per_host"] || !f.Set["timeout"] || f.Set["idle_conn_timeout"] {
		t.Errorf("Set = %v", f.Set)
	}
	if len(f.Thresholds) != 4 || f.Thresholds[3].Step != "item" {
		t.Errorf("thresholds = %+v", f.Thresholds)
	}
}

// TestErrorsGolden: a file with several problems reports them all, in
// line order, each with file:line.
func TestErrorsGolden(t *testing.T) {
	_, err := Load("testdata/bad.yaml", Options{})
	var errs Errors
	if !errors.As(err, &errs) {
		t.Fatalf("err = %v, want Errors", err)
	}
	got := err.Error() + "\n"
	golden := filepath.Join("testdata", "bad.golden")
	if *update {
		if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if got != string(want) {
		t.Errorf("errors:\n%s\nwant (go test -update to accept):\n%s", got, want)
	}
	if len(errs) < 8 {
		t.Errorf("%d errors, want every problem of the file (at least 8)", len(errs))
	}
	for _, e := range errs {
		if e.Line == 0 {
			t.Errorf("error without a line: %v", e)
		}
	}
}

const head = "version: 1\nbase_url: http://127.0.0.1:8080\n"

func TestErrors(t *testing.T) {
	files := map[string]string{
		"users.csv":   "user,password\na,b\nc,d\n",
		"empty.csv":   "user,password\n",
		"users.jsonl": "{\"user\":\"a\",\"n\":1}\n{\"user\":\"b\",\"n\":2}\n",
		"body.bin":    "raw",
	}
	read := func(path string) ([]byte, error) {
		if b, ok := files[filepath.Base(path)]; ok {
			return []byte(b), nil
		}
		return nil, &os.PathError{Op: "open", Path: path, Err: os.ErrNotExist}
	}
	env := func(name string) (string, bool) {
		if name == "TOKEN" {
			return "t", true
		}
		return "", false
	}
	steps := "scenarios:\n  s:\n    executor: vus\n    vus: 2\n    iterations: 4\n    steps:\n"
	tests := []struct {
		name, src string
		want      string // "" for no error
	}{
		{"ok", head + steps + "      - url: /\n", ""},
		{"no version", "scenarios:\n  s:\n    executor: vus\n    steps:\n      - url: http://x/\n", ":1: version is missing"},
		{"future version", "version: 2\n" + steps[0:0] + "scenarios: {}\n", "version 2: this faya reads version 1"},
		{"not yaml", "version: 1\n  - a: [\n", "not valid YAML"},
		{"empty", "", "the file is empty"},
		{"unknown top key", head + "scenario: {}\n", `:3: the file: unknown key "scenario"`},
		{"unknown step key", head + steps + "      - url: /\n        methd: GET\n", `:10: step: unknown key "methd" (known: name, method`},
		{"wrong type", head + steps + "      - url: [a, b]\n", ":9: step url: want a value, got a list"},
		{"bad duration", head + "scenarios:\n  s:\n    executor: vus\n    duration: 10\n    steps:\n      - url: /\n", `:6: scenario s: duration: "10" is not a duration like 10s or 250ms: give a unit, e.g. 10s`},
		{"bad think", head + steps + "      - url: /\n        think: 3-1s\n", `:10: step think "3-1s": "3" is not a duration`},
		{"think backwards", head + steps + "      - url: /\n        think: 2s-1s\n", "the range ends before it starts"},
		{"undefined variable", head + steps + "      - url: /items/{{ .vars.id }}\n", `:9: scenario s: step 1: url: variable "id" is not extracted before this step`},
		{"variable from a later step", head + steps + "      - url: /a/{{ .vars.id }}\n      - url: /b\n        extract:\n          id: {json: $.id}\n", `:9: scenario s: step 1: url: variable "id"`},
		{"extract then use", head + steps + "      - url: /a\n        extract:\n          id: {json: $.id}\n      - url: /b/{{ .vars.id }}\n", ""},
		{"missing data file", head + "data:\n  users:\n    file: nope.csv\n" + steps + "      - url: /\n", `:5: data.users.file "nope.csv": cannot read`},
		{"data file without rows", head + "data:\n  users:\n    file: empty.csv\n" + steps + "      - url: /\n", "needs a header row (the column names) and at least one row"},
		{"unknown data column", head + "data:\n  users:\n    file: users.csv\n" + steps + "      - url: /{{ .data.users.name }}\n", `column "name"`},
		{"unknown data source", head + steps + "      - url: /{{ .data.people.user }}\n", `data source "people"`},
		{"jsonl data", head + "data:\n  users:\n    file: users.jsonl\n" + steps + "      - url: /{{ .data.users.user }}/{{ .data.users.n }}\n", ""},
		{"per-vu too few rows", head + "data:\n  users:\n    file: users.csv\n    mode: per-vu\n" + strings.Replace(steps, "vus: 2", "vus: 3", 1) + "      - url: /\n", "has 2 rows for 3 VUs"},
		{"bad data mode", head + "data:\n  users:\n    file: users.csv\n    mode: each\n" + steps + "      - url: /\n", `:6: data.users.mode "each": want per-vu, sequential or random`},
		{"relative url without base", "version: 1\n" + steps + "      - url: /x\n", `url "/x" is relative: set base_url`},
		{"two bodies", head + steps + "      - url: /\n        body: a\n        form: {a: b}\n", "give one body"},
		{"body file", head + steps + "      - url: /\n        body_file: body.bin\n", ""},
		{"missing body file", head + steps + "      - url: /\n        body_file: none.bin\n", `step body_file "none.bin": cannot read`},
		{"raw body file", head + steps + "      - url: /\n        body_file_raw: body.bin\n", ""},
		{"missing raw body file", head + steps + "      - url: /\n        body_file_raw: none.bin\n", `:10: step body_file_raw "none.bin": cannot read`},
		{"raw body and body", head + steps + "      - url: /\n        body_file_raw: body.bin\n        body: x\n", "give one body (body, json, form, body_file or body_file_raw)"},
		{"base_url from env", "version: 1\nbase_url: '{{ env \"TOKEN\" }}'\n" + steps + "      - url: /\n", `base_url: URL "t/" has no scheme`},
		{"base_url env unset", "version: 1\nbase_url: '{{ env \"NOPE\" }}'\n" + steps + "      - url: /\n", `:2: base_url "{{ env \"NOPE\" }}": environment variable NOPE is not set`},
		{"base_url with a variable", "version: 1\nbase_url: 'http://{{ .vars.host }}'\n" + steps + "      - url: /\n", `:2: base_url "http://{{ .vars.host }}": only {{ env "NAME" }} can be used here`},
		{"env set", head + steps + "      - url: /\n        headers: {Authorization: 'Bearer {{ env \"TOKEN\" }}'}\n", ""},
		{"env unset", head + steps + "      - url: /\n        headers: {Authorization: 'Bearer {{ env \"NOPE\" }}'}\n", "NOPE"},
		{"bad executor", head + "scenarios:\n  s:\n    executor: users\n    steps:\n      - url: /\n", "scenario s"},
		{"no executor", head + "scenarios:\n  s:\n    steps:\n      - url: /\n", "executor is missing"},
		{"no steps", head + "scenarios:\n  s:\n    executor: vus\n", "steps are missing"},
		{"bad rate", head + "scenarios:\n  s:\n    executor: rate\n    rate: fast\n    duration: 1s\n    steps:\n      - url: /\n", ":6: scenario s: rate"},
		{"bad on_failure", head + steps + "      - url: /\n        check: {status: 200, on_failure: panic}\n", "on_failure"},
		{"bad status", head + steps + "      - url: /\n        check: {status: ok}\n", `check status: "ok" is not a whole number`},
		{"bad reset_cookies", head + "scenarios:\n  s:\n    executor: vus\n    reset_cookies: yes\n    steps:\n      - url: /\n", "each-iteration"},
		{"bad threshold", head + steps + "      - url: /\nthresholds:\n  run:\n    - p99(latency) << 1s\n", ":12:"},
		{"threshold on unknown step", head + steps + "      - url: /\n        name: home\nthresholds:\n  steps:\n    hom:\n      - p99(latency) < 1s\n", `no step is named "hom" (steps: home)`},
		{"checks threshold without checks", head + steps + "      - url: /\nthresholds:\n  run:\n    - checks > 99%\n", `:12: thresholds.run: "checks > 99%": no step of the file has checks`},
		{"checks threshold on a step without checks", head + steps + "      - url: /\n        name: home\n      - url: /b\n        check: {status: 200}\nthresholds:\n  steps:\n    home:\n      - checks > 99%\n", `:16: thresholds.steps.home: "checks > 99%": the step has no checks`},
		{"checks threshold with checks", head + steps + "      - url: /\n        check: {status: 200}\nthresholds:\n  run:\n    - checks > 99%\n", ""},
		{"bad transport", head + "transport:\n  max_idle_conns_per_host: -3\n" + steps + "      - url: /\n", ":4: transport.max_idle_conns_per_host -3: must not be negative"},
		{"unknown transport key", head + "transport:\n  max_conns: 3\n" + steps + "      - url: /\n", `unknown key "max_conns" (known: max_conns_per_host`},
		{"small header limit", head + "transport:\n  max_header_bytes: 100\n" + steps + "      - url: /\n", ":4: transport.max_header_bytes 100: want at least 4096"},
		{"negative max requests per conn", head + "transport:\n  max_requests_per_conn: -1\n" + steps + "      - url: /\n", ":4: transport.max_requests_per_conn -1: must not be negative"},
		{"lifetime jitter too wide", head + "transport:\n  max_conn_lifetime: 10s±10s\n" + steps + "      - url: /\n", ":4: transport.max_conn_lifetime \"10s±10s\": want a jitter from 0 to less than the lifetime"},
		{"bad local addr", head + "transport:\n  local_addr: [127.0.0.2, 127.0.0.300]\n" + steps + "      - url: /\n", `:4: transport.local_addr "127.0.0.300": want an IPv4 or IPv6 address`},
		{"foreign local addr", head + "transport:\n  local_addr: 192.0.2.7\n" + steps + "      - url: /\n", ":4: transport.local_addr 192.0.2.7 is not an address of this machine"},
		{"bad resolve", head + "transport:\n  resolve: [shop.test:443]\n" + steps + "      - url: /\n", `:4: transport.resolve "shop.test:443": want HOST:PORT:ADDR`},
		{"dns ttl no unit", head + "transport:\n  dns_ttl: 30\n" + steps + "      - url: /\n", `:4: transport.dns_ttl "30": want a duration such as 30s`},
		{"bad dns mode", head + "transport:\n  dns_mode: sticky\n" + steps + "      - url: /\n", `:4: transport.dns_mode "sticky": want first, round-robin or random`},
		{"bad ip family", head + "transport:\n  ip_family: 5\n" + steps + "      - url: /\n", `:4: transport.ip_family "5": want 4, 6 or any`},
		{"family and local addr", head + "transport:\n  ip_family: 6\n  local_addr: 127.0.0.2\n" + steps + "      - url: /\n",
			":4: transport.ip_family 6 and transport.local_addr 127.0.0.2 contradict: an IPv6-only run cannot bind an IPv4 source address; give transport.local_addr IPv6 addresses only, or transport.ip_family 4 (or any)"},
		{"family and resolve", head + "transport:\n  resolve: shop.test:80:127.0.0.1\n  ip_family: 6\n" + steps + "      - url: /\n",
			":5: transport.ip_family 6 and transport.resolve shop.test:80:127.0.0.1 contradict"},
		{"bad engine", head + "engine: fasthttp\n" + steps + "      - url: /\n", `engine "fasthttp": want h1 or net/http`},
		{"http 2", head + "engine: net/http\nhttp: 2\n" + steps + "      - url: /\n", ""},
		{"http 1.1", head + "http: 1.1\n" + steps + "      - url: /\n", ""},
		{"bad http", head + "http: 3\n" + steps + "      - url: /\n", `:3: http "3": want auto, 1.1 or 2`},
		{"h2 knobs", head + "engine: net/http\ntransport:\n  h2_ping_timeout: 5s\n" + steps + "      - url: /\n", ""},
		{"h2 max streams 0", head + "engine: net/http\ntransport:\n  h2_max_streams: 0\n" + steps + "      - url: /\n", ":5: transport.h2_max_streams 0: want at least 1"},
		{"key of another executor", head + "scenarios:\n  s:\n    executor: rate\n    rate: 10\n    duration: 1s\n    vus: 5\n    steps:\n      - url: /\n", ":8: scenario s: vus does not apply to executor rate (it takes rate, duration, pre_vus, max_vus)"},
		{"timeout 0", head + "defaults:\n  timeout: 0s\n" + steps + "      - url: /\n", ":4: defaults.timeout 0: a request needs a timeout"},
		{"negative max_body", head + "defaults:\n  max_body: -1\n" + steps + "      - url: /\n", "defaults.max_body -1: must not be negative"},
		{"proxy", head + "proxy: socks5h://u:pw@127.0.0.1:1080\n" + steps + "      - url: /\n", ""},
		{"proxy pool", head + "proxy:\n  urls: [http://127.0.0.1:3128, socks5://127.0.0.1:1080]\n  mode: round-robin\n" + steps + "      - url: /\n", ""},
		{"proxy scheme", head + "proxy: ftp://u:secret@127.0.0.1:21\n" + steps + "      - url: /\n", `:3: proxy: "ftp://u:xxxxx@127.0.0.1:21": unknown proxy scheme "ftp"`},
		{"proxy mode", head + "proxy:\n  url: http://127.0.0.1:3128\n  mode: sticky\n" + steps + "      - url: /\n", `:5: proxy.mode "sticky": want per-vu or round-robin`},
		{"proxy ca not pem", head + "proxy:\n  url: https://127.0.0.1:3129\n  ca: body.bin\n" + steps + "      - url: /\n", `:5: proxy.ca "body.bin": not a PEM certificate`},
		{"duplicate key", head + steps + "      - url: /\n        url: /b\n", `key "url" given twice`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := Parse("s.yaml", []byte(tt.src), Options{ReadFile: read, Env: env})
			if tt.want == "" {
				if err != nil {
					t.Fatalf("unexpected error:\n%v", err)
				}
				if len(f.Plan.Scenarios) == 0 {
					t.Fatal("no scenarios")
				}
				return
			}
			if err == nil {
				t.Fatalf("no error, want %q", tt.want)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error:\n%v\nwant it to contain %q", err, tt.want)
			}
			if !strings.HasPrefix(err.Error(), "s.yaml") {
				t.Errorf("error does not name the file: %v", err)
			}
		})
	}
}

func FuzzParse(f *testing.F) {
	for _, name := range []string{"../examples/shop/shop.yaml", "testdata/bad.yaml"} {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte(head + "scenarios:\n  s:\n    executor: vus\n    steps:\n      - url: /{{ .vars.x }}\n"))
	f.Add([]byte("version: 1\nscenarios: &a\n  s: *a\n"))
	read := func(string) ([]byte, error) { return []byte("a,b\n1,2\n"), nil }
	f.Fuzz(func(t *testing.T, src []byte) {
		file, err := Parse("f.yaml", src, Options{ReadFile: read})
		if err != nil {
			var errs Errors
			if !errors.As(err, &errs) || len(errs) == 0 {
				t.Fatalf("error is not Errors: %v", err)
			}
			return
		}
		if err := file.Plan.Validate(); err != nil {
			t.Fatalf("Parse accepted a plan that does not validate: %v", err)
		}
	})
}

// body_file_raw is sent as given; base_url reads the environment (rendered
// at parse when Options.Env is set, left to the engine when not), and
// Options.BaseURL replaces it.
func TestRawBodyAndBaseURL(t *testing.T) {
	read := func(string) ([]byte, error) { return []byte("{{ not a template \x00"), nil }
	env := func(name string) (string, bool) { return "http://127.0.0.1:9", name == "BASE" }
	src := "version: 1\nbase_url: '{{ env \"BASE\" }}/api/'\nscenarios:\n  s:\n    executor: vus\n    vus: 1\n    iterations: 1\n    steps:\n" +
		"      - url: /up\n        body_file_raw: up.bin\n      - url: /tpl\n        body_file: up.bin\n"
	if _, err := Parse("s.yaml", []byte(src), Options{ReadFile: read, Env: env}); err == nil {
		t.Fatalf("a body_file that is not a template parsed")
	}
	src = strings.Replace(src, "        body_file: up.bin\n", "", 1)
	f, err := Parse("s.yaml", []byte(src), Options{ReadFile: read, Env: env})
	if err != nil {
		t.Fatal(err)
	}
	up := f.Plan.Scenarios[0].Steps[0]
	if up.URL != "http://127.0.0.1:9/api/up" || !up.RawBody || string(up.Body) != "{{ not a template \x00" || up.Method != "POST" {
		t.Errorf("step %+v: want the env rendered in the URL, the raw body, POST", up)
	}
	if f.Plan.Scenarios[0].Steps[1].RawBody {
		t.Errorf("a step without body_file_raw has RawBody")
	}
	f, err = Parse("s.yaml", []byte(src), Options{ReadFile: read})
	if err != nil {
		t.Fatal(err)
	}
	if u := f.Plan.Scenarios[0].Steps[0].URL; u != `{{ env "BASE" }}/api/up` {
		t.Errorf("without Env: url %q, want the template kept for the engine", u)
	}
	f, err = Parse("s.yaml", []byte(src), Options{ReadFile: read, Env: env, BaseURL: "https://example.test:8443/v2/"})
	if err != nil {
		t.Fatal(err)
	}
	if u := f.Plan.Scenarios[0].Steps[1].URL; u != "https://example.test:8443/v2/tpl" {
		t.Errorf("with BaseURL: url %q, want https://example.test:8443/v2/tpl", u)
	}
	_, err = Parse("s.yaml", []byte("version: 1\n"+src[strings.Index(src, "scenarios"):]), Options{ReadFile: read, BaseURL: "http://127.0.0.1:9"})
	if err != nil {
		t.Errorf("relative URLs with BaseURL and no base_url: %v", err)
	}
}

// A rate scenario without max_vus gets the engine's default for its rate
// and the file's timeout.
func TestDefaultMaxVUsFromFile(t *testing.T) {
	src := head + "defaults:\n  timeout: 5s\nscenarios:\n  s:\n    executor: rate\n    rate: 100\n    duration: 1s\n    steps:\n      - url: /\n" +
		"  r:\n    executor: ramping-rate\n    stages: [1s:40, 1s:40]\n    max_vus: 7\n    steps:\n      - url: /\n"
	f, err := Parse("s.yaml", []byte(src), Options{})
	if err != nil {
		t.Fatal(err)
	}
	s, r := f.Plan.Scenarios[0].Executor, f.Plan.Scenarios[1].Executor
	if s.MaxVUs != 500 || s.PreVUs != 1 || !f.DerivedMaxVUs["s"] {
		t.Errorf("rate 100/s, timeout 5s: max_vus %d pre_vus %d (derived %v), want 500, 1, derived", s.MaxVUs, s.PreVUs, f.DerivedMaxVUs)
	}
	if r.MaxVUs != 7 || f.DerivedMaxVUs["r"] {
		t.Errorf("max_vus 7 given: %d (derived %v)", r.MaxVUs, f.DerivedMaxVUs)
	}
}

// transport.max_header_bytes is --max-header-bytes.
func TestMaxHeaderBytes(t *testing.T) {
	src := head + "transport:\n  max_header_bytes: 65536\nscenarios:\n  s:\n    executor: vus\n    vus: 1\n    iterations: 1\n    steps:\n      - url: /\n"
	f, err := Parse("s.yaml", []byte(src), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if got := f.Plan.Transport.MaxResponseHeaderBytes; got != 65536 || !f.Set["max_header_bytes"] {
		t.Errorf("max response header bytes %d (set %v), want 65536", got, f.Set["max_header_bytes"])
	}
}

// transport.max_requests_per_conn and max_conn_lifetime (with its
// jitter) are --max-requests-per-conn and --max-conn-lifetime.
func TestRotationKeys(t *testing.T) {
	src := head + "transport:\n  max_requests_per_conn: 100\n  max_conn_lifetime: 30s±5s\nscenarios:\n  s:\n    executor: vus\n    vus: 1\n    iterations: 1\n    steps:\n      - url: /\n"
	f, err := Parse("s.yaml", []byte(src), Options{})
	if err != nil {
		t.Fatal(err)
	}
	tr := f.Plan.Transport
	if tr.MaxRequestsPerConn != 100 || tr.MaxConnLifetime != 30*time.Second || tr.MaxConnLifetimeJitter != 5*time.Second {
		t.Errorf("max requests %d, lifetime %v±%v; want 100, 30s±5s", tr.MaxRequestsPerConn, tr.MaxConnLifetime, tr.MaxConnLifetimeJitter)
	}
}

// transport.local_addr takes a list or a comma string, CIDR prefixes
// expanded, as --local-addr does.
func TestLocalAddrKey(t *testing.T) {
	for _, v := range []string{"[127.0.0.2, 127.0.0.4/31]", "\"127.0.0.2,127.0.0.4/31\""} {
		src := head + "transport:\n  local_addr: " + v + "\nscenarios:\n  s:\n    executor: vus\n    vus: 1\n    iterations: 1\n    steps:\n      - url: /\n"
		f, err := Parse("s.yaml", []byte(src), Options{})
		if err != nil {
			t.Fatal(err)
		}
		if got := fmt.Sprint(f.Plan.Transport.LocalAddrs); got != "[127.0.0.2 127.0.0.4 127.0.0.5]" {
			t.Errorf("local_addr %s: %s; want [127.0.0.2 127.0.0.4 127.0.0.5]", v, got)
		}
	}
}

// transport.dns_ttl, dns_mode and ip_family take what --dns-ttl,
// --dns-mode and --ip-family take; dns_ttl 0 is no cache.
func TestDNSKeys(t *testing.T) {
	for _, tc := range []struct {
		keys string
		want transport.Config
	}{
		{"  dns_ttl: 0\n", transport.Config{DNSTTL: transport.DNSNoCache}},
		{"  dns_ttl: 90s\n  dns_mode: round-robin\n  ip_family: 4\n", transport.Config{DNSTTL: 90 * time.Second, DNSMode: transport.DNSRoundRobin, IPFamily: transport.IPv4}},
		{"  dns_mode: first\n  ip_family: any\n", transport.Config{}},
		{"  dns_mode: random\n  ip_family: 6\n  local_addr: ::1\n", transport.Config{DNSMode: transport.DNSRandom, IPFamily: transport.IPv6}},
	} {
		src := head + "transport:\n" + tc.keys + "scenarios:\n  s:\n    executor: vus\n    vus: 1\n    iterations: 1\n    steps:\n      - url: /\n"
		f, err := Parse("s.yaml", []byte(src), Options{})
		if err != nil {
			t.Fatalf("%q: %v", tc.keys, err)
		}
		got := f.Plan.Transport
		if got.DNSTTL != tc.want.DNSTTL || got.DNSMode != tc.want.DNSMode || got.IPFamily != tc.want.IPFamily {
			t.Errorf("%q: dns_ttl %v, dns_mode %s, ip_family %s; want %v, %s, %s", tc.keys, got.DNSTTL, got.DNSMode, got.IPFamily, tc.want.DNSTTL, tc.want.DNSMode, tc.want.IPFamily)
		}
	}
}

// transport.resolve is a list of --resolve entries (or one).
func TestResolveKey(t *testing.T) {
	src := head + "transport:\n  resolve:\n    - shop.test:443:127.0.0.1,127.0.0.2\n    - api.test:80:[::1]\nscenarios:\n  s:\n    executor: vus\n    vus: 1\n    iterations: 1\n    steps:\n      - url: /\n"
	f, err := Parse("s.yaml", []byte(src), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(f.Plan.Transport.Resolve); got != "map[api.test:80:[::1] shop.test:443:[127.0.0.1 127.0.0.2]]" {
		t.Errorf("resolve %s; want map[api.test:80:[::1] shop.test:443:[127.0.0.1 127.0.0.2]]", got)
	}
}

// Files a scenario file names are regular files of a bounded size: a
// device or a named pipe is refused at its line, before it is read.
func TestFilesAreBounded(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Skip("no named pipes here:", err)
	}
	for _, tc := range []struct{ key, file string }{
		{"data", "/dev/zero"},
		{"body", fifo},
		{"data", dir},
	} {
		src := head + "scenarios:\n  s:\n    executor: vus\n    vus: 1\n    iterations: 1\n    steps:\n      - url: /\n"
		switch tc.key {
		case "data":
			src = head + "data:\n  d:\n    file: " + tc.file + "\n" + src[len(head):]
		case "body":
			src += "        method: POST\n        body_file_raw: " + tc.file + "\n"
		}
		path := filepath.Join(dir, "s.yaml")
		if err := os.WriteFile(path, []byte(src), 0o600); err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { _, err := Load(path, Options{}); done <- err }()
		select {
		case err := <-done:
			if err == nil || !strings.Contains(err.Error(), "not a regular file") {
				t.Errorf("%s %s: %v, want it refused as not a regular file", tc.key, tc.file, err)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("%s %s: Load did not return (it waits on the file)", tc.key, tc.file)
		}
	}
}

// pre_vus: 0 in a file means no VU allocated before the start, as
// --pre-vus 0 does; an absent pre_vus is derived (1 at 100/s).
func TestPreVUsZeroFromFile(t *testing.T) {
	for _, tc := range []struct {
		name, key string
		want      int
	}{{"zero", "    pre_vus: 0\n", 0}, {"absent", "", 1}, {"given", "    pre_vus: 3\n", 3}} {
		src := head + "defaults:\n  timeout: 5s\nscenarios:\n  s:\n    executor: rate\n    rate: 100\n    duration: 1s\n" + tc.key + "    steps:\n      - url: /\n"
		f, err := Parse("s.yaml", []byte(src), Options{})
		if err != nil {
			t.Fatal(err)
		}
		if got := f.Plan.Scenarios[0].Executor.PreVUs; got != tc.want {
			t.Errorf("%s: pre_vus %d, want %d", tc.name, got, tc.want)
		}
	}
}
