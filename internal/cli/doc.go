// Package cli is faya's command line: the subcommands (run, demo, target),
// their flags, the mapping from flags to an engine.Plan, and exit codes.
// It is the only package that touches os.*; [Main] takes its standard
// streams and a context (canceled by the first Ctrl-C) and returns the exit
// code.
package cli
