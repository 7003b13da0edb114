package report

import (
	"fmt"
	"io"
	"strings"
)

// Agent is one agent (one segment of the plan) of a distributed run or
// of runs merged with faya merge.
type Agent struct {
	Name    string `json:"name"`
	Segment string `json:"segment"` // I/N
	// Requests and Errors count the agent's requests, and those that
	// failed: no complete response, or a status of 400 or more.
	Requests int64 `json:"requests"`
	Errors   int64 `json:"errors"`
	// Rate is the agent's requests per second of its run.
	Rate float64 `json:"rate_rps"`
	P99  int64   `json:"p99_ns"`
	// Busy is the share of its CPUs the agent's process used (0 when
	// unknown).
	Busy float64 `json:"cpu_busy"`
	// ClockOffset is the agent's clock minus the coordinator's, measured
	// by round trips; ClockKnown is false when nothing measured it (runs
	// merged from files started with --start-at rely on the machines'
	// clock sync).
	ClockOffset int64 `json:"clock_offset_ns"`
	ClockKnown  bool  `json:"clock_offset_known"`
	// State is ok, lost (the agent went silent: its last numbers are
	// counted, what it did after is not), interrupted (it was stopped
	// before its end), failed (it reported an error) or missing (its
	// segment never reported).
	State  string `json:"state"`
	Reason string `json:"reason,omitempty"`
}

// Agent states.
const (
	AgentOK          = "ok"
	AgentLost        = "lost"
	AgentInterrupted = "interrupted"
	AgentFailed      = "failed"
	AgentMissing     = "missing"
)

// Incomplete names the agents whose segment did not run whole, with
// their state ("agent-2 (segment 2/3) lost"): those lost, missing or
// failed, or else those interrupted; empty when all ran whole.
func Incomplete(agents []Agent) []string {
	var out, stopped []string
	for _, a := range agents {
		s := fmt.Sprintf("%s (segment %s) %s", a.Name, a.Segment, a.State)
		switch a.State {
		case AgentOK:
		case AgentInterrupted:
			stopped = append(stopped, s)
		default:
			out = append(out, s)
		}
	}
	if len(out) == 0 {
		return stopped
	}
	return out
}

// agents prints the per-agent table.
func (t *textWriter) agents(r *Report) {
	if len(r.Agents) == 0 {
		return
	}
	t.printf("Agents\n")
	width := len("agent")
	for _, a := range r.Agents {
		width = max(width, len(a.Name))
	}
	t.table(func(w io.Writer) {
		fmt.Fprintf(w, "  %-*s\tsegment\trequests\terrors\trate\tp99\tCPU busy\tclock offset\tstate\t\n", width, "agent")
		for _, a := range r.Agents {
			busy, off := "-", "unknown"
			if a.Busy > 0 {
				busy = fmt.Sprintf("%.0f%%", 100*a.Busy)
			}
			if a.ClockKnown {
				off = signedDuration(a.ClockOffset)
			}
			p99 := "-"
			if a.P99 > 0 {
				p99 = Duration(a.P99)
			}
			fmt.Fprintf(w, "  %-*s\t%s\t%d\t%d\t%s/s\t%s\t%s\t%s\t%s\t\n", width, a.Name, a.Segment, a.Requests, a.Errors,
				sig3(a.Rate), p99, busy, off, a.State)
		}
	})
	for _, a := range r.Agents {
		if a.Reason != "" {
			t.printf("  %s: %s\n", a.Name, a.Reason)
		}
	}
	if r.NotRun != "" {
		t.printf("  not run: %s\n", r.NotRun)
	}
	t.printf("\n")
}

func signedDuration(ns int64) string {
	if ns < 0 {
		return "-" + Duration(-ns)
	}
	return "+" + Duration(ns)
}

// partialText says why a report is partial.
func partialText(r *Report) string {
	if lost := Incomplete(r.Agents); len(lost) > 0 {
		return "PARTIAL: " + strings.Join(lost, ", ") + "; the numbers cover what ran"
	}
	return "PARTIAL: the run was interrupted; the numbers cover what ran until then"
}

// agentDuration formats a duration of the agents' table ("-" for 0).
func agentDuration(ns int64) string {
	if ns == 0 {
		return "-"
	}
	return Duration(ns)
}
