package engine_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/faya-load/faya/engine"
	"github.com/faya-load/faya/internal/testserver"
	"github.com/faya-load/faya/metrics"
)

// users is a data source of n users.
func users(n int) engine.DataSource {
	ds := engine.DataSource{Name: "users", Columns: []string{"user", "password"}, Mode: engine.DataPerVU}
	for i := range n {
		ds.Rows = append(ds.Rows, []string{fmt.Sprintf("user%03d", i), "secret"})
	}
	return ds
}

// shop logs each VU in once, then browses: who am I, the items, the first
// item, with its id carried from one response to the next request.
func shop(base string, vus int, iterations int64) engine.Plan {
	form := http.Header{"Content-Type": {"application/x-www-form-urlencoded"}}
	return engine.Plan{
		Data: []engine.DataSource{users(vus)},
		Scenarios: []engine.Scenario{{
			Name:     "shop",
			Executor: engine.Executor{Type: engine.VUs, VUs: vus, Iterations: iterations},
			Setup: []engine.Step{{
				Name: "login", Method: "POST", URL: base + "/login", Header: form,
				Body:  []byte("user={{ .data.users.user }}&password={{ .data.users.password }}"),
				Check: engine.Check{Status: []int{200}},
			}},
			Steps: []engine.Step{
				{Name: "me", URL: base + "/me", Check: engine.Check{Status: []int{200}, JSON: map[string]string{"user": "{{ .data.users.user }}"}}},
				{Name: "items", URL: base + "/items", Extract: []engine.Extract{{Var: "item", JSON: "$.items[2].id"}}},
				{Name: "item", URL: base + "/items/{{ .vars.item }}", Check: engine.Check{Status: []int{200}, BodyContains: []string{`"id":3`}, JSON: map[string]string{"$.id": "{{ .vars.item }}"}}},
			},
		}},
	}
}

// 100 VUs log in once each as 100 different users, and every later
// request carries its own session.
func TestSessionsPerVU(t *testing.T) { forEachEngine(t, testSessionsPerVU) }

func testSessionsPerVU(t *testing.T, eng string) {
	srv := testserver.Start(t)
	p := shop(srv.URL, 100, 500)
	p.Engine = eng
	res := run(t, p)
	s, st := res.Total, srv.Stats()
	if st.Logins != 100 || st.Unauthorized != 0 {
		t.Fatalf("target: %d logins, %d refused; want 100 logins, none refused", st.Logins, st.Unauthorized)
	}
	if len(st.Sessions) != 100 {
		t.Fatalf("target saw %d sessions, want 100", len(st.Sessions))
	}
	// Each iteration is 3 requests, each VU's on its own session: the
	// sessions' requests add up to the logins and the iterations.
	var total int64
	for user, n := range st.Sessions {
		if !strings.HasPrefix(user, "user") || n < 1 {
			t.Errorf("session of %q made %d requests", user, n)
		}
		total += n
	}
	if total != 100+3*500 {
		t.Errorf("requests on sessions = %d, want 100 logins + 1500", total)
	}
	if s.Requests != 1500 || s.OK != 1500 || s.Setup != 100 || s.Iterations != 500 {
		t.Errorf("requests %d ok %d setup %d iterations %d", s.Requests, s.OK, s.Setup, s.Iterations)
	}
	// me: 2 checks, items: 1 extraction, item: 3 checks; login: 1 check
	// (setup checks count too).
	if s.ChecksFailed != 0 || s.ChecksPassed != 500*6+100 || s.SetupFailed != 0 {
		t.Errorf("checks passed %d failed %d, setup failed %d; want %d, 0 and 0", s.ChecksPassed, s.ChecksFailed, s.SetupFailed, 500*6+100)
	}
	want := map[string]int64{"login": 100, "me": 500, "items": 500, "item": 500}
	if len(res.Steps) != 4 {
		t.Fatalf("steps %+v", res.Steps)
	}
	for i, info := range res.Steps {
		got := s.Steps[i]
		if got.Requests != want[info.Name] || got.OK != got.Requests || got.Latency().TotalCount() != got.Requests {
			t.Errorf("step %+v: %d requests (%d ok), want %d", info, got.Requests, got.OK, want[info.Name])
		}
		if (info.Name == "login") != info.Setup {
			t.Errorf("step %+v: setup flag", info)
		}
	}
}

