package cli_test

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/faya-load/faya/internal/cli"
)

// seen is what a server received: each request's path, body and X-VU
// header.
type seen struct {
	mu     sync.Mutex
	paths  []string
	bodies [][]byte
	vus    []string
}

func (s *seen) start(t *testing.T) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		s.mu.Lock()
		s.paths = append(s.paths, r.URL.Path)
		s.bodies = append(s.bodies, b)
		s.vus = append(s.vus, r.Header.Get("X-VU"))
		s.mu.Unlock()
	}))
	t.Cleanup(srv.Close)
	return srv
}

// binaryBody has bytes a template parser chokes on: braces, a NUL,
// invalid UTF-8.
var binaryBody = []byte("\x89PNG\r\n\x1a\n\x00{{ .vu }}\xff\xfe{{ unbalanced\x00}}")

// On the command line a body is bytes, sent as given: --body-file with a
// template in it and a binary file, --body with braces.
func TestBodyIsBytes(t *testing.T) {
	dir := t.TempDir()
	tpl := filepath.Join(dir, "tpl.json")
	bin := filepath.Join(dir, "upload.bin")
	if err := os.WriteFile(tpl, []byte(`{"vu":"{{ .vu }}"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bin, binaryBody, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		args []string
		want []byte
	}{
		{"template in body-file", []string{"--body-file", tpl}, []byte(`{"vu":"{{ .vu }}"}`)},
		{"binary body-file", []string{"--body-file", bin}, binaryBody},
		{"braces in body", []string{"--body", "{{ uuid }}"}, []byte("{{ uuid }}")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := &seen{}
			srv := s.start(t)
			args := append([]string{"run", "-c", "2", "-n", "4", "-m", "POST", "-q"}, tc.args...)
			r := faya(t.Context(), append(args, srv.URL+"/upload")...)
			if r.code != cli.ExitOK {
				t.Fatalf("exit %d: %s", r.code, r.stderr)
			}
			if len(s.bodies) != 4 {
				t.Fatalf("server saw %d requests, want 4", len(s.bodies))
			}
			for _, b := range s.bodies {
				if !bytes.Equal(b, tc.want) {
					t.Errorf("server got body %q, want %q", b, tc.want)
				}
			}
		})
	}
}

// --template renders the URL, the headers and the body together, so a
// single URL can vary its path.
func TestTemplateFlag(t *testing.T) {
	s := &seen{}
	srv := s.start(t)
	r := faya(t.Context(), "run", "--template", "-c", "2", "-n", "60", "-m", "POST", "-q",
		"-H", "X-VU: {{ .vu }}", "--body", `{"iter":{{ .iter }}}`, srv.URL+"/items/{{ randInt 1 20 }}")
	if r.code != cli.ExitOK {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	if len(s.paths) != 60 {
		t.Fatalf("server saw %d requests, want 60", len(s.paths))
	}
	distinct := map[string]bool{}
	for i, p := range s.paths {
		n, err := strconv.Atoi(strings.TrimPrefix(p, "/items/"))
		if err != nil || n < 1 || n > 20 {
			t.Errorf("path %q, want /items/1 to /items/20", p)
		}
		distinct[p] = true
		if v := s.vus[i]; v != "1" && v != "2" {
			t.Errorf("X-VU %q, want 1 or 2", v)
		}
		if b := string(s.bodies[i]); !strings.HasPrefix(b, `{"iter":`) || strings.Contains(b, "{{") {
			t.Errorf("body %q, want it rendered", b)
		}
	}
	// 60 draws from 20 values: fewer than 5 distinct ones has a chance
	// below 1e-40.
	if len(distinct) < 5 {
		t.Errorf("%d distinct paths in 60 requests: the URL was not rendered per request", len(distinct))
	}
}

// A scenario file keeps templating, and body_file_raw sends a file as
// given (a binary upload) on a step whose URL is a template.
func TestScenarioRawBody(t *testing.T) {
	s := &seen{}
	srv := s.start(t)
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "upload.bin"), binaryBody, 0o600); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(dir, "upload.yaml")
	src := "version: 1\nbase_url: " + srv.URL + "\nscenarios:\n  up:\n    executor: vus\n    vus: 1\n    iterations: 3\n    steps:\n" +
		"      - url: /up/{{ .iter }}\n        body_file_raw: upload.bin\n" +
		"      - url: /tpl\n        body: 'vu {{ .vu }}'\n"
	if err := os.WriteFile(file, []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	r := faya(t.Context(), "run", "-f", file, "-q")
	if r.code != cli.ExitOK {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	if len(s.paths) != 6 {
		t.Fatalf("server saw %v, want 6 requests", s.paths)
	}
	for i, p := range s.paths {
		switch {
		case strings.HasPrefix(p, "/up/"):
			if !bytes.Equal(s.bodies[i], binaryBody) {
				t.Errorf("%s: body %q, want the file as given", p, s.bodies[i])
			}
		case p == "/tpl":
			if string(s.bodies[i]) != "vu 1" {
				t.Errorf("/tpl: body %q, want the template rendered (vu 1)", s.bodies[i])
			}
		default:
			t.Errorf("unexpected path %q", p)
		}
	}
}

// --base-url replaces a scenario file's base_url, and base_url may read
// the environment.
func TestBaseURL(t *testing.T) {
	s := &seen{}
	srv := s.start(t)
	dir := t.TempDir()
	write := func(name, base string) string {
		path := filepath.Join(dir, name)
		src := "version: 1\nbase_url: " + base + "\nscenarios:\n  s:\n    executor: vus\n    vus: 1\n    iterations: 2\n    steps:\n      - url: /b\n"
		if err := os.WriteFile(path, []byte(src), 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	unreachable := write("a.yaml", "http://127.0.0.1:1")
	r := faya(t.Context(), "run", "-f", unreachable, "--base-url", srv.URL, "-q")
	if r.code != cli.ExitOK || len(s.paths) != 2 || s.paths[0] != "/b" {
		t.Errorf("--base-url: exit %d, server saw %v; stderr: %s", r.code, s.paths, r.stderr)
	}

	t.Setenv("FAYA_TEST_BASE", srv.URL)
	fromEnv := write("env.yaml", `'{{ env "FAYA_TEST_BASE" }}'`)
	s.paths = nil
	r = faya(t.Context(), "run", "-f", fromEnv, "-q")
	if r.code != cli.ExitOK || len(s.paths) != 2 {
		t.Errorf("base_url from env: exit %d, server saw %v; stderr: %s", r.code, s.paths, r.stderr)
	}
	r = faya(t.Context(), "validate", fromEnv)
	if r.code != cli.ExitOK {
		t.Errorf("validate: exit %d: %s", r.code, r.stderr)
	}

	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"run", "-f", write("unset.yaml", `'{{ env "FAYA_TEST_UNSET" }}'`)}, "environment variable FAYA_TEST_UNSET is not set"},
		{[]string{"run", "-f", unreachable, "--base-url", "127.0.0.1:8080"}, `--base-url "127.0.0.1:8080": URL "127.0.0.1:8080" has no scheme`},
		{[]string{"run", "--base-url", srv.URL, srv.URL + "/"}, "--base-url is for a scenario file (-f)"},
	} {
		r := faya(t.Context(), tc.args...)
		if r.code != cli.ExitUsage || !strings.Contains(r.stderr, tc.want) {
			t.Errorf("%v: exit %d, stderr %q; want %d and %q", tc.args, r.code, r.stderr, cli.ExitUsage, tc.want)
		}
	}
}
