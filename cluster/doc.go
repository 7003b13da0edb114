// Package cluster runs one plan on several faya processes (agents) that
// act as one run, coordinated over NATS (JetStream).
//
// The [Coordinator] waits for agents to join, measures each one's clock
// against its own (round trips over NATS), gives each a segment of the
// plan (engine.Segment: the segments together are exactly the whole run),
// announces one start time in each agent's clock, and merges what they
// stream. Agents publish each interval's snapshot (the encoding of saved
// runs) and their final result to a JetStream stream, acknowledged, so a
// consumer that lags loses nothing. Agents and the coordinator send each
// other heartbeats: an agent silent for the agent timeout is lost (the
// run stops and its report is partial, unless lost agents are tolerated);
// an agent that hears no coordinator for that long stops its run.
//
// An [Agent] runs nothing but a faya plan, and refuses a plan whose
// targets are outside the networks it allows.
//
// [Server] starts an embedded NATS server (github.com/nats-io/nats-server)
// for a coordinator that has none to use.
package cluster