// A failed check is counted and, by default, the VU goes on; with
// abort-iteration the iteration's remaining steps are skipped.
func TestChecksAndFailures(t *testing.T) { forEachEngine(t, testChecksAndFailures) }

func testChecksAndFailures(t *testing.T, eng string) {
	srv := testserver.Start(t)
	plan := func(onFailure string) engine.Plan {
		return engine.Plan{Engine: eng, Scenarios: []engine.Scenario{{
			Name:     "checks",
			Executor: engine.Executor{Type: engine.VUs, VUs: 2, Iterations: 10},
			Steps: []engine.Step{
				{Name: "wrong", URL: srv.URL + "/status?code=503", Check: engine.Check{Status: []int{200}, BodyContains: []string{"Unavailable"}, OnFailure: onFailure}},
				{Name: "next", URL: srv.URL + "/"},
			},
		}}}
	}
	res := run(t, plan(""))
	s := res.Total
	if s.Requests != 20 || s.ChecksFailed != 10 || s.ChecksPassed != 10 || s.Steps[0].ChecksFailed != 10 || s.Steps[1].Requests != 10 {
		t.Errorf("continue: requests %d, checks %d/%d, steps %+v", s.Requests, s.ChecksPassed, s.ChecksFailed, s.Steps)
	}
	if got := s.Steps[0].CheckFailure; got != "status 503, want [200]" {
		t.Errorf("check failure = %q, want the status check's", got)
	}
	srv.Target.Reset()
	res = run(t, plan(engine.FailAbortIteration))
	if s := res.Total; s.Requests != 10 || (len(s.Steps) > 1 && s.Steps[1].Requests != 0) || srv.Stats().Requests != 10 {
		t.Errorf("abort-iteration: requests %d, server %d, steps %+v", s.Requests, srv.Stats().Requests, s.Steps)
	}
	// stop-vu: each VU makes its one failing request and stops; the run
	// ends then, long before its hour, and no VU spins.
	srv.Target.Reset()
	p := plan(engine.FailStopVU)
	p.Scenarios[0].Executor = engine.Executor{Type: engine.VUs, VUs: 2, Duration: time.Hour}
	res = run(t, p)
	if s := res.Total; s.Requests != 2 || s.ChecksFailed != 2 || srv.Stats().Requests != 2 || res.Interrupted {
		t.Errorf("stop-vu, closed: requests %d, checks failed %d, server %d", s.Requests, s.ChecksFailed, srv.Stats().Requests)
	}
	// Open model: a stopped VU takes no more arrivals; with 3 VUs at most,
	// 3 requests are made and the other arrivals are dropped.
	srv.Target.Reset()
	p = plan(engine.FailStopVU)
	p.Scenarios[0].Executor = engine.Executor{Type: engine.ConstantRate, Rate: engine.Rate{Count: 200, Per: time.Second}, Duration: 100 * time.Millisecond, PreVUs: 1, MaxVUs: 3}
	res = run(t, p)
	if s := res.Total; s.Requests != 3 || srv.Stats().Requests != 3 || s.Dropped != 20-3 {
		t.Errorf("stop-vu, open: requests %d, server %d, dropped %d (want 3, 3, 17)", s.Requests, srv.Stats().Requests, s.Dropped)
	}
}

// Without a setup, each iteration logs in again; reset_cookies starts each
// iteration with an empty jar, so /me works only after that iteration's
// login.
func TestResetCookies(t *testing.T) { forEachEngine(t, testResetCookies) }

