package session

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp/syntax"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/google/uuid"
)

func mustURL(t testing.TB, s string) *url.URL {
	t.Helper()
	u, err := url.Parse(s)
	if err != nil {
		t.Fatalf("url.Parse(%q): %v", s, err)
	}
	return u
}

func lines(ls ...string) [][]byte {
	out := make([][]byte, len(ls))
	for i, l := range ls {
		out[i] = []byte(l)
	}
	return out
}

// mapEnv is an Env over a map.
func mapEnv(m map[string]string) Env {
	return func(name string) (string, bool) {
		v, ok := m[name]
		return v, ok
	}
}

// --- Jar ---

func TestJarSetCookieLinesCookieHeader(t *testing.T) {
	type batch struct {
		from  string   // the response URL
		lines []string // its Set-Cookie lines
	}
	type want struct {
		to     string // the request URL
		header string // the Cookie header the jar gives it
	}
	tests := []struct {
		name    string
		batches []batch
		want    []want
	}{
		{
			name:    "host-only cookie: same host, not another host nor a subdomain",
			batches: []batch{{"http://example.com/login", []string{"sid=abc; Path=/"}}},
			want: []want{
				{"http://example.com/", "sid=abc"},
				{"http://example.com/deep/path?q=1", "sid=abc"},
				{"https://example.com/", "sid=abc"},
				{"http://other.com/", ""},
				{"http://www.example.com/", ""},
				{"http://notexample.com/", ""},
			},
		},
		{
			name:    "Domain attribute reaches subdomains",
			batches: []batch{{"http://www.example.com/", []string{"d=1; Domain=example.com; Path=/"}}},
			want: []want{
				{"http://example.com/", "d=1"},
				{"http://www.example.com/", "d=1"},
				{"http://api.www.example.com/x", "d=1"},
				{"http://example.org/", ""},
				{"http://badexample.com/", ""},
			},
		},
		{
			name:    "Domain of another site is rejected",
			batches: []batch{{"http://example.com/", []string{"x=1; Domain=other.com"}}},
			want: []want{
				{"http://other.com/", ""},
				{"http://example.com/", ""},
			},
		},
		{
			name:    "Path scoping",
			batches: []batch{{"http://example.com/", []string{"p=1; Path=/api"}}},
			want: []want{
				{"http://example.com/api", "p=1"},
				{"http://example.com/api/", "p=1"},
				{"http://example.com/api/items/1", "p=1"},
				{"http://example.com/", ""},
				{"http://example.com/apix", ""},
				{"http://example.com/other/api", ""},
			},
		},
		{
			name:    "default path is the directory of the response URL",
			batches: []batch{{"http://example.com/a/b/login", []string{"dp=1"}}},
			want: []want{
				{"http://example.com/a/b", "dp=1"},
				{"http://example.com/a/b/c", "dp=1"},
				{"http://example.com/a", ""},
				{"http://example.com/", ""},
			},
		},
		{
			name:    "public suffix co.uk is rejected as a Domain",
			batches: []batch{{"http://www.example.co.uk/", []string{"ps=1; Domain=co.uk; Path=/"}}},
			want: []want{
				{"http://www.example.co.uk/", ""},
				{"http://example.co.uk/", ""},
				{"http://other.co.uk/", ""},
			},
		},
		{
			name:    "public suffix com is rejected as a Domain",
			batches: []batch{{"http://www.example.com/", []string{"ps=1; Domain=com; Path=/"}}},
			want: []want{
				{"http://www.example.com/", ""},
				{"http://other.com/", ""},
			},
		},
		{
			name:    "registrable domain under a public suffix is accepted",
			batches: []batch{{"http://www.example.co.uk/", []string{"ok=1; Domain=example.co.uk; Path=/"}}},
			want: []want{
				{"http://shop.example.co.uk/", "ok=1"},
				{"http://example.co.uk/", "ok=1"},
				{"http://other.co.uk/", ""},
			},
		},
		{
			name:    "Secure cookie goes over https only",
			batches: []batch{{"https://example.com/", []string{"s=1; Secure; Path=/"}}},
			want: []want{
				{"https://example.com/", "s=1"},
				{"http://example.com/", ""},
			},
		},
		{
			name:    "several cookies, joined with semicolons, longest path first",
			batches: []batch{{"http://example.com/", []string{"a=1; Path=/", "b=2; Path=/", "c=3; Path=/api"}}},
			want: []want{
				{"http://example.com/", "a=1; b=2"},
				{"http://example.com/api/x", "c=3; a=1; b=2"},
			},
		},
		{
			name: "a later response overwrites and deletes cookies",
			batches: []batch{
				{"http://example.com/", []string{"a=1; Path=/", "b=2; Path=/"}},
				{"http://example.com/", []string{"a=9; Path=/", "b=; Path=/; Max-Age=0"}},
			},
			want: []want{{"http://example.com/", "a=9"}},
		},
		{
			name:    "expired cookie is not stored",
			batches: []batch{{"http://example.com/", []string{"old=1; Path=/; Expires=Thu, 01 Jan 1970 00:00:00 GMT"}}},
			want:    []want{{"http://example.com/", ""}},
		},
		{
			name:    "lines that do not parse are skipped, the others kept",
			batches: []batch{{"http://example.com/", []string{"", "novalue", "=1", "bad name=1", "good=yes; Path=/"}}},
			want:    []want{{"http://example.com/", "good=yes"}},
		},
		{
			name:    "only bad lines: nothing stored",
			batches: []batch{{"http://example.com/", []string{"", "   ", "novalue"}}},
			want:    []want{{"http://example.com/", ""}},
		},
		{
			name:    "IP host",
			batches: []batch{{"http://127.0.0.1:8080/", []string{"ip=1; Path=/"}}},
			want: []want{
				{"http://127.0.0.1:9090/", "ip=1"}, // cookies ignore the port
				{"http://127.0.0.2/", ""},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			j := NewJar()
			for _, b := range tt.batches {
				j.SetCookieLines(mustURL(t, b.from), lines(b.lines...))
			}
			for _, w := range tt.want {
				if got := j.CookieHeader(mustURL(t, w.to)); got != w.header {
					t.Errorf("CookieHeader(%s) = %q, want %q", w.to, got, w.header)
				}
				// Cookies must agree with CookieHeader.
				var parts []string
				for _, c := range j.Cookies(mustURL(t, w.to)) {
					parts = append(parts, c.Name+"="+c.Value)
				}
				if got := strings.Join(parts, "; "); got != w.header {
					t.Errorf("Cookies(%s) = %q, want %q", w.to, got, w.header)
				}
			}
		})
	}
}

func TestJarEmpty(t *testing.T) {
	j := NewJar()
	u := mustURL(t, "http://example.com/")
	if got := j.CookieHeader(u); got != "" {
		t.Errorf("CookieHeader of a new jar = %q, want empty", got)
	}
	if got := j.Cookies(u); got != nil {
		t.Errorf("Cookies of a new jar = %v, want nil", got)
	}
	if v, ok := j.Get(u, "sid"); ok || v != "" {
		t.Errorf("Get of a new jar = %q, %v, want \"\", false", v, ok)
	}
	// Setting no cookie leaves the jar empty (and not marked used).
	j.SetCookies(u, nil)
	j.SetCookieLines(u, nil)
	j.SetCookieLines(u, lines("garbage"))
	if j.any {
		t.Error("jar marked used after setting no cookie")
	}
	if got := j.CookieHeader(u); got != "" {
		t.Errorf("CookieHeader = %q, want empty", got)
	}
}

func TestJarGet(t *testing.T) {
	j := NewJar()
	j.SetCookieLines(mustURL(t, "http://example.com/"), lines(
		"sid=abc; Path=/",
		"csrf=tok-1; Path=/",
		"scoped=s; Path=/admin",
	))
	tests := []struct {
		url, name string
		want      string
		ok        bool
	}{
		{"http://example.com/", "sid", "abc", true},
		{"http://example.com/", "csrf", "tok-1", true},
		{"http://example.com/", "SID", "", false}, // names are case-sensitive
		{"http://example.com/", "missing", "", false},
		{"http://example.com/", "scoped", "", false},
		{"http://example.com/admin/users", "scoped", "s", true},
		{"http://other.com/", "sid", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.url+" "+tt.name, func(t *testing.T) {
			v, ok := j.Get(mustURL(t, tt.url), tt.name)
			if v != tt.want || ok != tt.ok {
				t.Errorf("Get = %q, %v, want %q, %v", v, ok, tt.want, tt.ok)
			}
		})
	}
}

