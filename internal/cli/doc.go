// Package cli is faya's command line: the subcommands (run, validate,
// doctor, report, merge, agent, k8s, demo, target, vet), their flags, the
// mapping from flags and scenario files to an engine.Plan (run by the
// engine's default h1 client unless --engine net/http), and exit codes.
// It holds the process's standard streams, arguments and environment
// ([Main] takes its streams and a context, canceled by the first Ctrl-C,
// and returns the exit code); the library packages read files only where
// asked to (scenario files, saved runs) and the engine reads the proxy
// environment (HTTP_PROXY, NO_PROXY) when a plan asks for it.
package cli
