package vet_test

import (
	"testing"

	"github.com/faya-load/faya/vet"
	"golang.org/x/tools/go/analysis/analysistest"
)

// Each check on its own testdata package: the positive cases carry a
// "// want" comment with the message expected at that line; every other
// line must stay silent.
func TestChecks(t *testing.T) {
	dir := analysistest.TestData()
	for _, tc := range []struct {
		pkg   string
		check string
	}{
		{"transportpercall", "transport-per-call"},
		{"bodynotdrained", "body-not-drained"},
		{"respbeforeerr", "resp-before-err"},
		{"idlepoolsmall", "idle-pool-small"},
		{"defaultclienttimeout", "default-client-timeout"},
	} {
		t.Run(tc.check, func(t *testing.T) {
			a, err := vet.ByName([]string{tc.check})
			if err != nil {
				t.Fatal(err)
			}
			analysistest.Run(t, dir, a[0], tc.pkg)
		})
	}
}

// A "// faya:ignore CHECK" comment exempts its line and the next from
// that check only.
func TestIgnore(t *testing.T) {
	analysistest.Run(t, analysistest.TestData(), vet.BodyNotDrained, "ignore")
}
