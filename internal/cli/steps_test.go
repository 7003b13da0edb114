package cli

import (
	"reflect"
	"testing"

	"github.com/faya-load/faya/engine"
	"github.com/faya-load/faya/internal/testserver"
)

// The step names a run file's header carries (for a run cut before its
// end) are the ones the engine gives its per-step stats, index for index.
func TestStepNamesAsTheEngine(t *testing.T) {
	srv := testserver.Start(t)
	u := srv.URL
	ex := engine.Executor{Type: engine.VUs, VUs: 1, Iterations: 2}
	plan := engine.Plan{Scenarios: []engine.Scenario{
		{Name: "a", Executor: ex,
			Setup: []engine.Step{{Name: "login", URL: u + "/"}},
			Steps: []engine.Step{{URL: u + "/"}, {Name: "login", URL: u + "/"}, {URL: u + "/?x=1"}, {URL: u + "/"}}},
		{Name: "b", Executor: ex, Steps: []engine.Step{{Method: "POST", URL: u + "/"}, {Name: "login", URL: u + "/"}}},
	}}
	eng, err := engine.New(plan)
	if err != nil {
		t.Fatal(err)
	}
	res, err := eng.Run(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	want := res.Steps
	if got := stepNames(eng.Plan()); !reflect.DeepEqual(got, want) {
		t.Errorf("stepNames:\n%v\nthe engine's:\n%v", got, want)
	}
	if len(want) != 6 {
		t.Errorf("%d steps, want 6: %v", len(want), want)
	}
}
