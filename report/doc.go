// Package report renders a run's measurements for people ([Text]) and
// programs ([JSON]). [Build] derives a [Report] from a metrics snapshot and
// the run's [Meta]; the JSON document is the Report itself, with a
// schema_version, durations in nanoseconds, and the schema documented in
// docs/json.md. Rendering does no I/O beyond the io.Writer it is given.
package report
