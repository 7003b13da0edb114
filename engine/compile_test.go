package engine_test

import (
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/faya-load/faya/engine"
)

// A URL's user info is sent as Basic authorization, as curl and Go's
// http.Client send it: on a static URL, on a templated one whose user info
// comes before the template, and not when the step sets Authorization.
func TestURLUserInfoAuth(t *testing.T) { forEachEngine(t, testURLUserInfoAuth) }

func testURLUserInfoAuth(t *testing.T, eng string) {
	var mu sync.Mutex
	got := map[string]int{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		got[r.URL.Path+" "+r.Header.Get("Authorization")]++
		mu.Unlock()
	}))
	defer srv.Close()
	basic := func(up string) string { return "Basic " + base64.StdEncoding.EncodeToString([]byte(up)) }
	with := func(userinfo, path string) string {
		return strings.Replace(srv.URL, "http://", "http://"+userinfo+"@", 1) + path
	}
	p := engine.Plan{Engine: eng, Scenarios: []engine.Scenario{{
		Name:     "auth",
		Executor: engine.Executor{Type: engine.VUs, VUs: 1, Iterations: 2},
		Steps: []engine.Step{
			{URL: with("ann:pa%3Ass", "/static")},
			{URL: with("bob:pw", "/tpl/{{ .iter }}")},
			{URL: with("carl", "/nopw")},
			{URL: with("dan:pw", "/given"), Header: http.Header{"Authorization": {"Bearer t"}}},
			{URL: with("eve:pw", "/json"), JSON: map[string]any{"a": 1}},
		},
	}}}
	if s := run(t, p).Total; s.OK != 10 {
		t.Errorf("ok %d, want 10", s.OK)
	}
	mu.Lock()
	defer mu.Unlock()
	want := map[string]int{
		"/static " + basic("ann:pa:ss"): 2,
		"/tpl/1 " + basic("bob:pw"):     1,
		"/tpl/2 " + basic("bob:pw"):     1,
		"/nopw " + basic("carl:"):       2,
		"/given Bearer t":               2,
		"/json " + basic("eve:pw"):      2,
	}
	for k, n := range want {
		if got[k] != n {
			t.Errorf("server saw %q %d times, want %d (all: %v)", k, got[k], n, got)
		}
	}
}
