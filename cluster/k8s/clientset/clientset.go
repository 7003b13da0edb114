// Package clientset adapts a client-go clientset (kubernetes.Interface,
// such as client-go's fake clientset in tests) to the [k8s.API] a run
// uses. faya's own commands talk to a cluster through [k8s.NewAPI], which
// does not link client-go's kubernetes package and its every API group;
// this package does, for programs and tests that have a clientset.
package clientset

import (
	"context"
	"fmt"

	"github.com/faya-load/faya/cluster/k8s"
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes"
)

// New returns the API over cs.
func New(cs kubernetes.Interface) k8s.API { return api{cs} }

type api struct{ cs kubernetes.Interface }

func (a api) Create(ctx context.Context, o runtime.Object) error {
	var err error
	switch x := o.(type) {
	case *corev1.ConfigMap:
		_, err = a.cs.CoreV1().ConfigMaps(x.Namespace).Create(ctx, x, metav1.CreateOptions{})
	case *corev1.Service:
		_, err = a.cs.CoreV1().Services(x.Namespace).Create(ctx, x, metav1.CreateOptions{})
	case *appsv1.Deployment:
		_, err = a.cs.AppsV1().Deployments(x.Namespace).Create(ctx, x, metav1.CreateOptions{})
	case *batchv1.Job:
		_, err = a.cs.BatchV1().Jobs(x.Namespace).Create(ctx, x, metav1.CreateOptions{})
	default:
		err = fmt.Errorf("cannot create a %T", o)
	}
	return err
}

func (a api) Job(ctx context.Context, namespace, name string) (*batchv1.Job, error) {
	return a.cs.BatchV1().Jobs(namespace).Get(ctx, name, metav1.GetOptions{})
}

func (a api) Pods(ctx context.Context, namespace, selector string) (*corev1.PodList, error) {
	return a.cs.CoreV1().Pods(namespace).List(ctx, metav1.ListOptions{LabelSelector: selector})
}
