// Package progress shows a run as it goes, from the engine's interval
// snapshots (never from a request's path): on a terminal, a compact view
// rewritten once per interval (elapsed and remaining time, a progress bar,
// requests per second, errors, p50 and p99 of the last interval,
// connections open, idle and new per second); elsewhere (CI, pipes), a
// plain line every few seconds. A finding that becomes true during the run
// (the idle pool too small, TIME_WAIT climbing, the rate falling behind)
// is printed when it does, not only in the final report.
package progress
