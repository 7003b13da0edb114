// Package scenario reads faya's scenario files: YAML that names a base URL,
// defaults, transport settings, data sources, one or more scenarios (each
// with an executor, setup steps and iteration steps) and thresholds, and
// compiles them to an engine.Plan.
//
// Parsing is strict. Unknown keys, values of the wrong type, bad
// durations, variables no step defines, data files that cannot be read:
// every problem is reported at once, each at its file and line with a hint,
// before anything is sent. The format is documented in docs/scenarios.md.
package scenario