func TestJarReset(t *testing.T) {
	u := mustURL(t, "http://example.com/")
	j := NewJar()
	j.Reset() // an empty jar: nothing to do
	if got := j.CookieHeader(u); got != "" {
		t.Fatalf("CookieHeader after Reset of an empty jar = %q", got)
	}
	j.SetCookieLines(u, lines("a=1; Path=/", "b=2; Path=/"))
	if got := j.CookieHeader(u); got != "a=1; b=2" {
		t.Fatalf("CookieHeader = %q, want %q", got, "a=1; b=2")
	}
	j.Reset()
	if got := j.CookieHeader(u); got != "" {
		t.Errorf("CookieHeader after Reset = %q, want empty", got)
	}
	if got := j.Cookies(u); len(got) != 0 {
		t.Errorf("Cookies after Reset = %v, want none", got)
	}
	if _, ok := j.Get(u, "a"); ok {
		t.Error("Get after Reset found a cookie")
	}
	// The jar still works after a Reset.
	j.SetCookieLines(u, lines("c=3; Path=/"))
	if got := j.CookieHeader(u); got != "c=3" {
		t.Errorf("CookieHeader after Reset and a new cookie = %q, want %q", got, "c=3")
	}
}

func TestJarCookieJarInterface(t *testing.T) {
	var _ http.CookieJar = NewJar()
	j := NewJar()
	if cj := j.CookieJar(); cj != http.CookieJar(j) {
		t.Fatalf("CookieJar() = %v, want the jar itself", cj)
	}
	u := mustURL(t, "http://example.com/app/")
	j.SetCookies(u, []*http.Cookie{
		{Name: "a", Value: "1", Path: "/"},
		{Name: "b", Value: "2"}, // default path /app
	})
	if got := j.CookieHeader(mustURL(t, "http://example.com/app/x")); got != "b=2; a=1" {
		t.Errorf("CookieHeader(/app/x) = %q, want %q (longest path first)", got, "b=2; a=1")
	}
	if got := j.CookieHeader(mustURL(t, "http://example.com/")); got != "a=1" {
		t.Errorf("CookieHeader(/) = %q, want %q", got, "a=1")
	}
	cs := j.Cookies(mustURL(t, "http://example.com/"))
	if len(cs) != 1 || cs[0].Name != "a" || cs[0].Value != "1" {
		t.Errorf("Cookies(/) = %v, want [a=1]", cs)
	}
}

// TestJarWithHTTPClient uses the jar as an http.Client's: the server sets
// a cookie on login and the client sends it back on the next request.
func TestJarWithHTTPClient(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/login":
			http.SetCookie(w, &http.Cookie{Name: "sid", Value: "s3cr3t", Path: "/"})
			http.Redirect(w, r, "/me", http.StatusFound)
		case "/me":
			c, err := r.Cookie("sid")
			if err != nil {
				http.Error(w, "no session", http.StatusUnauthorized)
				return
			}
			fmt.Fprint(w, "hello "+c.Value)
		}
	}))
	defer srv.Close()
	j := NewJar()
	client := &http.Client{Jar: j.CookieJar()}
	resp, err := client.Get(srv.URL + "/login")
	if err != nil {
		t.Fatal(err)
	}
	var body bytes.Buffer
	_, _ = body.ReadFrom(resp.Body)
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusOK || body.String() != "hello s3cr3t" {
		t.Fatalf("GET /login (redirected to /me) = %d %q, want 200 %q", resp.StatusCode, body.String(), "hello s3cr3t")
	}
	if v, ok := j.Get(mustURL(t, srv.URL+"/"), "sid"); !ok || v != "s3cr3t" {
		t.Errorf("Get(sid) = %q, %v, want s3cr3t, true", v, ok)
	}
}

// --- Templates ---

func TestParseStatic(t *testing.T) {
	for _, src := range []string{"", "plain", "/api/items?id=1", "}}", "{ {", "a{b}c", "{", "{ {x} }", "x}}{"} {
		t.Run(strconv.Quote(src), func(t *testing.T) {
			tp, refs, err := Parse("f", src, nil)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if !tp.Static() {
				t.Error("Static() = false, want true")
			}
			if len(refs) != 0 {
				t.Errorf("refs = %v, want none", refs)
			}
			if tp.String() != src {
				t.Errorf("String() = %q, want %q", tp.String(), src)
			}
			// A constant renders without a buffer or data.
			got, err := tp.Render(nil, nil)
			if err != nil || got != src {
				t.Errorf("Render = %q, %v, want %q, nil", got, err, src)
			}
		})
	}
}

func TestNilTemplate(t *testing.T) {
	var tp *Template
	if !tp.Static() {
		t.Error("nil template: Static() = false")
	}
	if tp.String() != "" {
		t.Errorf("nil template: String() = %q", tp.String())
	}
	if got, err := tp.Render(nil, nil); got != "" || err != nil {
		t.Errorf("nil template: Render = %q, %v", got, err)
	}
}

