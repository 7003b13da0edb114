package cli

import (
	"strings"
	"testing"
	"time"

	"github.com/faya-load/faya/cluster/k8s"
	"github.com/faya-load/faya/cluster/k8s/clientset"
	"github.com/spf13/cobra"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"
)

// faya k8s --apply against client-go's fake clientset: the objects are
// created, and the run is followed until the coordinator Job completes.
func TestK8sApplyFake(t *testing.T) {
	followPoll = time.Millisecond
	defer func() { followPoll = 2 * time.Second }()
	cs := fake.NewClientset()
	c := k8s.Config{Name: "t", Namespace: "perf", Agents: 2, PlanData: []byte("version: 1\n")}
	objs, err := k8s.Objects(c)
	if err != nil {
		t.Fatal(err)
	}
	cmd := &cobra.Command{}
	cmd.SetContext(t.Context())
	var said []string
	done := make(chan error, 1)
	go func() {
		done <- applyAndFollow(cmd, clientset.New(cs), c, objs, func(f string, a ...any) { said = append(said, f) })
	}()
	var job *batchv1.Job
	for {
		var err error
		if job, err = cs.BatchV1().Jobs("perf").Get(t.Context(), "t-coordinator", metav1.GetOptions{}); err == nil {
			break
		}
		time.Sleep(time.Millisecond)
	}
	job.Status.Conditions = []batchv1.JobCondition{{Type: batchv1.JobComplete, Status: corev1.ConditionTrue}}
	if _, err := cs.BatchV1().Jobs("perf").UpdateStatus(t.Context(), job, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if _, err := cs.CoreV1().ConfigMaps("perf").Get(t.Context(), "t-plan", metav1.GetOptions{}); err != nil {
		t.Errorf("ConfigMap: %v", err)
	}
	if _, err := cs.AppsV1().Deployments("perf").Get(t.Context(), "t-nats", metav1.GetOptions{}); err != nil {
		t.Errorf("NATS Deployment: %v", err)
	}
	if !strings.Contains(strings.Join(said, "\n"), "the coordinator completed") {
		t.Errorf("said %q", said)
	}
}
