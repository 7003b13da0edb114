package cli_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/faya-load/faya/cluster/k8s"
	"github.com/faya-load/faya/internal/runfile"
	"github.com/faya-load/faya/internal/testserver"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
)

// Flags of distributed runs are checked before any traffic.
func TestDistributedBadInput(t *testing.T) {
	srv := testserver.Start(t)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"run", "--segment", "3/3", "-n", "10", srv.URL}, "I counts from 0 and must be below N (0 to 2)"},
		{[]string{"run", "--segment", "x", "-n", "10", srv.URL}, "want I/N"},
		{[]string{"run", "--start-at", "yesterday", "-n", "10", srv.URL}, "--start-at \"yesterday\": want an RFC 3339 time"},
		{[]string{"run", "--start-at", "2020-01-01T00:00:00Z", "-n", "10", srv.URL}, "in the past"},
		{[]string{"run", "--segment", "0/3", "-r", "100", "--max-vus", "2", srv.URL}, "max VUs 2 split over 3 segments"},
		{[]string{"run", "--agents", "2", "--segment", "0/2", "-n", "10", srv.URL}, "--segment with --agents"},
		{[]string{"run", "--agents", "3", "--tolerate-lost", "3", "-n", "10", srv.URL}, "--tolerate-lost 3: want 0 to 2"},
		{[]string{"run", "--agents", "2", "--nats", "nats://127.0.0.1:1", "--nats-listen", "127.0.0.1:0", "-n", "10", srv.URL}, "--nats-listen is for the embedded NATS server"},
		{[]string{"run", "--agent-name", "x", "-n", "10", srv.URL}, "use it with --segment"},
		{[]string{"agent"}, "agent needs --nats"},
		{[]string{"agent", "--nats", "nats://127.0.0.1:1", "--allow-targets", "10.0.0.0/33"}, "--allow-targets"},
		{[]string{"merge"}, "merge needs the saved runs"},
		{[]string{"k8s", "--agents", "2"}, "k8s needs -f FILE"},
	} {
		r := faya(t.Context(), tc.args...)
		if r.code != 2 || !strings.Contains(r.stderr, tc.want) {
			t.Errorf("faya %s: exit %d, stderr %q; want exit 2 and %q", strings.Join(tc.args, " "), r.code, r.stderr, tc.want)
		}
	}
	if n := srv.Stats().Requests; n != 0 {
		t.Errorf("bad input sent %d requests", n)
	}
}

type mergedJSON struct {
	Partial  bool `json:"partial"`
	Requests struct {
		Total int64 `json:"total"`
	} `json:"requests"`
	Schedule struct {
		Intended, Sent, Dropped int64
	} `json:"schedule"`
	Latency struct {
		P50, P99 int64
	} `json:"latency_ns"`
	Agents []struct {
		Name, Segment, State string
		Requests             int64
	} `json:"agents"`
	NotRun string `json:"not_run"`
	Run    struct {
		Segment string `json:"segment"`
		VUs     int    `json:"vus"`
	} `json:"run"`
}