func TestParseRefs(t *testing.T) {
	tests := []struct {
		src  string
		want []Ref
	}{
		{`{{ .vars.token }}`, []Ref{{Kind: "vars", Name: "token"}}},
		{`Bearer {{.vars.token}}`, []Ref{{Kind: "vars", Name: "token"}}},
		{`{{ .data.users.name }}`, []Ref{{Kind: "data", Name: "users", Field: "name"}}},
		{`{{ env "API_KEY" }}`, []Ref{{Kind: "env", Name: "API_KEY"}}},
		{`{{ .vu }}-{{ .iter }}`, nil},
		{`{{ randInt 1 10 }} {{ uuid }}`, nil},
		{
			`/u/{{ .data.users.id }}?t={{ .vars.t }}&k={{ env "K" }}`,
			[]Ref{{Kind: "data", Name: "users", Field: "id"}, {Kind: "vars", Name: "t"}, {Kind: "env", Name: "K"}},
		},
		{
			`{{ if .vars.a }}{{ .vars.b }}{{ else }}{{ .data.s.c }}{{ end }}`,
			[]Ref{{Kind: "vars", Name: "a"}, {Kind: "vars", Name: "b"}, {Kind: "data", Name: "s", Field: "c"}},
		},
		{
			`{{ if eq .vars.a "x" }}{{ else if .vars.b }}{{ env "E" }}{{ end }}`,
			[]Ref{{Kind: "vars", Name: "a"}, {Kind: "vars", Name: "b"}, {Kind: "env", Name: "E"}},
		},
		{
			`{{ range .vars.list }}x{{ else }}{{ env "EMPTY" }}{{ end }}`,
			[]Ref{{Kind: "vars", Name: "list"}, {Kind: "env", Name: "EMPTY"}},
		},
		{
			`{{ with .vars.w }}{{ . }}{{ else }}{{ .data.d.f }}{{ end }}`,
			[]Ref{{Kind: "vars", Name: "w"}, {Kind: "data", Name: "d", Field: "f"}},
		},
		{
			`{{ .vars.a | printf "%s-%s" .vars.b }}`,
			[]Ref{{Kind: "vars", Name: "a"}, {Kind: "vars", Name: "b"}},
		},
		{`{{ printf "%s" (env "X") }}`, []Ref{{Kind: "env", Name: "X"}}},
		{`{{ printf "%s" (printf "%s" .vars.deep) }}`, []Ref{{Kind: "vars", Name: "deep"}}},
		{`{{ env .vars.name }}`, []Ref{{Kind: "vars", Name: "name"}}}, // not a constant name
		{`{{ .vars.a.b }}`, []Ref{{Kind: "vars", Name: "a"}}},
		{`{{ .data.s.c.d }}`, []Ref{{Kind: "data", Name: "s", Field: "c"}}},
		// Fields the data does not have.
		{`{{ .foo }}`, []Ref{{Kind: "field", Name: "foo"}}},
		{`{{ .vars }}`, []Ref{{Kind: "field", Name: "vars"}}},
		{`{{ .data.src }}`, []Ref{{Kind: "field", Name: "data.src"}}},
		{`{{ .foo.bar }}`, []Ref{{Kind: "field", Name: "foo.bar"}}},
		{`{{/* a comment */}}`, nil},
		// $ is the top-level data, also inside with and range.
		{`{{ $.vars.token }}`, []Ref{{Kind: "vars", Name: "token"}}},
		{`{{ with .vars.w }}{{ $.data.d.f }}{{ end }}`, []Ref{{Kind: "vars", Name: "w"}, {Kind: "data", Name: "d", Field: "f"}}},
		{`{{ $.vu }}`, nil},
		{`{{ $.nope }}`, []Ref{{Kind: "field", Name: "nope"}}},
		{`{{ $x := .vars.a }}{{ $x }}`, []Ref{{Kind: "vars", Name: "a"}}},
	}
	for _, tt := range tests {
		t.Run(tt.src, func(t *testing.T) {
			tp, refs, err := Parse("f", tt.src, nil)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if tp.Static() {
				t.Error("Static() = true for a template")
			}
			if tp.String() != tt.src {
				t.Errorf("String() = %q, want %q", tp.String(), tt.src)
			}
			if !slices.Equal(refs, tt.want) {
				t.Errorf("refs = %+v, want %+v", refs, tt.want)
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	for _, src := range []string{
		`{{ .vars.x `,
		`{{ .vars.x }`,
		`{{ end }}`,
		`{{ if .vars.a }}no end`,
		`{{ nosuchfunc }}`,
		`{{ if }}{{ end }}`,
		`{{ .vars.x ) }}`,
		`{{ | .vars.x }}`,
		`{{ "unterminated }}`,
	} {
		t.Run(src, func(t *testing.T) {
			tp, refs, err := Parse("header X-Token", src, nil)
			if err == nil {
				t.Fatalf("Parse(%q) = %v, %v, nil; want an error", src, tp, refs)
			}
			if tp != nil || refs != nil {
				t.Errorf("Parse returned %v, %v with the error", tp, refs)
			}
			if !strings.Contains(err.Error(), "header X-Token") {
				t.Errorf("error %q does not name the template", err)
			}
		})
	}
}

func TestNewData(t *testing.T) {
	d := NewData(3)
	if d["vu"] != 3 {
		t.Errorf("vu = %v, want 3", d["vu"])
	}
	if d["iter"] != int64(0) {
		t.Errorf("iter = %v (%T), want int64 0", d["iter"], d["iter"])
	}
	if d.Vars() == nil || len(d.Vars()) != 0 {
		t.Errorf("Vars() = %v, want an empty map", d.Vars())
	}
	if d.Rows() == nil || len(d.Rows()) != 0 {
		t.Errorf("Rows() = %v, want an empty map", d.Rows())
	}
	// The maps are the data's own: writes show through.
	d.Vars()["a"] = "1"
	d.Rows()["src"] = map[string]string{"c": "2"}
	if d.Vars()["a"] != "1" || d.Rows()["src"]["c"] != "2" {
		t.Error("writes to Vars() / Rows() are lost")
	}
	d.SetIter(9)
	if d["iter"] != int64(9) {
		t.Errorf("iter after SetIter(9) = %v", d["iter"])
	}
	// Two VUs do not share maps.
	if e := NewData(4); len(e.Vars()) != 0 || len(e.Rows()) != 0 {
		t.Error("a new Data sees another's vars or rows")
	}
}

func TestRender(t *testing.T) {
	env := mapEnv(map[string]string{"HOST": "api.test", "EMPTY": ""})
	tests := []struct {
		name  string
		src   string
		vu    int
		setup func(Data)
		want  string
	}{
		{"vu", `vu={{ .vu }}`, 7, nil, "vu=7"},
		{"iter default", `{{ .iter }}`, 1, nil, "0"},
		{"iter after SetIter", `{{ .vu }}/{{ .iter }}`, 2, func(d Data) { d.SetIter(42) }, "2/42"},
		{"var", `Bearer {{ .vars.token }}`, 1, func(d Data) { d.Vars()["token"] = "abc.def" }, "Bearer abc.def"},
		{"missing var is empty", `Bearer {{ .vars.token }}`, 1, nil, "Bearer "},
		{"data row", `/users/{{ .data.users.id }}?n={{ .data.users.name }}`, 1, func(d Data) {
			d.Rows()["users"] = map[string]string{"id": "17", "name": "ann"}
		}, "/users/17?n=ann"},
		{"missing data source is empty", `[{{ .data.nope.col }}]`, 1, nil, "[]"},
		{"missing data column is empty", `[{{ .data.users.nope }}]`, 1, func(d Data) {
			d.Rows()["users"] = map[string]string{"id": "1"}
		}, "[]"},
		{"env", `https://{{ env "HOST" }}/x`, 1, nil, "https://api.test/x"},
		{"env set to empty", `[{{ env "EMPTY" }}]`, 1, nil, "[]"},
		{"if true", `{{ if .vars.a }}yes{{ else }}no{{ end }}`, 1, func(d Data) { d.Vars()["a"] = "x" }, "yes"},
		{"if false", `{{ if .vars.a }}yes{{ else }}no{{ end }}`, 1, nil, "no"},
		{"with", `{{ with .vars.a }}<{{ . }}>{{ end }}`, 1, func(d Data) { d.Vars()["a"] = "v" }, "<v>"},
		{"pipeline", `{{ .vars.a | printf "%q" }}`, 1, func(d Data) { d.Vars()["a"] = `x"y` }, `"x\"y"`},
		{"no HTML escaping", `{{ .vars.a }}`, 1, func(d Data) { d.Vars()["a"] = `<a href="x">&</a>` }, `<a href="x">&</a>`},
		{"randInt with equal bounds", `{{ randInt 5 5 }}`, 1, nil, "5"},
		{"JSON body", `{"user":"{{ .data.u.name }}","vu":{{ .vu }}}`, 3, func(d Data) {
			d.Rows()["u"] = map[string]string{"name": "bob"}
		}, `{"user":"bob","vu":3}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tp, _, err := Parse(tt.name, tt.src, env)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			d := NewData(tt.vu)
			if tt.setup != nil {
				tt.setup(d)
			}
			var buf bytes.Buffer
			buf.WriteString("stale contents")
			got, err := tp.Render(&buf, d)
			if err != nil {
				t.Fatalf("Render: %v", err)
			}
			if got != tt.want {
				t.Errorf("Render = %q, want %q", got, tt.want)
			}
		})
	}
}

// TestRenderReusesData renders one template against data updated in place
// and one buffer: each render sees the current data, and an earlier result
// is not overwritten by a later render.
func TestRenderReusesData(t *testing.T) {
	tp, _, err := Parse("url", `/items/{{ .vars.id }}?i={{ .iter }}`, nil)
	if err != nil {
		t.Fatal(err)
	}
	d := NewData(1)
	var buf bytes.Buffer
	var got []string
	for i := int64(1); i <= 3; i++ {
		d.SetIter(i)
		d.Vars()["id"] = strconv.Itoa(int(i) * 10)
		s, err := tp.Render(&buf, d)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, s)
	}
	want := []string{"/items/10?i=1", "/items/20?i=2", "/items/30?i=3"}
	if !slices.Equal(got, want) {
		t.Errorf("renders = %q, want %q", got, want)
	}
}

func TestRenderErrors(t *testing.T) {
	tests := []struct {
		name    string
		src     string
		env     Env
		wantErr string
	}{
		{"env missing", `{{ env "NOPE" }}`, mapEnv(map[string]string{"OTHER": "1"}), "environment variable NOPE is not set"},
		{"env with nil Env", `{{ env "HOME" }}`, nil, "environment variable HOME is not set"},
		{"randInt bounds reversed", `{{ randInt 10 1 }}`, nil, "randInt 10 1: the second bound is below the first"},
		{"randInt not a number", `{{ randInt "a" 1 }}`, nil, "randInt"},
		{"field of a string", `{{ .vars.a.b }}`, nil, "can't evaluate field b"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tp, _, err := Parse(tt.name, tt.src, tt.env)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			d := NewData(1)
			d.Vars()["a"] = "str"
			got, err := tp.Render(&bytes.Buffer{}, d)
			if err == nil {
				t.Fatalf("Render = %q, nil; want an error", got)
			}
			if got != "" {
				t.Errorf("Render returned %q with the error", got)
			}
			if !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("error %q does not contain %q", err, tt.wantErr)
			}
		})
	}
}

func TestRandInt(t *testing.T) {
	tests := []struct {
		lo, hi int
		n      int  // renders
		all    bool // every value in [lo, hi] must come up
	}{
		{1, 6, 2000, true},
		{0, 1, 500, true},
		{-5, -1, 1000, true},
		{-3, 3, 1000, true},
		{7, 7, 50, true},
		{1, 1_000_000, 1000, false},
		// The widest bounds: hi-lo+1 overflows int.
		{0, math.MaxInt, 200, false},
		{math.MinInt, math.MaxInt, 200, false},
		{math.MinInt, -1, 200, false},
		{math.MinInt, math.MinInt, 10, true},
		{math.MaxInt, math.MaxInt, 10, true},
	}
	for _, tt := range tests {
		src := fmt.Sprintf("{{ randInt %d %d }}", tt.lo, tt.hi)
		t.Run(src, func(t *testing.T) {
			tp, _, err := Parse("r", src, nil)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			d := NewData(1)
			var buf bytes.Buffer
			seen := map[int]bool{}
			for range tt.n {
				s, err := tp.Render(&buf, d)
				if err != nil {
					t.Fatalf("Render: %v", err)
				}
				v, err := strconv.Atoi(s)
				if err != nil {
					t.Fatalf("Render = %q, not an integer", s)
				}
				if v < tt.lo || v > tt.hi {
					t.Fatalf("randInt %d %d = %d, out of range", tt.lo, tt.hi, v)
				}
				seen[v] = true
			}
			if tt.all && len(seen) != tt.hi-tt.lo+1 {
				t.Errorf("%d renders gave %d distinct values, want all %d", tt.n, len(seen), tt.hi-tt.lo+1)
			}
			if !tt.all && tt.hi-tt.lo > 1000 && len(seen) < tt.n/2 {
				t.Errorf("%d renders over a wide range gave only %d distinct values", tt.n, len(seen))
			}
		})
	}
}

func TestUUID(t *testing.T) {
	tp, _, err := Parse("id", `{{ uuid }} {{ uuid }}`, nil)
	if err != nil {
		t.Fatal(err)
	}
	d := NewData(1)
	var buf bytes.Buffer
	seen := map[string]bool{}
	for range 500 {
		s, err := tp.Render(&buf, d)
		if err != nil {
			t.Fatal(err)
		}
		parts := strings.Split(s, " ")
		if len(parts) != 2 {
			t.Fatalf("Render = %q, want two UUIDs", s)
		}
		for _, p := range parts {
			id, err := uuid.Parse(p)
			if err != nil {
				t.Fatalf("uuid %q: %v", p, err)
			}
			if len(p) != 36 || id.String() != p {
				t.Fatalf("uuid %q is not in canonical form", p)
			}
			if id.Version() != 4 || id.Variant() != uuid.RFC4122 {
				t.Fatalf("uuid %q: version %v variant %v, want a random (v4) RFC 4122 UUID", p, id.Version(), id.Variant())
			}
			if seen[p] {
				t.Fatalf("uuid %q came up twice", p)
			}
			seen[p] = true
		}
	}
}

// --- JSON paths ---

func TestJSONPath(t *testing.T) {
	tests := []struct{ in, want string }{
		{"$.a.b[0].c", "a.b.0.c"},
		{"$.items[0].id", "items.0.id"},
		{"$.items[12].tags[3]", "items.12.tags.3"},
		{"$.a", "a"},
		{"$a", "a"},
		{"$[0]", "0"},
		{"$[0].name", "0.name"},
		{"a[0][1]", "a.0.1"},
		{"$.a[0][1].b", "a.0.1.b"},
		{".a.b", "a.b"},
		{"$", ""},
		{"", ""},
		// gjson paths are kept.
		{"a.b.0.c", "a.b.0.c"},
		{"items.0.id", "items.0.id"},
		{"token", "token"},
		{"items.#", "items.#"},
		{"items.#.id", "items.#.id"},
		{`friends.#(last=="Murphy").first`, `friends.#(last=="Murphy").first`},
		{`a\.b`, `a\.b`},
		{"a.*.c", "a.*.c"},
		{"a?c", "a?c"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			if got := JSONPath(tt.in); got != tt.want {
				t.Errorf("JSONPath(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

// --- Response ---

func TestResponseHeaderValue(t *testing.T) {
	r := &Response{Header: [][2]string{
		{"Content-Type", "application/json"},
		{"X-Request-Id", "first"},
		{"x-request-id", "second"},
		{"Empty", ""},
	}}
	tests := []struct {
		name, want string
		ok         bool
	}{
		{"Content-Type", "application/json", true},
		{"content-type", "application/json", true},
		{"CONTENT-TYPE", "application/json", true},
		{"X-Request-ID", "first", true}, // the first of two
		{"Empty", "", true},
		{"Missing", "", false},
		{"", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, ok := r.HeaderValue(tt.name)
			if v != tt.want || ok != tt.ok {
				t.Errorf("HeaderValue(%q) = %q, %v, want %q, %v", tt.name, v, ok, tt.want, tt.ok)
			}
		})
	}
}

func TestResponseReset(t *testing.T) {
	r := &Response{
		Status: 200,
		Header: make([][2]string, 0, 8),
		Body:   make([]byte, 0, 64),
		URL:    mustURL(t, "http://example.com/"),
	}
	r.Header = append(r.Header, [2]string{"A", "1"})
	r.Body = append(r.Body, "body"...)
	r.Reset()
	if r.Status != 0 || r.URL != nil || len(r.Header) != 0 || len(r.Body) != 0 {
		t.Errorf("after Reset: %+v, want empty", r)
	}
	if cap(r.Header) != 8 || cap(r.Body) != 64 {
		t.Errorf("Reset dropped storage: cap(Header)=%d cap(Body)=%d", cap(r.Header), cap(r.Body))
	}
	if _, ok := r.HeaderValue("A"); ok {
		t.Error("HeaderValue finds a header after Reset")
	}
	var zero Response
	zero.Reset() // nil slices: no panic
}

// --- Extract ---

func TestExtractCompileErrors(t *testing.T) {
	tests := []struct {
		name    string
		e       Extract
		wantErr string
	}{
		{"no source", Extract{Var: "v"}, "exactly one"},
		{"json and regex", Extract{Var: "v", JSON: "a", Regex: "b"}, "exactly one"},
		{"header and cookie", Extract{Var: "v", Header: "X", Cookie: "c"}, "exactly one"},
		{"all four", Extract{Var: "v", JSON: "a", Regex: "b", Header: "X", Cookie: "c"}, "exactly one"},
		{"bad regex", Extract{Var: "v", Regex: `id=(\d+`}, `regex "id=(\\d+"`},
		{"bad regex repeat", Extract{Var: "v", Regex: `*x`}, "regex"},
		{"json root only", Extract{Var: "v", JSON: "$"}, "not a valid path"},
		{"json root dot", Extract{Var: "v", JSON: "$."}, "not a valid path"},
		{"json with a space", Extract{Var: "v", JSON: "$.a b"}, "not a valid path"},
		{"json with a tab", Extract{Var: "v", JSON: "a\tb"}, "not a valid path"},
		{"json with a newline", Extract{Var: "v", JSON: "a\n"}, "not a valid path"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.e.Compile()
			if err == nil {
				t.Fatal("Compile = nil, want an error")
			}
			if !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("Compile = %q, want it to contain %q", err, tt.wantErr)
			}
		})
	}
	// A bad regex wraps the regexp error.
	e := Extract{Var: "v", Regex: "("}
	var se *syntax.Error
	if err := e.Compile(); !errors.As(err, &se) {
		t.Errorf("Compile(%q) = %v, want a *syntax.Error inside", e.Regex, err)
	}
}

func TestExtractCompileNeeds(t *testing.T) {
	tests := []struct {
		name         string
		e            Extract
		body, header bool
	}{
		{"json", Extract{Var: "v", JSON: "$.a[0]"}, true, false},
		{"regex", Extract{Var: "v", Regex: `(\d+)`}, true, false},
		{"header", Extract{Var: "v", Header: "Location"}, false, true},
		{"cookie", Extract{Var: "v", Cookie: "sid"}, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.e.Compile(); err != nil {
				t.Fatalf("Compile: %v", err)
			}
			body, header := tt.e.Needs()
			if body != tt.body || header != tt.header {
				t.Errorf("Needs = %v, %v, want %v, %v", body, header, tt.body, tt.header)
			}
		})
	}
}

func TestExtractApply(t *testing.T) {
	site := mustURL(t, "http://example.com/app/login")
	jar := NewJar()
	jar.SetCookieLines(site, lines("sid=abc123; Path=/", "admin=1; Path=/admin"))
	items := []byte(`{"token":"t0k","n":42,"f":1.5,"ok":true,"nil":null,"empty":"",` +
		`"items":[{"id":7,"name":"a"},{"id":8,"name":"b"}],"obj":{"a":1}}`)
	html := []byte(`<input name="csrf" value="c5rf"><a id="42">user=ann; role=admin</a>`)
	tests := []struct {
		name    string
		e       Extract
		r       Response
		jar     *Jar
		want    string
		noMatch bool
	}{
		{"json string", Extract{JSON: "token"}, Response{Body: items}, nil, "t0k", false},
		{"json number", Extract{JSON: "n"}, Response{Body: items}, nil, "42", false},
		{"json float", Extract{JSON: "$.f"}, Response{Body: items}, nil, "1.5", false},
		{"json bool", Extract{JSON: "ok"}, Response{Body: items}, nil, "true", false},
		{"json empty string", Extract{JSON: "empty"}, Response{Body: items}, nil, "", false},
		{"json null exists", Extract{JSON: "nil"}, Response{Body: items}, nil, "", false},
		{"json $ path into an array", Extract{JSON: "$.items[1].id"}, Response{Body: items}, nil, "8", false},
		{"json gjson path into an array", Extract{JSON: "items.0.name"}, Response{Body: items}, nil, "a", false},
		{"json object is raw", Extract{JSON: "obj"}, Response{Body: items}, nil, `{"a":1}`, false},
		{"json array length", Extract{JSON: "items.#"}, Response{Body: items}, nil, "2", false},
		{"json missing key", Extract{JSON: "nope"}, Response{Body: items}, nil, "", true},
		{"json index out of range", Extract{JSON: "$.items[5].id"}, Response{Body: items}, nil, "", true},
		{"json not JSON", Extract{JSON: "a"}, Response{Body: []byte("<html>")}, nil, "", true},
		{"json empty body", Extract{JSON: "a"}, Response{}, nil, "", true},
		{"regex first group", Extract{Regex: `value="([^"]+)"`}, Response{Body: html}, nil, "c5rf", false},
		{"regex first of two groups", Extract{Regex: `(\w+)=(\w+)`}, Response{Body: html}, nil, "user", false},
		{"regex named group", Extract{Regex: `id="(?P<id>\d+)"`}, Response{Body: html}, nil, "42", false},
		{"regex non-capturing then capturing", Extract{Regex: `(?:role)=(\w+)`}, Response{Body: html}, nil, "admin", false},
		{"regex whole match without a group", Extract{Regex: `\d\d+`}, Response{Body: html}, nil, "42", false},
		{"regex group that did not take part", Extract{Regex: `user=(x)?`}, Response{Body: html}, nil, "", false},
		{"regex no match", Extract{Regex: `token=(\w+)`}, Response{Body: html}, nil, "", true},
		{"header", Extract{Header: "Location"}, Response{Header: [][2]string{{"Location", "/home"}}}, nil, "/home", false},
		{"header any case", Extract{Header: "x-csrf-token"}, Response{Header: [][2]string{{"Date", "x"}, {"X-CSRF-Token", "h"}}}, nil, "h", false},
		{"header missing", Extract{Header: "Location"}, Response{Header: [][2]string{{"Date", "x"}}}, nil, "", true},
		{"cookie", Extract{Cookie: "sid"}, Response{URL: site}, jar, "abc123", false},
		{"cookie out of path", Extract{Cookie: "admin"}, Response{URL: site}, jar, "", true},
		{"cookie in path", Extract{Cookie: "admin"}, Response{URL: mustURL(t, "http://example.com/admin/x")}, jar, "1", false},
		{"cookie other host", Extract{Cookie: "sid"}, Response{URL: mustURL(t, "http://other.com/")}, jar, "", true},
		{"cookie missing", Extract{Cookie: "nope"}, Response{URL: site}, jar, "", true},
		{"cookie without a URL", Extract{Cookie: "sid"}, Response{}, jar, "", true},
		{"cookie without a jar", Extract{Cookie: "sid"}, Response{URL: site}, nil, "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := tt.e
			e.Var = "v"
			if err := e.Compile(); err != nil {
				t.Fatalf("Compile: %v", err)
			}
			vars := map[string]string{"v": "stale", "other": "kept"}
			err := e.Apply(&tt.r, tt.jar, vars)
			if got, ok := vars["v"]; !ok || got != tt.want {
				t.Errorf("vars[v] = %q (set %v), want %q", got, ok, tt.want)
			}
			if vars["other"] != "kept" {
				t.Error("Apply changed another variable")
			}
			switch {
			case tt.noMatch && err == nil:
				t.Error("Apply = nil, want a no-match error")
			case tt.noMatch && !errors.Is(err, ErrNoMatch):
				t.Errorf("Apply = %v, want it to wrap ErrNoMatch", err)
			case tt.noMatch && !strings.Contains(err.Error(), "extract v"):
				t.Errorf("Apply = %q, want it to name the variable", err)
			case !tt.noMatch && err != nil:
				t.Errorf("Apply = %v, want nil", err)
			}
		})
	}
}

// TestExtractCookieAfterResponse follows a VU's flow: the response's
// Set-Cookie lines go into the jar, then the extraction reads the cookie.
func TestExtractCookieAfterResponse(t *testing.T) {
	jar := NewJar()
	r := &Response{
		Status: 302,
		Header: [][2]string{{"Set-Cookie", "session=s-1; Path=/; HttpOnly"}, {"Location", "/me"}},
		URL:    mustURL(t, "http://shop.example.co.uk/login"),
	}
	var set [][]byte
	for _, h := range r.Header {
		if strings.EqualFold(h[0], "Set-Cookie") {
			set = append(set, []byte(h[1]))
		}
	}
	jar.SetCookieLines(r.URL, set)
	e := &Extract{Var: "session", Cookie: "session"}
	if err := e.Compile(); err != nil {
		t.Fatal(err)
	}
	vars := map[string]string{}
	if err := e.Apply(r, jar, vars); err != nil {
		t.Fatalf("Apply: %v", err)
	}
	if vars["session"] != "s-1" {
		t.Errorf("session = %q, want s-1", vars["session"])
	}
	// The variable then feeds a template.
	tp, refs, err := Parse("header Authorization", "Session {{ .vars.session }}", nil)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(refs, []Ref{{Kind: "vars", Name: "session"}}) {
		t.Errorf("refs = %v", refs)
	}
	d := NewData(1)
	for k, v := range vars {
		d.Vars()[k] = v
	}
	if got, err := tp.Render(&bytes.Buffer{}, d); err != nil || got != "Session s-1" {
		t.Errorf("Render = %q, %v, want %q", got, err, "Session s-1")
	}
}

// --- Check ---

func mustTemplate(t testing.TB, src string, env Env) *Template {
	t.Helper()
	tp, _, err := Parse("want", src, env)
	if err != nil {
		t.Fatalf("Parse(%q): %v", src, err)
	}
	return tp
}

func TestCheckCompile(t *testing.T) {
	tests := []struct {
		name    string
		paths   []string
		wantErr string
	}{
		{"none", nil, ""},
		{"valid", []string{"a.b", "$.items[0].id", "items.#"}, ""},
		{"root only", []string{"$"}, `check json "$" is not a valid path`},
		{"empty", []string{""}, `check json "" is not a valid path`},
		{"space", []string{"a b"}, `check json "a b" is not a valid path`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := &Check{}
			if tt.paths != nil {
				c.JSON = map[string]*Template{}
				for _, p := range tt.paths {
					c.JSON[p] = mustTemplate(t, "x", nil)
				}
			}
			err := c.Compile()
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("Compile = %v, want nil", err)
				}
				for _, p := range tt.paths {
					if c.paths[p] != JSONPath(p) {
						t.Errorf("compiled path of %q = %q, want %q", p, c.paths[p], JSONPath(p))
					}
				}
				return
			}
			if err == nil || err.Error() != tt.wantErr {
				t.Errorf("Compile = %v, want %q", err, tt.wantErr)
			}
		})
	}
}

func TestCheckEmptyNeeds(t *testing.T) {
	tests := []struct {
		name         string
		c            Check
		empty, needs bool
	}{
		{"zero", Check{}, true, false},
		{"empty slices", Check{Status: []int{}, BodyContains: []string{}, JSON: map[string]*Template{}}, true, false},
		{"status", Check{Status: []int{200}}, false, false},
		{"body", Check{BodyContains: []string{"ok"}}, false, true},
		{"json", Check{JSON: map[string]*Template{"a": nil}}, false, true},
		{"all", Check{Status: []int{200}, BodyContains: []string{"ok"}, JSON: map[string]*Template{"a": nil}}, false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.c.Empty(); got != tt.empty {
				t.Errorf("Empty = %v, want %v", got, tt.empty)
			}
			if got := tt.c.Needs(); got != tt.needs {
				t.Errorf("Needs = %v, want %v", got, tt.needs)
			}
		})
	}
}

func TestCheckApply(t *testing.T) {
	env := mapEnv(map[string]string{"EXPECT": "ann"})
	body := []byte(`{"user":"ann","ok":true,"n":42,"empty":"","items":[{"id":3}],"msg":"logged in"}`)
	type jsonWant map[string]string // path -> template source
	tests := []struct {
		name           string
		status         []int
		contains       []string
		json           jsonWant
		r              Response
		setup          func(Data)
		passed, failed int
		failure        string
	}{
		{name: "nothing to check", r: Response{Status: 500}},
		{name: "status in a set", status: []int{200, 201}, r: Response{Status: 201}, passed: 1},
		{
			name: "status not in a set", status: []int{200, 201}, r: Response{Status: 404},
			failed: 1, failure: "status 404, want [200 201]",
		},
		{
			name: "status of no response", status: []int{200}, r: Response{},
			failed: 1, failure: "status 0, want [200]",
		},
		{name: "body contains all", contains: []string{"logged in", `"ok":true`}, r: Response{Body: body}, passed: 2},
		{
			name: "body misses one", contains: []string{"logged in", "welcome", "nope"}, r: Response{Body: body},
			passed: 1, failed: 2, failure: `body does not contain "welcome"`,
		},
		{name: "body contains the empty string", contains: []string{""}, r: Response{}, passed: 1},
		{
			name: "status fails first", status: []int{200}, contains: []string{"welcome"}, r: Response{Status: 500, Body: body},
			failed: 2, failure: "status 500, want [200]",
		},
		{
			name: "body fails before json", status: []int{200}, contains: []string{"welcome"}, json: jsonWant{"user": "bob"},
			r: Response{Status: 200, Body: body}, passed: 1, failed: 2, failure: `body does not contain "welcome"`,
		},
		{name: "json constant string", json: jsonWant{"user": "ann"}, r: Response{Body: body}, passed: 1},
		{name: "json bool and number", json: jsonWant{"ok": "true", "n": "42"}, r: Response{Body: body}, passed: 2},
		{name: "json $ path", json: jsonWant{"$.items[0].id": "3"}, r: Response{Body: body}, passed: 1},
		{name: "json empty string exists", json: jsonWant{"empty": ""}, r: Response{Body: body}, passed: 1},
		{
			name: "json missing path fails even for an empty want", json: jsonWant{"missing": ""}, r: Response{Body: body},
			failed: 1, failure: `json missing = "", want ""`,
		},
		{
			name: "json wrong value", json: jsonWant{"user": "bob"}, r: Response{Body: body},
			failed: 1, failure: `json user = "ann", want "bob"`,
		},
		{
			name: "json number is compared as text", json: jsonWant{"n": "42.0"}, r: Response{Body: body},
			failed: 1, failure: `json n = "42", want "42.0"`,
		},
		{
			name: "json template from a var", json: jsonWant{"user": "{{ .vars.who }}"}, r: Response{Body: body},
			setup: func(d Data) { d.Vars()["who"] = "ann" }, passed: 1,
		},
		{
			name: "json template from a var fails", json: jsonWant{"user": "{{ .vars.who }}"}, r: Response{Body: body},
			setup: func(d Data) { d.Vars()["who"] = "bob" }, failed: 1, failure: `json user = "ann", want "bob"`,
		},
		{
			name: "json template from vu and data", json: jsonWant{"$.items[0].id": "{{ .vu }}", "user": "{{ .data.u.name }}"},
			r: Response{Body: body}, setup: func(d Data) { d.Rows()["u"] = map[string]string{"name": "ann"} }, passed: 2,
		},
		{name: "json template from env", json: jsonWant{"user": `{{ env "EXPECT" }}`}, r: Response{Body: body}, passed: 1},
		{
			name: "json template that does not render fails", json: jsonWant{"user": `{{ env "NOPE" }}`}, r: Response{Body: body},
			failed: 1, failure: `json user = "ann", want ""`,
		},
		{
			name: "json on a body that is not JSON", json: jsonWant{"user": "ann"}, r: Response{Body: []byte("<html>")},
			failed: 1, failure: `json user = "", want "ann"`,
		},
		{
			name: "json failure quotes the values", json: jsonWant{"msg": "a \"b\"\n"}, r: Response{Body: body},
			failed: 1, failure: `json msg = "logged in", want "a \"b\"\n"`,
		},
		{
			name: "all pass", status: []int{200}, contains: []string{"ann"}, json: jsonWant{"ok": "true", "user": "ann"},
			r: Response{Status: 200, Body: body}, passed: 4,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := &Check{Status: tt.status, BodyContains: tt.contains}
			if tt.json != nil {
				c.JSON = map[string]*Template{}
				for p, src := range tt.json {
					c.JSON[p] = mustTemplate(t, src, env)
				}
			}
			if err := c.Compile(); err != nil {
				t.Fatalf("Compile: %v", err)
			}
			d := NewData(3)
			if tt.setup != nil {
				tt.setup(d)
			}
			passed, failed, failure := c.Apply(&tt.r, &bytes.Buffer{}, d)
			if passed != tt.passed || failed != tt.failed {
				t.Errorf("Apply counts passed=%d failed=%d, want passed=%d failed=%d", passed, failed, tt.passed, tt.failed)
			}
			if failure != tt.failure {
				t.Errorf("failure = %q, want %q", failure, tt.failure)
			}
			checks := len(tt.contains) + len(tt.json)
			if len(tt.status) > 0 {
				checks++ // a status set is one check
			}
			if got := passed + failed; got != checks {
				t.Errorf("passed+failed = %d, want %d, one per check", got, checks)
			}
		})
	}
}

