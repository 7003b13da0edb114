// Package k8s builds the Kubernetes objects of a distributed faya run
// (a ConfigMap with the plan, an Indexed Job of agents, a coordinator
// Job, and a NATS Deployment and Service when no NATS is given), prints
// them as YAML through apimachinery's serializer, and creates them with
// client-go's REST client ([API]), following the run until the
// coordinator ends.
package k8s

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/serializer/json"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// Config describes the run to place.
type Config struct {
	// Name prefixes the objects' names (default "faya").
	Name      string
	Namespace string
	// Agents is the number of agent pods (the Indexed Job's completions
	// and parallelism).
	Agents int
	// Image is the faya image (default DefaultImage).
	Image string
	// NATS is the NATS URL the pods use; empty: a NATS Deployment and
	// Service are made (NATSImage).
	NATS      string
	NATSImage string
	// PlanFile names the scenario file, PlanData is its content (the
	// ConfigMap's).
	PlanFile string
	PlanData []byte
	// Files are the files the plan reads (data, bodies), by their name
	// beside the plan: they go into the ConfigMap too.
	Files map[string][]byte
	// RunArgs are more faya run flags for the coordinator (the load and
	// output flags given to faya k8s).
	RunArgs []string
	// AgentArgs are more faya agent flags (--allow-targets).
	AgentArgs []string
	// Deadline bounds the Jobs (activeDeadlineSeconds): the plan's length
	// plus the waits.
	Deadline time.Duration
}

// Default images.
const (
	DefaultImage     = "ghcr.io/faya-load/faya:latest"
	DefaultNATSImage = "nats:2.11-alpine"
)

// Labels set on every object.
const (
	LabelApp  = "app.kubernetes.io/name"
	LabelPart = "app.kubernetes.io/component"
)

func (c *Config) defaults() error {
	if c.Name == "" {
		c.Name = "faya"
	}
	if c.Image == "" {
		c.Image = DefaultImage
	}
	if c.NATSImage == "" {
		c.NATSImage = DefaultNATSImage
	}
	if c.Agents < 1 {
		return errors.New("at least one agent")
	}
	if len(c.PlanData) == 0 {
		return errors.New("no plan")
	}
	if c.Deadline <= 0 {
		c.Deadline = time.Hour
	}
	return nil
}

// planKey is the ConfigMap's key for the plan, and planDir where pods
// mount it.
const (
	planKey      = "plan.yaml"
	planDir      = "/etc/faya"
	maxConfigMap = 1000 << 10 // Kubernetes' limit is 1 MiB, with the object's own fields
)

func (c *Config) natsURL() string {
	if c.NATS != "" {
		return c.NATS
	}
	return "nats://" + c.Name + "-nats:4222"
}

// Objects returns the run's objects, in the order to create them: the
// plan's ConfigMap, the NATS server's Deployment and Service unless
// Config.NATS names one, the agents' Indexed Job and the coordinator's
// Job.
func Objects(c Config) ([]runtime.Object, error) {
	if err := c.defaults(); err != nil {
		return nil, err
	}
	cm, err := c.configMap()
	if err != nil {
		return nil, err
	}
	objs := []runtime.Object{cm}
	if c.NATS == "" {
		objs = append(objs, c.natsObjects()...)
	}
	return append(objs, c.agentsJob(), c.coordinatorJob()), nil
}

func (c *Config) labels(part string) map[string]string {
	return map[string]string{LabelApp: "faya", LabelPart: part, "faya/run": c.Name}
}

func (c *Config) meta(name, part string) metav1.ObjectMeta {
	return metav1.ObjectMeta{Name: name, Namespace: c.Namespace, Labels: c.labels(part)}
}

// configMap holds the plan and the files beside it.
func (c *Config) configMap() (*corev1.ConfigMap, error) {
	cm := &corev1.ConfigMap{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "ConfigMap"},
		ObjectMeta: c.meta(c.Name+"-plan", "plan"),
		Data:       map[string]string{planKey: string(c.PlanData)},
	}
	size := len(c.PlanData)
	for name, b := range c.Files {
		if name == planKey || strings.ContainsAny(name, "/\\") || name == "" {
			return nil, fmt.Errorf("file %q: a ConfigMap holds files beside the plan only: put it next to the scenario file", name)
		}
		size += len(b)
		if utf8.Valid(b) {
			cm.Data[name] = string(b)
		} else {
			if cm.BinaryData == nil {
				cm.BinaryData = map[string][]byte{}
			}
			cm.BinaryData[name] = b
		}
	}
	if size > maxConfigMap {
		return nil, fmt.Errorf("the plan and its files take %d bytes, more than a ConfigMap holds (%d): use smaller data files", size, maxConfigMap)
	}
	return cm, nil
}

