package vet_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/faya-load/faya/vet"
)

// module writes the testdata packages named into a module of their own
// in a temporary directory and returns it.
func module(t *testing.T, pkgs ...string) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "go.mod"), []byte("module example.com/m\n\ngo 1.26\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, p := range pkgs {
		src, err := os.ReadFile(filepath.Join("testdata", "src", p, "team.go"))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.MkdirAll(filepath.Join(dir, p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, p, "team.go"), src, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func lines(ds []vet.Diagnostic) []string {
	var out []string
	for _, d := range ds {
		out = append(out, fmt.Sprintf("%s:%d %s", filepath.ToSlash(d.File), d.Line, d.Check))
	}
	return out
}

// faya vet on the team's code of background.md, as a user would run it
// (a module of its own, ./...): transport-per-call at the constructor's
// call, resp-before-err and body-not-drained at the Close deferred before
// the error check, nothing on the corrected code. -fix then moves the
// defer after the check and drains the body (two rounds: the two fixes
// touch the same statement); the Transport per call has no mechanical
// fix and stays.
func TestCheckTeam(t *testing.T) {
	dir := module(t, "team", "teamfixed")
	res, err := vet.Check([]string{"./..."}, vet.Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	got := strings.Join(lines(res.Diagnostics), "\n")
	want := strings.Join([]string{
		"team/team.go:25 transport-per-call",
		"team/team.go:27 resp-before-err",
		"team/team.go:27 body-not-drained",
	}, "\n")
	if got != want && got != strings.Join([]string{want[:strings.Index(want, "\n")], "team/team.go:27 body-not-drained", "team/team.go:27 resp-before-err"}, "\n") {
		t.Fatalf("diagnostics:\n%s\nwant:\n%s", got, want)
	}
	for _, d := range res.Diagnostics {
		if d.Check != "transport-per-call" && d.Fix == "" {
			t.Errorf("%s: no suggested fix", d)
		}
	}

	if _, err := vet.Check([]string{"./..."}, vet.Options{Dir: dir, Fix: true}); err != nil {
		t.Fatal(err)
	}
	// The second round sees the first one's result.
	res, err = vet.Check([]string{"./..."}, vet.Options{Dir: dir, Fix: true})
	if err != nil {
		t.Fatal(err)
	}
	var left []vet.Diagnostic
	for _, d := range res.Diagnostics {
		if !d.Fixed {
			left = append(left, d)
		}
	}
	if got := lines(left); len(got) != 1 || got[0] != "team/team.go:25 transport-per-call" {
		t.Errorf("after -fix: %v left, want only team/team.go:25 transport-per-call", got)
	}
	fixed, _ := os.ReadFile(filepath.Join(dir, "team", "team.go"))
	if !strings.Contains(string(fixed), "if err != nil {\n\t\treturn false\n\t}\n\tdefer func() {\n\t\t_, _ = io.Copy(io.Discard, res.Body)\n\t\t_ = res.Body.Close()") {
		t.Errorf("fixed code:\n%s", fixed)
	}
}

// Packages that do not load are an error naming the problem, before any
// check runs.
func TestCheckLoadError(t *testing.T) {
	dir := module(t)
	if err := os.WriteFile(filepath.Join(dir, "bad.go"), []byte("package m\n\nfunc f() { undefined() }\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := vet.Check([]string{"./..."}, vet.Options{Dir: dir})
	le, ok := err.(*vet.LoadError)
	if !ok || !strings.Contains(le.Error(), "bad.go:3") || !strings.Contains(le.Error(), "undefined") {
		t.Fatalf("err = %v, want a LoadError naming bad.go:3", err)
	}
	if _, err := vet.Check([]string{"./..."}, vet.Options{Dir: dir, Checks: []string{"no-such-check"}}); err == nil || !strings.Contains(err.Error(), "body-not-drained") {
		t.Errorf("unknown check: %v, want the known names", err)
	}
}

// No finding on faya's own code (its tests included), on the project's
// examples, nor on net/http's own examples.
func TestNoFalsePositives(t *testing.T) {
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	res, err := vet.Check([]string{"./..."}, vet.Options{Dir: root})
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range res.Diagnostics {
		t.Errorf("faya: %s", d)
	}
	out, err := exec.Command("go", "env", "GOROOT").Output()
	if err != nil {
		t.Fatalf("go env GOROOT: %v", err)
	}
	goroot := strings.TrimSpace(string(out))
	res, err = vet.Check([]string{"./example_test.go"}, vet.Options{Dir: filepath.Join(goroot, "src", "net", "http")})
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range res.Diagnostics {
		t.Errorf("net/http: %s", d)
	}
}