// TestCheckApplyRepeated applies one compiled check many times with one
// buffer, as a VU does, with data that changes between responses.
func TestCheckApplyRepeated(t *testing.T) {
	c := &Check{Status: []int{200}, JSON: map[string]*Template{"id": mustTemplate(t, "{{ .iter }}", nil)}}
	if err := c.Compile(); err != nil {
		t.Fatal(err)
	}
	d := NewData(1)
	var buf bytes.Buffer
	for i := int64(1); i <= 5; i++ {
		d.SetIter(i)
		r := &Response{Status: 200, Body: fmt.Appendf(nil, `{"id":%d}`, i)}
		if p, f, msg := c.Apply(r, &buf, d); p != 2 || f != 0 {
			t.Fatalf("iteration %d: passed=%d failed=%d (%s), want 2, 0", i, p, f, msg)
		}
		r.Body = fmt.Appendf(nil, `{"id":%d}`, i+1)
		if p, f, msg := c.Apply(r, &buf, d); p != 1 || f != 1 || msg != fmt.Sprintf(`json id = "%d", want "%d"`, i+1, i) {
			t.Fatalf("iteration %d, wrong id: passed=%d failed=%d %q", i, p, f, msg)
		}
	}
}

// --- Fuzz ---

// FuzzParse parses and renders any source: errors are fine, panics are
// not, and what parses behaves as the package says.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"", "plain", "{{", "}}", "{{ }}", "{{ .vars.x }}", "{{ .data.s.c }}", "{{ .vu }}/{{ .iter }}",
		`{{ env "HOME" }}`, `{{ env "NOPE" }}`, `{{ env .vars.x }}`, "{{ randInt 1 10 }}", "{{ randInt 10 1 }}",
		"{{ randInt -9223372036854775808 9223372036854775807 }}", "{{ uuid }}",
		"{{ if .vars.a }}a{{ else }}b{{ end }}", "{{ range .vars }}{{ . }}{{ end }}",
		"{{ with .data.s }}{{ .c }}{{ end }}", `{{ printf "%s" (env "X") }}`, "{{ .foo.bar }}",
		`{{ define "a" }}{{ template "a" }}{{ end }}{{ template "a" }}`, "{{ $x := 1 }}{{ $x }}",
		"{{/* c */}}", "{{- .vu -}}", "{{ .vars.x | len }}", "{{ index .vars \"x\" }}", "{{ nil }}",
		"{{ call .vars }}", "{{ block \"b\" . }}{{ .vu }}{{ end }}",
	} {
		f.Add(s)
	}
	env := mapEnv(map[string]string{"HOME": "/home/vu", "X": "x"})
	kinds := []string{"vars", "data", "env", "field"}
	f.Fuzz(func(t *testing.T, src string) {
		tp, refs, err := Parse("fuzz", src, env)
		if err != nil {
			if tp != nil || refs != nil {
				t.Fatalf("Parse(%q) returned a template or refs with error %v", src, err)
			}
			return
		}
		if tp.String() != src {
			t.Fatalf("String() = %q, want %q", tp.String(), src)
		}
		if !strings.Contains(src, "{{") && (!tp.Static() || refs != nil) {
			t.Fatalf("Parse(%q): a source without {{ is not a constant", src)
		}
		for _, r := range refs {
			if !slices.Contains(kinds, r.Kind) {
				t.Fatalf("Parse(%q): ref %+v of an unknown kind", src, r)
			}
			if r.Kind == "data" && r.Field == "" {
				t.Fatalf("Parse(%q): data ref %+v without a column", src, r)
			}
		}
		// Ranging over an integer constant can run (and allocate) for
		// as long as it likes: that is the author's loop, not a bug.
		if strings.Contains(src, "range") && strings.ContainsAny(src, "0123456789") {
			return
		}
		d := NewData(2)
		d.SetIter(5)
		d.Vars()["x"] = "X"
		d.Vars()["a"] = ""
		d.Rows()["s"] = map[string]string{"c": "C"}
		var buf bytes.Buffer
		out, err := tp.Render(&buf, d)
		if err != nil {
			if out != "" {
				t.Fatalf("Render(%q) = %q with error %v", src, out, err)
			}
			return
		}
		if tp.Static() && out != src {
			t.Fatalf("constant %q rendered as %q", src, out)
		}
	})
}

