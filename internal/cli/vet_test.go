package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// faya vet -json on a module of the team's code: exit 1, the three
// findings as JSON; a clean package: exit 0; an unknown check or code
// that does not compile: exit 2 with the reason, before any check runs.
func TestVet(t *testing.T) {
	src, err := os.ReadFile(filepath.Join("..", "..", "vet", "testdata", "src", "team", "team.go"))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	write := func(name, text string) {
		t.Helper()
		if err := os.MkdirAll(filepath.Dir(filepath.Join(dir, name)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("go.mod", "module example.com/m\n\ngo 1.26\n")
	write("team/team.go", string(src))
	write("clean/clean.go", "package clean\n\nimport \"net/http\"\n\nvar Client = &http.Client{}\n")
	t.Chdir(dir)

	run := func(args ...string) (int, string, string) {
		var out, errOut bytes.Buffer
		code := Main(context.Background(), args, strings.NewReader(""), &out, &errOut)
		return code, out.String(), errOut.String()
	}
	code, out, errOut := run("vet", "-json", "./...")
	if code != ExitFailed {
		t.Fatalf("exit %d, want %d; stderr: %s", code, ExitFailed, errOut)
	}
	var res struct {
		Diagnostics []struct {
			Check string `json:"check"`
			File  string `json:"file"`
			Line  int    `json:"line"`
		} `json:"diagnostics"`
	}
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	var got []string
	for _, d := range res.Diagnostics {
		got = append(got, filepath.ToSlash(d.File)+":"+d.Check)
	}
	if len(got) != 3 || got[0] != "team/team.go:transport-per-call" {
		t.Errorf("diagnostics %v, want transport-per-call, then resp-before-err and body-not-drained in team/team.go", got)
	}

	if code, out, errOut := run("vet", "./clean"); code != ExitOK || out != "" {
		t.Errorf("clean: exit %d, %q %q", code, out, errOut)
	}
	if code, _, errOut := run("vet", "--checks", "nope", "./..."); code != ExitUsage || !strings.Contains(errOut, `unknown check "nope"`) {
		t.Errorf("--checks nope: exit %d, %s", code, errOut)
	}
	write("bad/bad.go", "package bad\n\nfunc f() { undefined() }\n")
	if code, _, errOut := run("vet", "./bad"); code != ExitUsage || !strings.Contains(errOut, "bad.go:3") {
		t.Errorf("code that does not compile: exit %d, %s", code, errOut)
	}
}