// Three segments of a closed run with -n, run one after another and
// merged (VUs 0 and 3, 1 and 4, and 2; VU k runs iterations k, k+5, ...:
// 9, 9 and 5 of 23)
// merged: exactly -n requests, each segment's file keeps the plan and
// its segment, and the merge refuses a segment given twice.
func TestSegmentRunsMerge(t *testing.T) {
	srv := testserver.Start(t)
	dir := t.TempDir()
	var files []string
	for i, seg := range []string{"0/3", "1/3", "2/3"} {
		out := filepath.Join(dir, "seg"+seg[:1]+".faya")
		files = append(files, out)
		r := faya(t.Context(), "run", "-q", "-c", "5", "-n", "23", "--segment", seg, "--agent-name", "gen-"+seg[:1],
			"-H", "Authorization: Bearer s3cret", "--out", out, "--json", filepath.Join(dir, "seg.json"), srv.URL+"/")
		if r.code != 0 {
			t.Fatalf("segment %s: exit %d\n%s", seg, r.code, r.stderr)
		}
		if !strings.Contains(r.stdout, "segment "+seg+" of the plan") {
			t.Errorf("segment %s: the report does not say it is a segment:\n%s", seg, r.stdout)
		}
		var j mergedJSON
		b, _ := os.ReadFile(filepath.Join(dir, "seg.json"))
		_ = json.Unmarshal(b, &j)
		if want := []int64{9, 9, 5}[i]; j.Requests.Total != want || j.Run.Segment != seg || j.Run.VUs != 5 {
			t.Errorf("segment %s: %d requests (want %d), run %+v", seg, j.Requests.Total, want, j.Run)
		}
		saved, err := runfile.Read(out)
		if err != nil {
			t.Fatal(err)
		}
		if saved.Origin.Segment != seg || saved.Origin.Plan == nil || saved.Origin.PlanHash == "" || saved.Origin.Agent != "gen-"+seg[:1] {
			t.Errorf("segment %s: origin %+v", seg, saved.Origin)
		}
		b, _ = json.Marshal(saved.Origin.Plan)
		if strings.Contains(string(b), "s3cret") {
			t.Errorf("the saved plan holds the Authorization header: %s", b)
		}
	}
	if n := srv.Stats().Requests; n != 23 {
		t.Errorf("the target counted %d requests, want 23", n)
	}
	js := filepath.Join(dir, "merged.json")
	r := faya(t.Context(), append([]string{"merge", "--json", js}, files...)...)
	if r.code != 0 {
		t.Fatalf("merge: exit %d\n%s", r.code, r.stderr)
	}
	var m mergedJSON
	b, _ := os.ReadFile(js)
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	if m.Requests.Total != 23 || m.Partial || len(m.Agents) != 3 || m.Agents[2].Name != "gen-2" || m.Agents[2].Requests != 5 || m.Run.Segment != "" {
		t.Errorf("merged: %+v", m)
	}
	if !strings.Contains(r.stdout, "Agents") || !strings.Contains(r.stdout, "gen-1") {
		t.Errorf("merged text report:\n%s", r.stdout)
	}

	r = faya(t.Context(), "merge", files[0], files[1])
	if r.code != 1 || !strings.Contains(r.stdout, "PARTIAL: segment 2/3 (segment 2/3) missing") {
		t.Errorf("a merge without segment 2: exit %d\n%s", r.code, r.stdout)
	}
	r = faya(t.Context(), "merge", files[0], files[1], files[1])
	if r.code != 2 {
		t.Errorf("a segment twice: exit %d %s", r.code, r.stderr)
	}
	dup := filepath.Join(dir, "copy.faya")
	b, _ = os.ReadFile(files[1])
	_ = os.WriteFile(dup, b, 0o644)
	r = faya(t.Context(), "merge", files[0], files[1], dup)
	if r.code != 2 || !strings.Contains(r.stderr, "both ran segment 1/3") {
		t.Errorf("a segment in two files: exit %d %s", r.code, r.stderr)
	}
}

// faya k8s prints manifests that decode back; the plan's data file goes
// into the ConfigMap beside it.
func TestK8sPrint(t *testing.T) {
	r := faya(t.Context(), "k8s", "--agents", "4", "-f", "../../examples/shop/shop.yaml", "--image", "faya:t", "--", "-d", "30s")
	if r.code != 0 {
		t.Fatalf("exit %d\n%s", r.code, r.stderr)
	}
	objs, err := k8s.Decode([]byte(r.stdout))
	if err != nil {
		t.Fatalf("%v\n%s", err, r.stdout)
	}
	cm := objs[0].(*corev1.ConfigMap)
	if !strings.Contains(cm.Data["plan.yaml"], "scenarios:") || !strings.Contains(cm.Data["users.csv"], "user") {
		t.Errorf("ConfigMap keys %v", cm.Data)
	}
	coord := objs[len(objs)-1].(*batchv1.Job)
	if args := strings.Join(coord.Spec.Template.Spec.Containers[0].Args, " "); args != "run --agents 4 --nats nats://faya-nats:4222 -f /etc/faya/plan.yaml -d 30s" {
		t.Errorf("coordinator args %q", args)
	}
	if a := objs[len(objs)-2].(*batchv1.Job); *a.Spec.Completions != 4 || a.Spec.Template.Spec.Containers[0].Image != "faya:t" {
		t.Errorf("agents' Job %+v", a.Spec)
	}
}
