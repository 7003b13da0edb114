// Package report turns a run into its reports: text for people ([Text]),
// JSON for programs ([JSON]) and a self-contained HTML page ([HTML]).
//
// [Describe] describes a run from its engine as a [Meta]: the plan with
// its defaults applied, the proxies, faya's version, secrets redacted.
// [Build] derives a [Report] from a [Run]: the Meta, the engine's
// [engine.Result] and what was measured beside the engine (socket
// readings, evaluated thresholds). It computes each section from the
// run's total snapshot and time series, then asks diagnose for the
// findings and for what limited the rate.
//
//	e, err := engine.New(plan)
//	...
//	res, err := e.Run(ctx)
//	...
//	rep := report.Build(report.Run{Meta: report.Describe(e), Result: *res})
//	err = report.Text(os.Stdout, rep)
//
// The JSON document is the Report itself, field for field: a
// schema_version ([SchemaVersion]), durations in nanoseconds, the schema
// documented in docs/json.md. The HTML page draws its charts as inline
// SVG, laid out in Go and written by an embedded template; it loads
// nothing and holds no time of its own, so one report gives one page,
// byte for byte. Rendering does no I/O beyond the io.Writer it is given.
package report