// FuzzJSONPath converts any path: no panic, no root "$", no brackets, and
// nothing else of the path lost.
func FuzzJSONPath(f *testing.F) {
	for _, s := range []string{
		"", "$", "$.", "$.a.b[0].c", "a.b.0.c", "$[0]", "a[0][1]", "[", "]", "[]", "$[", "$..a",
		"$.a[", "a]b", "items.#.id", `a\.b`, "$$", ".$a", "[[0]]", "$.[0]", "[$", "$[$]", "\xe9]\x81\x860",
	} {
		f.Add(s)
	}
	strip := func(s string, cut string) string { // bytewise, as JSONPath
		var out []byte
		for i := 0; i < len(s); i++ {
			if strings.IndexByte(cut, s[i]) < 0 {
				out = append(out, s[i])
			}
		}
		return string(out)
	}
	f.Fuzz(func(t *testing.T, p string) {
		got := JSONPath(p)
		if strings.ContainsAny(got, "[]") {
			t.Fatalf("JSONPath(%q) = %q has brackets", p, got)
		}
		// The root is dropped: a "$" left in front is a key's own, which
		// the input had after its root.
		rest := strings.TrimPrefix(strings.TrimPrefix(p, "$"), ".")
		if strings.HasPrefix(got, "$") && !strings.HasPrefix(strip(rest, ".[]"), "$") {
			t.Fatalf("JSONPath(%q) = %q keeps the root $", p, got)
		}
		// Keys and indexes keep their order; only separators change.
		if a, b := strip(got, "."), strip(rest, ".[]"); a != b {
			t.Fatalf("JSONPath(%q) = %q: keys %q, want %q", p, got, a, b)
		}
		if len(got) > len(p) {
			t.Fatalf("JSONPath(%q) = %q is longer than its input", p, got)
		}
		// A gjson path (no root, no brackets, no leading dot) is kept.
		if !strings.HasPrefix(got, "$") && !strings.HasPrefix(got, ".") {
			if again := JSONPath(got); again != got {
				t.Fatalf("JSONPath(%q) = %q, but JSONPath(%q) = %q", p, got, got, again)
			}
		}
	})
}

