package runfile

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/faya-load/faya/engine"
)

// A saved run says which plan and segment it ran, and its intervals read
// back with their snapshots, also from a file cut after its second.
func TestOriginAndIntervals(t *testing.T) {
	ivs, run := aRun(t)
	plan := engine.Plan{Scenarios: []engine.Scenario{{Name: "s", Executor: engine.Executor{Type: engine.VUs, VUs: 5, Duration: 3e9}, Steps: []engine.Step{{URL: "http://127.0.0.1:1/"}}}}}
	path := filepath.Join(t.TempDir(), "seg.faya")
	w, err := CreateFrom(path, run.Meta, run.Steps, Origin{Plan: &plan, PlanHash: "abc", Segment: "1/3", Agent: "gen-1"})
	if err != nil {
		t.Fatal(err)
	}
	var sizes []int64
	for _, iv := range ivs {
		w.Interval(iv.Point, iv.HasPoint, iv.Snapshot)
		fi, _ := os.Stat(path)
		sizes = append(sizes, fi.Size())
	}
	if err := w.Close(run, nil); err != nil {
		t.Fatal(err)
	}
	back, err := Read(path)
	if err != nil {
		t.Fatal(err)
	}
	o := back.Origin
	if o.Segment != "1/3" || o.Agent != "gen-1" || o.PlanHash != "abc" || o.Plan == nil || o.Plan.Scenarios[0].Executor.VUs != 5 {
		t.Errorf("origin %+v", o)
	}
	got, err := Intervals(path)
	if err != nil || len(got) != 3 {
		t.Fatalf("%d intervals, %v", len(got), err)
	}
	for i := range got {
		if got[i].Snapshot.Requests != ivs[i].Snapshot.Requests || !got[i].Snapshot.Hist(0).Equals(ivs[i].Snapshot.Hist(0)) {
			t.Errorf("interval %d differs", i)
		}
	}
	full, _ := os.ReadFile(path)
	cut := filepath.Join(t.TempDir(), "cut.faya")
	if err := os.WriteFile(cut, full[:sizes[1]+10], 0o644); err != nil {
		t.Fatal(err)
	}
	if got, err := Intervals(cut); err != nil || len(got) != 2 {
		t.Errorf("a cut file: %d intervals, %v; want the 2 written whole", len(got), err)
	}
}
