package k8s

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
)

// apiServer is a Kubernetes API server's few paths a run uses: it keeps
// what was created by path, answers 409 AlreadyExists for a second
// create, and serves the Jobs and pods the test sets.
type apiServer struct {
	mu      sync.Mutex
	created map[string]string // path of the object -> its kind/apiVersion as sent
	jobs    map[string]*batchv1.Job
	pods    corev1.PodList // the agents' Job's
}

func (s *apiServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	switch {
	case r.Method == http.MethodPost:
		b, _ := io.ReadAll(r.Body)
		var o struct {
			Kind       string            `json:"kind"`
			APIVersion string            `json:"apiVersion"`
			Metadata   metav1.ObjectMeta `json:"metadata"`
		}
		if err := json.Unmarshal(b, &o); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		path := r.URL.Path + "/" + o.Metadata.Name
		if _, ok := s.created[path]; ok {
			w.WriteHeader(http.StatusConflict)
			_ = json.NewEncoder(w).Encode(metav1.Status{TypeMeta: metav1.TypeMeta{Kind: "Status", APIVersion: "v1"},
				Status: metav1.StatusFailure, Reason: metav1.StatusReasonAlreadyExists, Code: http.StatusConflict})
			return
		}
		s.created[path] = o.Kind + " " + o.APIVersion
		w.WriteHeader(http.StatusCreated)
		_, _ = w.Write(b)
	case strings.HasPrefix(r.URL.Path, "/apis/batch/v1/namespaces/perf/jobs/"):
		j, ok := s.jobs[strings.TrimPrefix(r.URL.Path, "/apis/batch/v1/namespaces/perf/jobs/")]
		if !ok {
			w.WriteHeader(http.StatusNotFound)
			_ = json.NewEncoder(w).Encode(metav1.Status{TypeMeta: metav1.TypeMeta{Kind: "Status", APIVersion: "v1"},
				Status: metav1.StatusFailure, Reason: metav1.StatusReasonNotFound, Code: http.StatusNotFound})
			return
		}
		_ = json.NewEncoder(w).Encode(j)
	case r.URL.Path == "/api/v1/namespaces/perf/pods":
		// Only the agents' Job's pods: a reason read back proves the
		// selector.
		l := corev1.PodList{TypeMeta: s.pods.TypeMeta}
		if r.URL.Query().Get("labelSelector") == "job-name=load-agents" {
			l = s.pods
		}
		_ = json.NewEncoder(w).Encode(l)
	default:
		http.NotFound(w, r)
	}
}

// NewAPI's REST clients against an API server's paths: each object is
// POSTed to its group's path with its kind and apiVersion, a second apply
// fails naming the object that exists, and Follow reads the Jobs and the
// failed agent's pod (by the job-name label) as over client-go's
// clientset.
func TestRESTAPI(t *testing.T) {
	s := &apiServer{created: map[string]string{}, jobs: map[string]*batchv1.Job{}}
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	api, err := NewAPI(&rest.Config{Host: srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	objs, err := Objects(testConfig())
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	say := func(string, ...any) {}
	if err := Apply(ctx, api, objs, say); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"/api/v1/namespaces/perf/configmaps/load-plan":         "ConfigMap v1",
		"/apis/batch/v1/namespaces/perf/jobs/load-agents":      "Job batch/v1",
		"/apis/batch/v1/namespaces/perf/jobs/load-coordinator": "Job batch/v1",
	}
	for path, kind := range want {
		if s.created[path] != kind {
			t.Errorf("%s: created %q, want %q (all: %v)", path, s.created[path], kind, s.created)
		}
	}
	if len(s.created) != len(objs) {
		t.Errorf("created %d objects, want %d: %v", len(s.created), len(objs), s.created)
	}
	if err := Apply(ctx, api, objs, say); err == nil || !strings.Contains(err.Error(), "ConfigMap load-plan exists") {
		t.Errorf("a second apply: %v", err)
	}

	failed := "1"
	s.mu.Lock()
	s.jobs["load-agents"] = &batchv1.Job{TypeMeta: metav1.TypeMeta{Kind: "Job", APIVersion: "batch/v1"}, Status: batchv1.JobStatus{FailedIndexes: &failed}}
	s.jobs["load-coordinator"] = &batchv1.Job{TypeMeta: metav1.TypeMeta{Kind: "Job", APIVersion: "batch/v1"}, Status: batchv1.JobStatus{
		Conditions: []batchv1.JobCondition{{Type: batchv1.JobFailed, Status: corev1.ConditionTrue, Reason: "BackoffLimitExceeded"}}}}
	s.pods = corev1.PodList{TypeMeta: metav1.TypeMeta{Kind: "PodList", APIVersion: "v1"}, Items: []corev1.Pod{{
		ObjectMeta: metav1.ObjectMeta{Name: "load-agents-1-x", Annotations: map[string]string{batchv1.JobCompletionIndexAnnotation: "1"}},
		Status: corev1.PodStatus{ContainerStatuses: []corev1.ContainerStatus{{Name: "agent",
			State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 137, Reason: "OOMKilled"}}}}}}}}
	s.mu.Unlock()
	st, err := Follow(ctx, api, "perf", "load", time.Millisecond, say)
	if err == nil || !strings.Contains(err.Error(), "BackoffLimitExceeded") {
		t.Errorf("follow: %v", err)
	}
	if st.FailedIndexes != "1" || !slices.Contains(st.Reasons, "load-agents-1-x: index 1: OOMKilled") {
		t.Errorf("status %+v", st)
	}
}