func testResetCookies(t *testing.T, eng string) {
	srv := testserver.Start(t)
	p := engine.Plan{Engine: eng, Scenarios: []engine.Scenario{{
		Name:         "fresh",
		Executor:     engine.Executor{Type: engine.VUs, VUs: 3, Iterations: 30},
		ResetCookies: true,
		Steps: []engine.Step{
			{Name: "me first", URL: srv.URL + "/me", Check: engine.Check{Status: []int{401}}},
			{Name: "login", Method: "POST", URL: srv.URL + "/login", Header: http.Header{"Content-Type": {"application/json"}},
				Body: []byte(`{"user":"vu{{ .vu }}","password":"x"}`), Extract: []engine.Extract{{Var: "sid", Cookie: "faya_session"}}},
			{Name: "me", URL: srv.URL + "/me", Check: engine.Check{Status: []int{200}, JSON: map[string]string{"user": "vu{{ .vu }}"}}},
		},
	}}}
	s := run(t, p).Total
	if st := srv.Stats(); st.Logins != 30 || st.Unauthorized != 30 {
		t.Errorf("target: %d logins %d refused, want 30 and 30", st.Logins, st.Unauthorized)
	}
	// 401 first, the session cookie extracted, then /me's status and user.
	if s.ChecksFailed != 0 || s.ChecksPassed != 30*4 {
		t.Errorf("checks %d passed %d failed", s.ChecksPassed, s.ChecksFailed)
	}
}

// Redirects are followed with the cookies applied at each hop.
func TestRedirectWithCookies(t *testing.T) { forEachEngine(t, testRedirectWithCookies) }

func testRedirectWithCookies(t *testing.T, eng string) {
	mux := http.NewServeMux()
	mux.HandleFunc("/start", func(w http.ResponseWriter, r *http.Request) {
		http.SetCookie(w, &http.Cookie{Name: "hop", Value: "1", Path: "/"})
		http.Redirect(w, r, "/end", http.StatusFound)
	})
	mux.HandleFunc("/end", func(w http.ResponseWriter, r *http.Request) {
		c, err := r.Cookie("hop")
		if err != nil || c.Value != "1" {
			http.Error(w, "no cookie from the first hop", http.StatusBadRequest)
			return
		}
		_, _ = io.WriteString(w, "landed")
	})
	srv := httptestServer(t, mux)
	p := engine.Plan{Engine: eng, Scenarios: []engine.Scenario{{
		Name:     "redirect",
		Executor: engine.Executor{Type: engine.VUs, VUs: 2, Iterations: 6},
		Steps:    []engine.Step{{Name: "go", URL: srv + "/start", Check: engine.Check{Status: []int{200}, BodyContains: []string{"landed"}}}},
	}}}
	s := run(t, p).Total
	if s.OK != 6 || s.Redirects != 6 || s.ChecksFailed != 0 {
		t.Errorf("ok %d redirects %d checks failed %d (%v)", s.OK, s.Redirects, s.ChecksFailed, s.ErrExample)
	}
}

// A scenario written in Go: log in once per VU, then browse, through the
// VU's measured client.
func TestGoScenario(t *testing.T) { forEachEngine(t, testGoScenario) }