// FuzzSetCookieLines stores any Set-Cookie line: no panic, and what the
// jar sends it can also Get.
func FuzzSetCookieLines(f *testing.F) {
	for _, s := range []string{
		"sid=abc; Path=/", "a=1; Domain=co.uk", "b=2; Domain=example.co.uk; Secure", "=", "", ";;;", "x=\"q\"",
		"c=3; Max-Age=0", "d=4; Expires=Thu, 01 Jan 1970 00:00:00 GMT", "e=5; Path=/api; HttpOnly; SameSite=Strict",
	} {
		f.Add(s, "http://www.example.co.uk/app/")
	}
	f.Fuzz(func(t *testing.T, line, from string) {
		u, err := url.Parse(from)
		if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
			return
		}
		j := NewJar()
		j.SetCookieLines(u, lines(line, line))
		h := j.CookieHeader(u)
		for _, c := range j.Cookies(u) {
			if v, ok := j.Get(u, c.Name); !ok || v != c.Value {
				t.Fatalf("line %q: Cookies has %s=%s but Get = %q, %v", line, c.Name, c.Value, v, ok)
			}
			if !strings.Contains(h, c.Name+"="+c.Value) {
				t.Fatalf("line %q: CookieHeader %q lacks %s=%s", line, h, c.Name, c.Value)
			}
		}
		j.Reset()
		if h := j.CookieHeader(u); h != "" {
			t.Fatalf("CookieHeader after Reset = %q", h)
		}
	})
}

