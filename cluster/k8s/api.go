package k8s

import (
	"context"
	"fmt"
	"sync"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	"k8s.io/client-go/rest"
)

// Scheme returns the scheme of the API groups of a run's objects: core/v1,
// apps/v1 and batch/v1. faya does not use client-go's kubernetes package
// and its scheme, which link and register every API group at start (50 MB
// of a 93 MB binary, and the pages a run touched: 87 MB of RSS at -c 1000
// against 61 MB without them). It is built the first time it is asked
// for, not at start: registering the three groups takes a hundred
// kilobytes and a thousand allocations, and the pages of their types,
// which every command (faya run) would pay.
func Scheme() *runtime.Scheme { return schemeCodecs().scheme }

// schemeCodecs builds the scheme and its codec factory once.
var schemeCodecs = sync.OnceValue(func() (s struct {
	scheme *runtime.Scheme
	codecs serializer.CodecFactory
}) {
	s.scheme = runtime.NewScheme()
	utilruntime.Must(corev1.AddToScheme(s.scheme))
	utilruntime.Must(appsv1.AddToScheme(s.scheme))
	utilruntime.Must(batchv1.AddToScheme(s.scheme))
	s.codecs = serializer.NewCodecFactory(s.scheme)
	return s
})

// codecs returns the scheme's codec factory.
func codecs() serializer.CodecFactory { return schemeCodecs().codecs }

// API is the part of the Kubernetes API a run uses. [NewAPI] talks to a
// cluster; package clientset adapts a client-go clientset (its fake in
// tests).
type API interface {
	// Create creates o (a ConfigMap, Service, Deployment or Job) in its
	// namespace; an object that exists is an error for which
	// apierrors.IsAlreadyExists holds.
	Create(ctx context.Context, o runtime.Object) error
	// Job returns the Job name in namespace.
	Job(ctx context.Context, namespace, name string) (*batchv1.Job, error)
	// Pods lists the pods in namespace that the label selector selects.
	Pods(ctx context.Context, namespace, selector string) (*corev1.PodList, error)
}

// NewAPI returns an API over the cluster c describes (a kubeconfig's
// client config), through client-go's REST client.
func NewAPI(c *rest.Config) (API, error) {
	client := func(gv schema.GroupVersion, path string) (rest.Interface, error) {
		cfg := rest.CopyConfig(c)
		cfg.GroupVersion, cfg.APIPath = &gv, path
		cfg.NegotiatedSerializer = codecs().WithoutConversion()
		if cfg.UserAgent == "" {
			cfg.UserAgent = rest.DefaultKubernetesUserAgent()
		}
		return rest.RESTClientFor(cfg)
	}
	var a restAPI
	var err error
	if a.core, err = client(corev1.SchemeGroupVersion, "/api"); err != nil {
		return nil, err
	}
	if a.apps, err = client(appsv1.SchemeGroupVersion, "/apis"); err != nil {
		return nil, err
	}
	if a.batch, err = client(batchv1.SchemeGroupVersion, "/apis"); err != nil {
		return nil, err
	}
	return &a, nil
}

// restAPI is API over one REST client per API group.
type restAPI struct{ core, apps, batch rest.Interface }

func (a *restAPI) Create(ctx context.Context, o runtime.Object) error {
	var c rest.Interface
	var resource, namespace string
	switch x := o.(type) {
	case *corev1.ConfigMap:
		c, resource, namespace = a.core, "configmaps", x.Namespace
	case *corev1.Service:
		c, resource, namespace = a.core, "services", x.Namespace
	case *appsv1.Deployment:
		c, resource, namespace = a.apps, "deployments", x.Namespace
	case *batchv1.Job:
		c, resource, namespace = a.batch, "jobs", x.Namespace
	default:
		return fmt.Errorf("cannot create a %T", o)
	}
	return c.Post().Namespace(namespace).Resource(resource).Body(o).Do(ctx).Error()
}

func (a *restAPI) Job(ctx context.Context, namespace, name string) (*batchv1.Job, error) {
	j := &batchv1.Job{}
	err := a.batch.Get().Namespace(namespace).Resource("jobs").Name(name).Do(ctx).Into(j)
	return j, err
}

func (a *restAPI) Pods(ctx context.Context, namespace, selector string) (*corev1.PodList, error) {
	l := &corev1.PodList{}
	err := a.core.Get().Namespace(namespace).Resource("pods").Param("labelSelector", selector).Do(ctx).Into(l)
	return l, err
}
