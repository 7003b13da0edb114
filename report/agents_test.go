package report

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/faya-load/faya/engine"
	"github.com/faya-load/faya/metrics"
)

// A distributed run's report has the agents' table in text, JSON and
// HTML, and its PARTIAL line names the lost agent.
func TestAgentsRendered(t *testing.T) {
	run := Run{Meta: Meta{Version: "t", URL: "http://127.0.0.1:1/", Method: "GET", Engine: "h1", Executor: "rate", Open: true},
		Result: engine.Result{Total: &metrics.Snapshot{}, Interrupted: true}, NotRun: "1 of 2 segments did not run to their end (1/2 lost)",
		Agents: []Agent{
			{Name: "gen-0", Segment: "0/2", Requests: 1000, Rate: 100, P99: 2_500_000, Busy: 0.25, ClockOffset: -1500, ClockKnown: true, State: AgentOK},
			{Name: "gen-1", Segment: "1/2", Requests: 400, Errors: 3, Rate: 80, State: AgentLost, Reason: "silent for 5.1s"},
		}}
	rep := Build(run)
	var text, js, html bytes.Buffer
	if err := Text(&text, rep); err != nil {
		t.Fatal(err)
	}
	if err := JSON(&js, rep); err != nil {
		t.Fatal(err)
	}
	if err := HTML(&html, rep); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"PARTIAL: gen-1 (segment 1/2) lost", "gen-0      0/2      1000", "2.50ms", "25%", "-1.50µs", "gen-1: silent for 5.1s", "not run: 1 of 2 segments"} {
		if !strings.Contains(text.String(), want) {
			t.Errorf("text report lacks %q:\n%s", want, text.String())
		}
	}
	var compact bytes.Buffer
	if err := json.Compact(&compact, js.Bytes()); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"agents":[{"name":"gen-0","segment":"0/2","requests":1000`, `"state":"lost"`, `"not_run":"1 of 2 segments`} {
		if !strings.Contains(compact.String(), want) {
			t.Errorf("JSON lacks %q:\n%s", want, js.String())
		}
	}
	for _, want := range []string{`id="agents"`, "gen-1 (segment 1/2) lost", "lost: silent for 5.1s"} {
		if !strings.Contains(html.String(), want) {
			t.Errorf("HTML lacks %q", want)
		}
	}
}