func testGoScenario(t *testing.T, eng string) {
	srv := testserver.Start(t)
	get := func(ctx context.Context, vu *engine.VU, step, path string, into any) error {
		req, _ := http.NewRequestWithContext(engine.WithStep(ctx, step), "GET", srv.URL+path, nil)
		resp, err := vu.Client().Do(req)
		if err != nil {
			return err
		}
		defer func() { _, _ = io.Copy(io.Discard, resp.Body); _ = resp.Body.Close() }()
		if resp.StatusCode != 200 {
			return fmt.Errorf("%s: status %d", path, resp.StatusCode)
		}
		return json.NewDecoder(resp.Body).Decode(into)
	}
	p := engine.Plan{Engine: eng, Scenarios: []engine.Scenario{{
		Name:     "code",
		Executor: engine.Executor{Type: engine.VUs, VUs: 4, Iterations: 20},
		Func: &engine.Func{
			Setup: func(ctx context.Context, vu *engine.VU) error {
				resp, err := vu.Client().PostForm(srv.URL+"/login", url.Values{"user": {fmt.Sprint("coder", vu.ID)}, "password": {"pw"}})
				if err != nil {
					return err
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				return resp.Body.Close()
			},
			Iteration: func(ctx context.Context, vu *engine.VU) error {
				var items struct{ Items []struct{ ID int } }
				if err := get(ctx, vu, "items", "/items", &items); err != nil {
					return err
				}
				var item struct{ ID int }
				if err := get(ctx, vu, "item", fmt.Sprintf("/items/%d", items.Items[vu.ID].ID), &item); err != nil {
					return err
				}
				vu.Vars["last"] = fmt.Sprint(item.ID)
				return nil
			},
		},
	}}}
	res := run(t, p)
	s, st := res.Total, srv.Stats()
	if st.Logins != 4 || st.Unauthorized != 0 || len(st.Sessions) != 4 {
		t.Fatalf("target: %d logins, %d refused, %d sessions; errors %v (%v)", st.Logins, st.Unauthorized, len(st.Sessions), s.Errors, s.ErrExample)
	}
	if s.Requests != 40 || s.OK != 40 || s.Setup != 4 || s.ChecksFailed != 0 {
		t.Errorf("requests %d ok %d setup %d checks failed %d (%v)", s.Requests, s.OK, s.Setup, s.ChecksFailed, s.ErrExample)
	}
	names := map[string]int64{}
	for i, info := range res.Steps {
		names[info.Name] = s.Steps[i].Requests
	}
	if names["items"] != 20 || names["item"] != 20 || names["POST /login"] != 4 {
		t.Errorf("steps %v", names)
	}
	if h := s.Hist(metrics.Wait); h == nil || h.TotalCount() != 40 {
		n := int64(-1)
		if h != nil {
			n = h.TotalCount()
		}
		t.Errorf("the Go scenario's requests are not traced: %d waits measured, want 40", n)
	}
}

func TestScenarioValidate(t *testing.T) {
	base := func() engine.Plan { return shop("http://127.0.0.1:1", 2, 2) }
	for _, tc := range []struct {
		name string
		edit func(*engine.Plan)
		want string
	}{
		{"undefined var", func(p *engine.Plan) { p.Scenarios[0].Steps[0].URL = "http://x/{{ .vars.nope }}" }, `step 1: url: variable "nope" is not extracted before this step`},
		{"var used before extraction", func(p *engine.Plan) {
			p.Scenarios[0].Steps[1].URL = "http://x/{{ .vars.item }}"
		}, `step 2: url: variable "item"`},
		{"unknown source", func(p *engine.Plan) { p.Scenarios[0].Steps[0].URL = "http://x/{{ .data.nope.user }}" }, `data source "nope" is not defined`},
		{"unknown column", func(p *engine.Plan) { p.Scenarios[0].Steps[0].URL = "http://x/{{ .data.users.email }}" }, `has no column "email" (columns: user, password)`},
		{"bad template", func(p *engine.Plan) { p.Scenarios[0].Steps[0].URL = "http://x/{{ .vars.x" }, "step 1: url:"},
		{"bad field", func(p *engine.Plan) { p.Scenarios[0].Steps[0].URL = "http://x/{{ .item }}" }, "templates read .vars.NAME"},
		{"two extract sources", func(p *engine.Plan) {
			p.Scenarios[0].Steps[1].Extract[0].Regex = "x"
		}, "give exactly one of json, regex, header, cookie"},
		{"bad regex", func(p *engine.Plan) {
			p.Scenarios[0].Steps[1].Extract[0] = engine.Extract{Var: "item", Regex: "(["}
		}, `regex "(["`},
		{"bad on_failure", func(p *engine.Plan) { p.Scenarios[0].Steps[0].Check.OnFailure = "explode" }, `"explode": want continue`},
		{"too few rows", func(p *engine.Plan) { p.Scenarios[0].Executor.VUs = 5 }, `data source "users" has 2 rows for 5 VUs`},
		{"bad mode", func(p *engine.Plan) { p.Data[0].Mode = "shuffle" }, `mode "shuffle"`},
		{"think range", func(p *engine.Plan) {
			p.Scenarios[0].Steps[0].Think = engine.Think{Min: time.Second, Max: time.Millisecond}
		}, "think"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := base()
			tc.edit(&p)
			_, err := engine.New(p)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want it to mention %q", err, tc.want)
			}
		})
	}
	// Environment variables are checked when the engine is given a lookup.
	p := base()
	p.Scenarios[0].Steps[0].Header = http.Header{"Authorization": {"Bearer {{ env \"FAYA_TEST_TOKEN\" }}"}}
	if _, err := engine.New(p, engine.WithEnv(func(string) (string, bool) { return "", false })); err == nil || !strings.Contains(err.Error(), "environment variable FAYA_TEST_TOKEN is not set") {
		t.Errorf("missing env: %v", err)
	}
	if _, err := engine.New(p, engine.WithEnv(func(string) (string, bool) { return "t", true })); err != nil {
		t.Errorf("env set: %v", err)
	}
}

