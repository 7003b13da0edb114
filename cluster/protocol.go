package cluster

import (
	"time"

	"github.com/faya-load/faya/diagnose"
	"github.com/faya-load/faya/engine"
	"github.com/faya-load/faya/internal/runfile"
	"github.com/faya-load/faya/metrics"
	"github.com/faya-load/faya/report"
)

// Subjects. A run's subjects start with faya.run.<run id>.
const (
	subjectJoin = "faya.join" // agents ask to join a run (request/reply)
	// subjectAgent is the control subject of one agent: faya.agent.<id>.
	subjectAgent = "faya.agent."
	subjectRun   = "faya.run."
)

func agentSubject(id string) string      { return subjectAgent + id }
func hbSubject(run, who string) string   { return subjectRun + run + ".hb." + who }
func dataSubjects(run string) string     { return subjectRun + run + ".data.>" }
func ivSubject(run, agent string) string { return subjectRun + run + ".data.iv." + agent }
func endSubject(run, agent string) string {
	return subjectRun + run + ".data.end." + agent
}
func streamName(run string) string { return "FAYA_" + run }

// coordinatorHB names the coordinator in heartbeat subjects.
const coordinatorHB = "coordinator"

// joinRequest is an agent asking to join.
type joinRequest struct {
	ID      string `json:"id"` // its control subject's suffix
	Name    string `json:"name"`
	Version string `json:"version"`
}

// joinReply accepts an agent into a run, or not (the run is full).
type joinReply struct {
	OK     bool   `json:"ok"`
	Reason string `json:"reason,omitempty"`
	Run    string `json:"run,omitempty"`
	// Timeout is the silence after which either side gives the other up.
	Timeout time.Duration `json:"timeout"`
}

// Control operations the coordinator sends an agent.
const (
	opPing  = "ping"
	opPlan  = "plan"
	opStart = "start"
	opStop  = "stop"
)

type control struct {
	Op      string          `json:"op"`
	Run     string          `json:"run"`
	Plan    *engine.Plan    `json:"plan,omitempty"`
	Segment engine.Segment  `json:"segment"`
	Meta    *report.Meta    `json:"meta,omitempty"`
	Start   time.Time       `json:"start,omitzero"` // in the agent's clock
	Offset  time.Duration   `json:"offset,omitempty"`
	Origin  *runfile.Origin `json:"origin,omitempty"`
}

type controlReply struct {
	OK  bool      `json:"ok"`
	Err string    `json:"error,omitempty"`
	Now time.Time `json:"now"` // the agent's clock when it answered
}

// final is an agent's result: what its saved run's end holds.
type final struct {
	Err        string            `json:"error,omitempty"`
	Total      *metrics.Snapshot `json:"total"`
	Duration   time.Duration     `json:"duration"`
	Partial    bool              `json:"partial"`
	OpenAtEnd  int64             `json:"open_at_end"`
	Scheduling time.Duration     `json:"scheduling"`
	CPU        time.Duration     `json:"cpu"`
	CPUs       int               `json:"cpus"`
	RunDelay   time.Duration     `json:"run_delay"`
	Sockets    diagnose.Sockets  `json:"sockets"`
	Steps      []engine.StepInfo `json:"steps"`
	Start      time.Time         `json:"start"` // in the agent's clock
	Intervals  int               `json:"intervals"`
}
