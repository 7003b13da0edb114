//go:build !linux

package realproxy

import (
	"os/exec"
	"syscall"
)

func setProcAttr(cmd *exec.Cmd) {}

func terminate(cmd *exec.Cmd) {
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		_ = cmd.Process.Kill()
	}
}

func kill(cmd *exec.Cmd) { _ = cmd.Process.Kill() }

func killGroup(cmd *exec.Cmd) {}

func groupMembers(pgid int, zombies bool) []string { return nil }

func ephemeralLow() int { return 0 }
