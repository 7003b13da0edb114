package k8s

import (
	"bytes"
	"slices"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
)

func testConfig() Config {
	return Config{Name: "load", Namespace: "perf", Agents: 3, Image: "faya:test", PlanFile: "shop.yaml",
		PlanData: []byte("version: 1\nscenarios: []\n"), RunArgs: []string{"-r", "3000"}, AgentArgs: []string{"--allow-targets", "10.0.0.0/8"},
		Deadline: 10 * time.Minute}
}

// The printed manifests decode back through client-go's scheme into the
// objects of the run, field for field.
func TestManifestsDecode(t *testing.T) {
	objs, err := Objects(testConfig())
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := Write(&buf, objs); err != nil {
		t.Fatal(err)
	}
	back, err := Decode(buf.Bytes())
	if err != nil {
		t.Fatalf("decode: %v\n%s", err, buf.String())
	}
	if len(back) != 5 {
		t.Fatalf("%d objects, want ConfigMap, NATS Deployment and Service, agents' and coordinator's Jobs:\n%s", len(back), buf.String())
	}
	cm := back[0].(*corev1.ConfigMap)
	if cm.Name != "load-plan" || cm.Namespace != "perf" || cm.Data["plan.yaml"] != "version: 1\nscenarios: []\n" {
		t.Errorf("ConfigMap %+v", cm)
	}
	dep := back[1].(*appsv1.Deployment)
	if !slices.Contains(dep.Spec.Template.Spec.Containers[0].Args, "--jetstream") || dep.Spec.Template.Spec.Containers[0].Ports[0].ContainerPort != 4222 {
		t.Errorf("NATS Deployment %+v", dep.Spec.Template.Spec.Containers[0])
	}
	svc := back[2].(*corev1.Service)
	if svc.Name != "load-nats" || svc.Spec.Ports[0].Port != 4222 {
		t.Errorf("Service %+v", svc.Spec)
	}
	agents := back[3].(*batchv1.Job)
	s := agents.Spec
	if *s.CompletionMode != batchv1.IndexedCompletion || *s.Completions != 3 || *s.Parallelism != 3 ||
		*s.BackoffLimitPerIndex != 0 || *s.MaxFailedIndexes != 0 || *s.ActiveDeadlineSeconds != 600 ||
		s.Template.Spec.RestartPolicy != corev1.RestartPolicyNever {
		t.Errorf("agents' Job spec %+v", s)
	}
	args := strings.Join(s.Template.Spec.Containers[0].Args, " ")
	if args != "agent --nats nats://load-nats:4222 --once --name $(POD_NAME) --allow-targets 10.0.0.0/8" {
		t.Errorf("agent args %q", args)
	}
	coord := back[4].(*batchv1.Job)
	args = strings.Join(coord.Spec.Template.Spec.Containers[0].Args, " ")
	if args != "run --agents 3 --nats nats://load-nats:4222 -f /etc/faya/plan.yaml -r 3000" || *coord.Spec.BackoffLimit != 0 {
		t.Errorf("coordinator args %q", args)
	}
	if v := coord.Spec.Template.Spec.Volumes[0]; v.ConfigMap == nil || v.ConfigMap.Name != "load-plan" {
		t.Errorf("coordinator volume %+v", v)
	}
}

// With --nats, no NATS of its own: the pods use the one given.
func TestManifestsExternalNATS(t *testing.T) {
	c := testConfig()
	c.NATS = "nats://nats.infra:4222"
	objs, err := Objects(c)
	if err != nil {
		t.Fatal(err)
	}
	if len(objs) != 3 {
		t.Fatalf("%d objects, want the ConfigMap and two Jobs", len(objs))
	}
	if a := objs[1].(*batchv1.Job).Spec.Template.Spec.Containers[0].Args; a[2] != "nats://nats.infra:4222" {
		t.Errorf("agent args %v", a)
	}
}
