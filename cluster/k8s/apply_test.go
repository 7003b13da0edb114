package k8s_test

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/faya-load/faya/cluster/k8s"
	"github.com/faya-load/faya/cluster/k8s/clientset"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"
)

// Apply creates the objects; Follow reports the coordinator's end and a
// failed agent index with its pod's reason.
func TestApplyAndFollow(t *testing.T) {
	cs := fake.NewClientset()
	api := clientset.New(cs)
	objs, err := k8s.Objects(k8s.TestConfig())
	if err != nil {
		t.Fatal(err)
	}
	var said []string
	say := func(f string, a ...any) { said = append(said, f) }
	ctx := context.Background()
	if err := k8s.Apply(ctx, api, objs, say); err != nil {
		t.Fatal(err)
	}
	jobs, _ := cs.BatchV1().Jobs("perf").List(ctx, metav1.ListOptions{})
	cms, _ := cs.CoreV1().ConfigMaps("perf").List(ctx, metav1.ListOptions{})
	if len(jobs.Items) != 2 || len(cms.Items) != 1 {
		t.Fatalf("%d jobs, %d config maps", len(jobs.Items), len(cms.Items))
	}
	if err := k8s.Apply(ctx, api, objs, say); err == nil || !strings.Contains(err.Error(), "ConfigMap load-plan exists") {
		t.Errorf("a second apply: %v", err)
	}

	// Index 1 OOM-killed, then the coordinator fails.
	agents, _ := cs.BatchV1().Jobs("perf").Get(ctx, "load-agents", metav1.GetOptions{})
	failed := "1"
	agents.Status.FailedIndexes = &failed
	if _, err := cs.BatchV1().Jobs("perf").UpdateStatus(ctx, agents, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "load-agents-1-x", Namespace: "perf", Labels: map[string]string{"job-name": "load-agents"},
		Annotations: map[string]string{batchv1.JobCompletionIndexAnnotation: "1"}},
		Status: corev1.PodStatus{ContainerStatuses: []corev1.ContainerStatus{{Name: "agent",
			State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 137, Reason: "OOMKilled"}}}}}}
	if _, err := cs.CoreV1().Pods("perf").Create(ctx, pod, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	coord, _ := cs.BatchV1().Jobs("perf").Get(ctx, "load-coordinator", metav1.GetOptions{})
	coord.Status.Conditions = []batchv1.JobCondition{{Type: batchv1.JobFailed, Status: corev1.ConditionTrue, Reason: "BackoffLimitExceeded"}}
	if _, err := cs.BatchV1().Jobs("perf").UpdateStatus(ctx, coord, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	st, err := k8s.Follow(ctx, api, "perf", "load", time.Millisecond, say)
	if err == nil || !strings.Contains(err.Error(), "BackoffLimitExceeded") {
		t.Errorf("follow: %v", err)
	}
	if st.FailedIndexes != "1" || !slices.Contains(st.Reasons, "load-agents-1-x: index 1: OOMKilled") {
		t.Errorf("status %+v", st)
	}

	// A coordinator that completes.
	coord.Status.Conditions = []batchv1.JobCondition{{Type: batchv1.JobComplete, Status: corev1.ConditionTrue}}
	if _, err := cs.BatchV1().Jobs("perf").UpdateStatus(ctx, coord, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	st, err = k8s.Follow(ctx, api, "perf", "load", time.Millisecond, say)
	if err != nil || !st.Succeeded {
		t.Errorf("follow: %+v %v", st, err)
	}
}