// natsObjects are the run's own NATS server with JetStream: a
// Deployment of one and its Service.
func (c *Config) natsObjects() []runtime.Object {
	one := int32(1)
	return []runtime.Object{&appsv1.Deployment{
		TypeMeta:   metav1.TypeMeta{APIVersion: "apps/v1", Kind: "Deployment"},
		ObjectMeta: c.meta(c.Name+"-nats", "nats"),
		Spec: appsv1.DeploymentSpec{
			Replicas: &one,
			Selector: &metav1.LabelSelector{MatchLabels: c.labels("nats")},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: c.labels("nats")},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{
					Name: "nats", Image: c.NATSImage, Args: []string{"--jetstream", "--store_dir", "/data"},
					Ports:        []corev1.ContainerPort{{Name: "client", ContainerPort: 4222}},
					VolumeMounts: []corev1.VolumeMount{{Name: "data", MountPath: "/data"}},
				}}, Volumes: []corev1.Volume{{Name: "data", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}}}},
			},
		},
	}, &corev1.Service{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Service"},
		ObjectMeta: c.meta(c.Name+"-nats", "nats"),
		Spec: corev1.ServiceSpec{
			Selector: c.labels("nats"),
			Ports:    []corev1.ServicePort{{Name: "client", Port: 4222, TargetPort: intstr.FromString("client")}},
		},
	}}
}

// agentsJob is the agents' Indexed Job: one pod per segment.
func (c *Config) agentsJob() *batchv1.Job {
	n := int32(c.Agents)
	zero := int32(0)
	deadline := int64(c.Deadline / time.Second)
	indexed := batchv1.IndexedCompletion
	agentArgs := append([]string{"agent", "--nats", c.natsURL(), "--once", "--name", "$(POD_NAME)"}, c.AgentArgs...)
	podName := corev1.EnvVar{Name: "POD_NAME", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.name"}}}
	return &batchv1.Job{
		TypeMeta:   metav1.TypeMeta{APIVersion: "batch/v1", Kind: "Job"},
		ObjectMeta: c.meta(c.Name+"-agents", "agent"),
		Spec: batchv1.JobSpec{
			CompletionMode: &indexed,
			Completions:    &n,
			Parallelism:    &n,
			// A failed index is never run again later, at the wrong time:
			// the coordinator reports it lost.
			BackoffLimitPerIndex:  &zero,
			MaxFailedIndexes:      &zero,
			ActiveDeadlineSeconds: &deadline,
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: c.labels("agent")},
				Spec: corev1.PodSpec{
					RestartPolicy: corev1.RestartPolicyNever,
					Containers: []corev1.Container{{
						Name: "agent", Image: c.Image, Args: agentArgs, Env: []corev1.EnvVar{podName},
					}},
				},
			},
		},
	}
}

// coordinatorJob is the coordinator's Job, which reads the plan from the
// ConfigMap.
func (c *Config) coordinatorJob() *batchv1.Job {
	zero := int32(0)
	deadline := int64(c.Deadline / time.Second)
	runArgs := append([]string{"run", "--agents", strconv.Itoa(c.Agents), "--nats", c.natsURL(), "-f", planDir + "/" + planKey}, c.RunArgs...)
	return &batchv1.Job{
		TypeMeta:   metav1.TypeMeta{APIVersion: "batch/v1", Kind: "Job"},
		ObjectMeta: c.meta(c.Name+"-coordinator", "coordinator"),
		Spec: batchv1.JobSpec{
			BackoffLimit:          &zero,
			ActiveDeadlineSeconds: &deadline,
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: c.labels("coordinator")},
				Spec: corev1.PodSpec{
					RestartPolicy: corev1.RestartPolicyNever,
					Containers: []corev1.Container{{
						Name: "coordinator", Image: c.Image, Args: runArgs,
						VolumeMounts: []corev1.VolumeMount{{Name: "plan", MountPath: planDir, ReadOnly: true}},
					}},
					Volumes: []corev1.Volume{{Name: "plan", VolumeSource: corev1.VolumeSource{
						ConfigMap: &corev1.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: c.Name + "-plan"}},
					}}},
				},
			},
		},
	}
}