// A step whose template fails at run time sends nothing: it is a failed
// check with the reason, not a request.
func TestRenderFailureIsNotARequest(t *testing.T) { forEachEngine(t, testRenderFailureIsNotARequest) }

func testRenderFailureIsNotARequest(t *testing.T, eng string) {
	srv := testserver.Start(t)
	p := engine.Plan{Engine: eng, Scenarios: []engine.Scenario{{
		Name:     "bad",
		Executor: engine.Executor{Type: engine.VUs, VUs: 2, Iterations: 6},
		Steps: []engine.Step{
			{Name: "broken", URL: srv.URL + "/items/{{ randInt 5 1 }}"},
			{Name: "after", URL: srv.URL + "/"},
		},
	}}}
	s := run(t, p).Total
	if s.Requests != 6 || srv.Stats().Requests != 6 || s.Errors != 0 || s.ChecksFailed != 6 || s.Iterations != 6 {
		t.Errorf("requests %d (server %d), errors %d, checks failed %d, iterations %d; want 6, 6, 0, 6, 6",
			s.Requests, srv.Stats().Requests, s.Errors, s.ChecksFailed, s.Iterations)
	}
	if st := s.Steps[0]; st.Requests != 0 || st.ChecksFailed != 6 || !strings.Contains(st.CheckFailure, "randInt 5 1") {
		t.Errorf("broken step: requests %d, checks failed %d, failure %q", st.Requests, st.ChecksFailed, st.CheckFailure)
	}
}

// A redirect to another host does not carry the credentials on.
func TestRedirectDropsCredentials(t *testing.T) { forEachEngine(t, testRedirectDropsCredentials) }

func testRedirectDropsCredentials(t *testing.T, eng string) {
	var mu sync.Mutex
	got := map[string]int{}
	land := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		got["auth="+r.Header.Get("Authorization")]++
		mu.Unlock()
	}))
	defer land.Close()
	from := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer secret" {
			t.Errorf("the first hop lost its Authorization")
		}
		http.Redirect(w, r, land.URL+"/land", http.StatusFound)
	}))
	defer from.Close()
	p := engine.Plan{Engine: eng, Scenarios: []engine.Scenario{{
		Name:     "redirect",
		Executor: engine.Executor{Type: engine.VUs, VUs: 1, Iterations: 3},
		Steps:    []engine.Step{{URL: from.URL + "/go", Header: http.Header{"Authorization": {"Bearer secret"}}}},
	}}}
	s := run(t, p).Total
	mu.Lock()
	defer mu.Unlock()
	if s.OK != 3 || s.Redirects != 3 || got["auth="] != 3 {
		t.Errorf("ok %d, redirects %d, the other host saw %v; want 3, 3 and no Authorization", s.OK, s.Redirects, got)
	}
}

// A JSON body's templated strings are escaped: users whose names hold a
// quote, a backslash and a newline log in with valid JSON, and /me gives
// each name back as it was. No Content-Type is given: the step's JSON sets
// application/json.
func TestJSONBodyEscapes(t *testing.T) { forEachEngine(t, testJSONBodyEscapes) }

