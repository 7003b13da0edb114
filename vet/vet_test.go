package vet

import (
	"testing"

	"golang.org/x/tools/go/analysis"
	"golang.org/x/tools/go/analysis/analysistest"
	"golang.org/x/tools/go/analysis/passes/inspect"
)

// all runs every check in one pass, so that one load of the testdata
// (net/http and its dependencies, from source) serves them all, and a
// package can expect diagnostics of several checks on one line.
var all = &analysis.Analyzer{
	Name:     "all",
	Doc:      "every check of faya vet",
	Requires: []*analysis.Analyzer{inspect.Analyzer},
	Run: func(pass *analysis.Pass) (any, error) {
		for _, a := range Analyzers {
			sub := *pass
			sub.Analyzer = a
			if _, err := a.Run(&sub); err != nil {
				return nil, err
			}
		}
		return nil, nil
	},
}

// Every check on the testdata: a package per check with positive cases
// (a "// want" comment with the message expected on that line) and
// negative ones (every other line must stay silent); the team's code of
// background.md (team: transport-per-call at the constructor's call,
// resp-before-err and body-not-drained at the deferred closure) and the
// same code corrected (teamfixed: nothing); and the suppressions
// (ignore). The suggested fixes, applied, give the .golden files: a
// drain before each Close, the deferred Close moved after the error
// check, the idle pool raised to MaxConnsPerHost (team.go.golden has one
// section per fix: both change the same defer).
func TestChecks(t *testing.T) {
	analysistest.RunWithSuggestedFixes(t, analysistest.TestData(), all,
		"transportpercall", "bodynotdrained", "respbeforeerr", "idlepoolsmall", "defaultclienttimeout",
		"team", "teamfixed", "ignore")
}

// The checks' names are what messages, suppressions and the --checks
// flag use; go vet's flags use the analyzers' own (identifier) names.
func TestNames(t *testing.T) {
	want := []string{"transport-per-call", "body-not-drained", "resp-before-err", "idle-pool-small", "default-client-timeout"}
	got := Names()
	if len(got) != len(want) {
		t.Fatalf("Names() = %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("Names()[%d] = %q, want %q", i, got[i], want[i])
		}
		if a, err := ByName([]string{want[i]}); err != nil || a[0] != Analyzers[i] {
			t.Errorf("ByName(%q) = %v, %v", want[i], a, err)
		}
	}
	if _, err := ByName([]string{"body_not_drained"}); err != nil {
		t.Errorf("ByName(body_not_drained): %v (go vet's spelling should work too)", err)
	}
	if _, err := ByName([]string{"nope"}); err == nil {
		t.Error("ByName(nope): no error")
	}
}

func TestIgnores(t *testing.T) {
	for _, tc := range []struct {
		text, check string
		want        bool
	}{
		{"// faya:ignore body-not-drained", "body-not-drained", true},
		{"//faya:ignore body_not_drained", "body-not-drained", true},
		{"// faya:ignore resp-before-err,body-not-drained -- why", "body-not-drained", true},
		{"// faya:ignore all", "idle-pool-small", true},
		{"// faya:ignore resp-before-err", "body-not-drained", false},
		{"// faya:ignore -- body-not-drained", "body-not-drained", false},
		{"/* faya:ignore body-not-drained */", "body-not-drained", true},
		{"// see faya:ignore body-not-drained", "body-not-drained", false},
	} {
		if got := ignores(tc.text, tc.check); got != tc.want {
			t.Errorf("ignores(%q, %q) = %v, want %v", tc.text, tc.check, got, tc.want)
		}
	}
}