// A JSON body's templated strings are parsed as written (double quotes in
// a template's arguments are fine) and their rendered text is sent as a
// JSON string, escaped: a quote, a backslash or a newline in a variable
// keeps the body valid JSON.
func TestParseJSON(t *testing.T) {
	env := mapEnv(map[string]string{"TOKEN": `t"o\k`})
	body := map[string]any{
		"user":              "{{ .vars.u }}",
		"token":             `Bearer {{ env "TOKEN" }}`,
		"n":                 3,
		"ok":                true,
		"none":              nil,
		"list":              []any{"plain", "{{ .vu }}", 1.5},
		"inner":             map[string]any{"k": "pre {{ .data.s.c }} post", "<&>": "<&>"},
		"{{ .vars.u }}-key": "v",
	}
	tp, refs, err := ParseJSON("json", body, env)
	if err != nil {
		t.Fatal(err)
	}
	if tp.Static() {
		t.Fatal("a body with templates is static")
	}
	wantRefs := []Ref{{Kind: "data", Name: "s", Field: "c"}, {Kind: "env", Name: "TOKEN"}, {Kind: "vars", Name: "u"}, {Kind: "vars", Name: "u"}}
	slices.SortFunc(refs, func(a, b Ref) int { return strings.Compare(a.Kind, b.Kind) })
	if !slices.Equal(refs, wantRefs) {
		t.Errorf("refs = %v, want %v", refs, wantRefs)
	}
	d := NewData(7)
	d.Vars()["u"] = "a\"b\\c\nd</script>"
	d.Rows()["s"] = map[string]string{"c": `{"x":1}`}
	got, err := tp.Render(&bytes.Buffer{}, d)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"a\"b\\c\nd</script>-key":"v","inner":{"<&>":"<&>","k":"pre {\"x\":1} post"},"list":["plain","7",1.5],"n":3,"none":null,"ok":true,` +
		`"token":"Bearer t\"o\\k","user":"a\"b\\c\nd</script>"}`
	if got != want {
		t.Errorf("rendered\n%s\nwant\n%s", got, want)
	}
	var back map[string]any
	if err := json.Unmarshal([]byte(got), &back); err != nil {
		t.Fatalf("not JSON: %v", err)
	}
	if back["user"] != d.Vars()["u"] {
		t.Errorf("user = %q, want the variable as it was", back["user"])
	}
}

func TestParseJSONStaticAndErrors(t *testing.T) {
	tp, refs, err := ParseJSON("json", map[string]any{"a": "x", "b": []any{1, "y"}}, nil)
	if err != nil || !tp.Static() || refs != nil || tp.String() != `{"a":"x","b":[1,"y"]}` {
		t.Errorf("static body: %v %v %q %v", tp.Static(), refs, tp.String(), err)
	}
	for _, tc := range []struct {
		name string
		v    any
		want string
	}{
		{"template syntax", map[string]any{"a": "{{ .vars.x "}, "unclosed action"},
		{"marker", map[string]any{"a": "{{ .vu }}", "b": "\x00faya-slot-0\x00"}, "faya's own marker"},
		{"not JSON", map[string]any{"a": make(chan int)}, "unsupported type"},
	} {
		if _, _, err := ParseJSON("json", tc.v, nil); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err = %v, want one that says %q", tc.name, err, tc.want)
		}
	}
}

// Whatever a variable holds, a JSON body stays valid JSON and carries it
// unchanged.
func FuzzJSONBody(f *testing.F) {
	for _, s := range []string{"", "plain", `"`, `\`, "\n", "\x00", "\u2028", "<&>", `{"x":1}`, "\xff\xfe", "\x00faya-slot-0\x00"} {
		f.Add(s)
	}
	tp, _, err := ParseJSON("json", map[string]any{"a": "{{ .vars.x }}", "b": []any{"[{{ .vars.x }}]"}}, nil)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, x string) {
		d := NewData(1)
		d.Vars()["x"] = x
		got, err := tp.Render(&bytes.Buffer{}, d)
		if err != nil {
			t.Fatal(err)
		}
		var back struct {
			A string
			B []string
		}
		if err := json.Unmarshal([]byte(got), &back); err != nil {
			t.Fatalf("%q: not JSON: %v", got, err)
		}
		// Invalid UTF-8 comes back as encoding/json makes it valid.
		var want string
		enc, _ := json.Marshal(x)
		if err := json.Unmarshal(enc, &want); err != nil {
			t.Fatal(err)
		}
		if back.A != want || len(back.B) != 1 || back.B[0] != "["+want+"]" {
			t.Errorf("%q came back as %q, %q", x, back.A, back.B)
		}
	})
}