func testJSONBodyEscapes(t *testing.T, eng string) {
	srv := testserver.Start(t)
	ds := engine.DataSource{Name: "users", Columns: []string{"user"}, Mode: engine.DataPerVU}
	for i := range 3 {
		ds.Rows = append(ds.Rows, []string{fmt.Sprintf("o\"brien\\%d\n", i)})
	}
	p := engine.Plan{Engine: eng, Data: []engine.DataSource{ds}, Scenarios: []engine.Scenario{{
		Name:     "json",
		Executor: engine.Executor{Type: engine.VUs, VUs: 3, Iterations: 9},
		Setup: []engine.Step{{Name: "login", Method: "POST", URL: srv.URL + "/login",
			JSON:  map[string]any{"user": "{{ .data.users.user }}", "password": "x", "tags": []any{"a", 1}},
			Check: engine.Check{Status: []int{200}}}},
		Steps: []engine.Step{{Name: "me", URL: srv.URL + "/me",
			Check: engine.Check{Status: []int{200}, JSON: map[string]string{"user": "{{ .data.users.user }}"}}}},
	}}}
	s := run(t, p).Total
	if st := srv.Stats(); st.Logins != 3 {
		t.Errorf("target: %d logins, want 3", st.Logins)
	}
	// Each iteration's two checks on /me, and each VU's login check.
	if s.ChecksFailed != 0 || s.ChecksPassed != 9*2+3 {
		t.Errorf("checks %d passed %d failed, want 21 passed", s.ChecksPassed, s.ChecksFailed)
	}
}

// A server that sets a new cookie in every answer: each VU's jar keeps 50
// for the domain, as a browser does, so requests stay small; the rest are
// counted as dropped.
func TestCookieLimit(t *testing.T) { forEachEngine(t, testCookieLimit) }

func testCookieLimit(t *testing.T, eng string) {
	var n atomic.Int64
	var sent atomic.Int64 // the most cookies a request carried
	url := httptestServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if c := int64(len(r.Cookies())); c > sent.Load() {
			sent.Store(c)
		}
		http.SetCookie(w, &http.Cookie{Name: fmt.Sprintf("c%d", n.Add(1)), Value: "v", Path: "/"})
	}))
	p := engine.Plan{Engine: eng, Scenarios: []engine.Scenario{{
		Name:     "jar",
		Executor: engine.Executor{Type: engine.VUs, VUs: 1, Iterations: 80},
		Steps:    []engine.Step{{Name: "get", URL: url + "/", Check: engine.Check{Status: []int{200}}}},
	}}}
	s := run(t, p).Total
	if s.OK != 80 {
		t.Fatalf("ok %d of 80 (errors %v)", s.OK, s.ErrExample)
	}
	if got := sent.Load(); got != 50 {
		t.Errorf("the most cookies a request carried: %d, want 50", got)
	}
	if s.CookiesDropped != 80-50 {
		t.Errorf("cookies dropped %d, want 30", s.CookiesDropped)
	}
}

// A step's own Cookie header and the VU's jar go out as one Cookie line
// ("user; jar", as Go's Request.AddCookie joins them), on each engine: a
// request never carries two Cookie headers (RFC 6265, 5.4).
func TestUserCookieJoinsJar(t *testing.T) { forEachEngine(t, testUserCookieJoinsJar) }

func testUserCookieJoinsJar(t *testing.T, eng string) {
	for _, proxied := range []bool{false, true} {
		t.Run(fmt.Sprintf("proxied=%v", proxied), func(t *testing.T) {
			var mu sync.Mutex
			var seen [][]string
			url := httptestServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				mu.Lock()
				seen = append(seen, r.Header.Values("Cookie"))
				mu.Unlock()
				http.SetCookie(w, &http.Cookie{Name: "sid", Value: "s1", Path: "/"})
			}))
			p := closedOn(eng, url+"/", 1, 1)
			if proxied {
				// A forwarding proxy: the request goes out in absolute form.
				p.Proxy.URLs = []string{testserver.StartHTTPProxy(t, testserver.ProxyOptions{}).URL}
			}
			own := http.Header{"Cookie": {"theme=dark"}}
			p.Scenarios[0].Steps = []engine.Step{{URL: url + "/a", Header: own}, {URL: url + "/b", Header: own}, {URL: url + "/c", Header: own}}
			if s := run(t, p).Total; s.OK != 3 {
				t.Fatalf("ok %d of %d (errors %v)", s.OK, s.Requests, s.ErrExample)
			}
			mu.Lock()
			defer mu.Unlock()
			want := [][]string{{"theme=dark"}, {"theme=dark; sid=s1"}, {"theme=dark; sid=s1"}}
			if fmt.Sprint(seen) != fmt.Sprint(want) {
				t.Errorf("Cookie headers the server saw per request: %q, want %q", seen, want)
			}
		})
	}
}
