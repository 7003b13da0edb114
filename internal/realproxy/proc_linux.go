package realproxy

import (
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// setProcAttr puts the proxy in its own process group (so that stop can kill
// dante's children too) and kills it if the test binary dies without running
// its cleanups (best effort: the kernel clears the parent-death signal when
// the process changes its user, as dante does when run as root).
func setProcAttr(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}

func terminate(cmd *exec.Cmd) { _ = cmd.Process.Signal(syscall.SIGTERM) }

func kill(cmd *exec.Cmd) {
	_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	_ = cmd.Process.Kill()
}

// killGroup kills what is left of the process group of cmd (which has been
// waited for) and waits up to 2 s until none of it is running. danted's main
// process does not wait for its children when it exits: they are reparented
// to init (PID 1), which reaps them; only zombies of that kind may be left.
func killGroup(cmd *exec.Cmd) {
	pgid := cmd.Process.Pid
	_ = syscall.Kill(-pgid, syscall.SIGKILL)
	for deadline := time.Now().Add(2 * time.Second); len(groupMembers(pgid, false)) > 0 && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond)
	}
}

// groupMembers lists (from /proc) the processes of process group pgid:
// "pid (comm) state S ppid P", zombies only if zombies is set.
func groupMembers(pgid int, zombies bool) []string {
	dirs, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	var list []string
	for _, d := range dirs {
		stat, err := os.ReadFile("/proc/" + d.Name() + "/stat")
		if err != nil {
			continue
		}
		// pid (comm) state ppid pgrp ...; comm may contain spaces.
		s := string(stat)
		i := strings.LastIndexByte(s, ')')
		if i < 0 {
			continue
		}
		var state string
		var ppid, pgrp int
		if _, err := fmt.Sscan(s[i+1:], &state, &ppid, &pgrp); err != nil || pgrp != pgid {
			continue
		}
		if state == "Z" && !zombies {
			continue
		}
		list = append(list, fmt.Sprintf("%s state %s ppid %d", strings.TrimSpace(s[:i+1]), state, ppid))
	}
	return list
}

// ephemeralLow is the first port of the kernel's ephemeral range
// (net.ipv4.ip_local_port_range), 0 if it cannot be read.
func ephemeralLow() int {
	b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if err != nil {
		return 0
	}
	f := strings.Fields(string(b))
	if len(f) != 2 {
		return 0
	}
	lo, err := strconv.Atoi(f[0])
	if err != nil {
		return 0
	}
	return lo
}