// Whatever strings a JSON body holds (templates or not, as keys or
// values), ParseJSON does not panic, and a body that renders is valid JSON.
func FuzzParseJSON(f *testing.F) {
	for _, s := range [][2]string{
		{"k", "v"}, {"{{ .vu }}", "{{ .iter }}"}, {"k", "{{ .vars.x "}, {"{{", "}}"},
		{"\x00faya-slot-0\x00", "{{ .vu }}"}, {"k", "\x00faya-slot-7\x00"}, {"{{ env \"X\" }}", `{{ printf "%q" .vu }}`},
		{"k", "{{ randInt 9 1 }}"}, {"\xff", "{{ .vars.x }}\xfe"},
	} {
		f.Add(s[0], s[1])
	}
	env := mapEnv(map[string]string{"X": `"\`})
	f.Fuzz(func(t *testing.T, key, val string) {
		body := map[string]any{key: val, "list": []any{val, 1, nil}, "m": map[string]any{val: key}}
		tp, _, err := ParseJSON("json", body, env)
		if err != nil {
			if tp != nil {
				t.Fatalf("a template with error %v", err)
			}
			return
		}
		d := NewData(3)
		d.Vars()["x"] = val
		out, err := tp.Render(&bytes.Buffer{}, d)
		if err != nil {
			return // a template that fails when run (randInt 9 1)
		}
		if !json.Valid([]byte(out)) {
			t.Fatalf("%q, %q rendered as invalid JSON: %q", key, val, out)
		}
	})
}

// The jar keeps cookies as a browser must (RFC 6265, 6.1): at most 50 per
// domain and 3,000 in all, the oldest making room; none over 4,096
// bytes. What it drops is counted.
func TestJarLimits(t *testing.T) {
	j := NewJar()
	u, _ := url.Parse("http://shop.test/")
	for i := range 60 {
		j.SetCookies(u, []*http.Cookie{{Name: fmt.Sprintf("c%02d", i), Value: "v"}})
	}
	if got := len(j.Cookies(u)); got != MaxCookiesPerDomain {
		t.Errorf("cookies sent to shop.test: %d, want %d", got, MaxCookiesPerDomain)
	}
	if _, ok := j.Get(u, "c00"); ok {
		t.Error("the oldest cookie was kept past the domain's limit")
	}
	if _, ok := j.Get(u, "c59"); !ok {
		t.Error("the newest cookie was not kept")
	}
	// Set again, a cookie is no longer the oldest.
	j.SetCookies(u, []*http.Cookie{{Name: "c10", Value: "again"}})
	j.SetCookies(u, []*http.Cookie{{Name: "new", Value: "v"}})
	if v, ok := j.Get(u, "c10"); !ok || v != "again" {
		t.Errorf("c10 = %q, %v: set again, it should be kept", v, ok)
	}
	if _, ok := j.Get(u, "c11"); ok {
		t.Error("c11, now the oldest, was kept")
	}
	j.SetCookies(u, []*http.Cookie{{Name: "big", Value: strings.Repeat("x", MaxCookieBytes)}})
	if _, ok := j.Get(u, "big"); ok {
		t.Error("a cookie over 4,096 bytes was kept")
	}
	if got := j.TakeDropped(); got != 10+1+1 {
		t.Errorf("dropped %d, want 12 (10 past the limit, c11, the big one)", got)
	}
	if got := j.TakeDropped(); got != 0 {
		t.Errorf("dropped %d after it was taken", got)
	}
	// 3,000 in all: 61 domains of 50 each make room for the last 50.
	all := NewJar()
	for d := range 61 {
		du, _ := url.Parse(fmt.Sprintf("http://d%02d.test/", d))
		for i := range 50 {
			all.SetCookies(du, []*http.Cookie{{Name: fmt.Sprintf("c%02d", i), Value: "v"}})
		}
	}
	total := 0
	for d := range 61 {
		du, _ := url.Parse(fmt.Sprintf("http://d%02d.test/", d))
		total += len(all.Cookies(du))
	}
	if total != MaxCookies || all.TakeDropped() != 50 {
		t.Errorf("cookies kept over 61 domains: %d, want %d, 50 dropped", total, MaxCookies)
	}
	// A deletion frees its place.
	j.Reset()
	j.SetCookies(u, []*http.Cookie{{Name: "a", Value: "1"}})
	j.SetCookies(u, []*http.Cookie{{Name: "a", MaxAge: -1}})
	if len(j.Cookies(u)) != 0 || j.count != 0 {
		t.Errorf("after its deletion: %d cookies, count %d", len(j.Cookies(u)), j.count)
	}
}
