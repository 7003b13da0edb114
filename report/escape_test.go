package report_test

import (
	"strings"
	"testing"

	"github.com/faya-load/faya/diagnose"
	"github.com/faya-load/faya/report"
	"github.com/faya-load/faya/threshold"
)

// The text report escapes what a terminal would obey in text a server or
// a proxy chose, wherever it shows it: an error's example, a check's
// failure, a finding quoting either, a threshold's error. (Examples are
// escaped where they are kept, too; this is the report's own guard, for
// text that came another way.)
func TestTextEscapesHostileBytes(t *testing.T) {
	const hostile = "\x1b]0;owned\x07\x1b[2J\u009b31m"
	rep := report.Build(fixture())
	rep.Errors["tls"] = report.ErrorClass{Count: 1, Example: "x509: certificate is valid for " + hostile}
	rep.Steps = []report.Step{{Name: "login", Requests: 1, ChecksFailed: 1, CheckFailure: "body does not contain " + hostile}}
	rep.Findings = append(rep.Findings, diagnose.Finding{ID: "x", Severity: diagnose.Error, Title: "t " + hostile, Evidence: "e " + hostile, Fix: "f " + hostile})
	rep.Thresholds = []threshold.Result{{Threshold: "p99(latency) < 1s", Err: "e " + hostile}}
	var b strings.Builder
	if err := report.Text(&b, rep); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	if strings.ContainsAny(out, "\x1b\x07\u009b") {
		t.Errorf("raw control bytes in the text report:\n%q", out)
	}
	if n := strings.Count(out, `\x1b]0;owned\x07\x1b[2J\u009b31m`); n != 6 {
		t.Errorf("the escaped text appears %d times, want 6:\n%s", n, out)
	}
}