// Write writes objs as YAML documents through apimachinery's serializer.
func Write(w io.Writer, objs []runtime.Object) error {
	s := json.NewSerializerWithOptions(json.DefaultMetaFactory, Scheme(), Scheme(), json.SerializerOptions{Yaml: true})
	for i, o := range objs {
		if i > 0 {
			if _, err := io.WriteString(w, "---\n"); err != nil {
				return err
			}
		}
		if err := s.Encode(o, w); err != nil {
			return err
		}
	}
	return nil
}

// Decode reads YAML documents back into typed objects ([Scheme]).
func Decode(b []byte) ([]runtime.Object, error) {
	var out []runtime.Object
	for doc := range strings.SplitSeq(string(b), "\n---\n") {
		if strings.TrimSpace(doc) == "" {
			continue
		}
		o, _, err := codecs().UniversalDeserializer().Decode([]byte(doc), nil, nil)
		if err != nil {
			return nil, err
		}
		out = append(out, o)
	}
	return out, nil
}

// Apply creates the objects in their namespace (an object that exists is
// an error that names it: delete the last run's first).
func Apply(ctx context.Context, api API, objs []runtime.Object, say func(string, ...any)) error {
	for _, o := range objs {
		kinds, _, err := Scheme().ObjectKinds(o)
		if err != nil {
			return fmt.Errorf("cannot create a %T: %w", o, err)
		}
		m, err := meta.Accessor(o)
		if err != nil {
			return fmt.Errorf("cannot create a %T: %w", o, err)
		}
		kind, name := kinds[0].Kind, m.GetName()
		err = api.Create(ctx, o)
		if apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("%s %s exists (a run before?): delete it first (kubectl delete %s %s)", kind, name, strings.ToLower(kind), name)
		}
		if err != nil {
			return fmt.Errorf("create %s %s: %w", kind, name, err)
		}
		say("created %s %s", kind, name)
	}
	return nil
}

// Status is what Follow saw at the end.
type Status struct {
	// Succeeded is set when the coordinator Job completed.
	Succeeded bool
	// FailedIndexes are the agents' indexes (segments) whose pod failed,
	// as the Indexed Job reports them ("1,3-4").
	FailedIndexes string
	// Reasons are the failed pods' termination reasons (OOMKilled, ...),
	// "pod: reason".
	Reasons []string
}

// Follow watches the coordinator Job (name-coordinator) and the agents'
// Job until the coordinator ends or ctx is done, polling every poll.
func Follow(ctx context.Context, api API, namespace, name string, poll time.Duration, say func(string, ...any)) (Status, error) {
	var st Status
	seenFailed := ""
	for {
		agents, err := api.Job(ctx, namespace, name+"-agents")
		if err == nil && agents.Status.FailedIndexes != nil && *agents.Status.FailedIndexes != seenFailed {
			seenFailed = *agents.Status.FailedIndexes
			st.FailedIndexes = seenFailed
			st.Reasons = failedPods(ctx, api, namespace, name+"-agents")
			say("agent indexes failed: %s %s", seenFailed, strings.Join(st.Reasons, ", "))
		}
		coord, err := api.Job(ctx, namespace, name+"-coordinator")
		if err != nil {
			return st, fmt.Errorf("get the coordinator Job: %w", err)
		}
		for _, cond := range coord.Status.Conditions {
			if cond.Status != corev1.ConditionTrue {
				continue
			}
			switch cond.Type {
			case batchv1.JobComplete:
				st.Succeeded = true
				say("the coordinator completed: kubectl logs job/%s-coordinator shows the report", name)
				return st, nil
			case batchv1.JobFailed:
				st.Reasons = append(st.Reasons, failedPods(ctx, api, namespace, name+"-coordinator")...)
				return st, fmt.Errorf("the coordinator Job failed (%s): kubectl logs job/%s-coordinator shows its report", cond.Reason, name)
			}
		}
		select {
		case <-ctx.Done():
			return st, ctx.Err()
		case <-time.After(poll):
		}
	}
}

// failedPods names the job's pods that terminated with an error, and why.
func failedPods(ctx context.Context, api API, namespace, job string) []string {
	pods, err := api.Pods(ctx, namespace, "job-name="+job)
	if err != nil {
		return nil
	}
	var out []string
	for _, p := range pods.Items {
		for _, s := range p.Status.ContainerStatuses {
			if t := s.State.Terminated; t != nil && t.ExitCode != 0 {
				why := t.Reason
				if why == "" {
					why = "exit " + strconv.Itoa(int(t.ExitCode))
				}
				if idx := p.Annotations[batchv1.JobCompletionIndexAnnotation]; idx != "" {
					why = "index " + idx + ": " + why
				}
				out = append(out, p.Name+": "+why)
			}
		}
	}
	slices.Sort(out)
	return out
}
