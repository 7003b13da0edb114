package cli

import "github.com/spf13/cobra"

func newK8sCmd(e *env) *cobra.Command { return &cobra.Command{Use: "k8s", Hidden: true} }
