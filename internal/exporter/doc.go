// Package exporter serves a run's metrics to Prometheus while it runs.
//
// It never reads the per-request hot path. The engine's collector
// goroutine calls [Exporter.Update] once per interval (see
// engine.WithIntervals) with the run's cumulative snapshot and the
// interval's point; Update copies the counters and turns the HDR
// histograms into fixed Prometheus buckets (about 1 ms and 3 MB of
// garbage when all eleven histograms changed; an unchanged one is
// skipped), then publishes that state atomically. A scrape reads only the
// latest published state and turns it into const metrics (a custom
// prometheus.Collector), so scrapes cost the run nothing and the numbers
// are as fresh as the last interval.
//
// Wiring:
//
//	x := exporter.New()
//	addr, stopped, err := x.Serve(ctx, "127.0.0.1:9464")
//	// print "metrics on http://" + addr.String() + "/metrics"
//	e, err := engine.New(plan, engine.WithIntervals(func(iv engine.Interval) {
//		x.Update(iv.Total, iv.Point)
//	}))
//	...
//	cancel(); err = <-stopped
//
// [Exporter.Handler] serves a registry of its own with, besides the run's
// faya_* metrics, the process collector (process_cpu_seconds_total,
// process_resident_memory_bytes, process_open_fds, ...: the generator's own
// saturation) and the Go collector (go_goroutines, go_gc_duration_seconds,
// ...: GC pauses delay requests).
//
// The run's metrics:
//
//	faya_requests_total{status}              counter  responses by HTTP status code
//	faya_request_errors_total{class}         counter  failed requests by error class (all classes, zeros included)
//	faya_request_duration_seconds            histogram  latency
//	faya_request_phase_seconds{phase}        histogram  blocked, dns, connect, proxy, tls, send, wait, receive
//	faya_request_service_time_seconds        histogram  latency without client-side queueing
//	faya_schedule_lag_seconds                histogram  open model: actual minus intended start
//	faya_connections_dialed_total            counter
//	faya_connections_closed_total{reason}    counter  all 13 close reasons, zeros included
//	faya_connection_reuses_total             counter  requests on a reused connection
//	faya_connections_open                    gauge    at the end of the last interval
//	faya_connections_active                  gauge    at the end of the last interval
//	faya_idle_put_errors_total{reason}       counter  net/http's seven reasons, zeros included
//	faya_vus_busy                            gauge    the most busy at once in the last interval
//	faya_vus_allocated                       gauge
//	faya_iterations_total                    counter
//	faya_iterations_dropped_total            counter
//	faya_iterations_late_total               counter
//	faya_checks_total{result}                counter  passed, failed
//	faya_setup_requests_total                counter
//
// Histogram buckets (le, seconds) are a 1-2-5 series from 0.0001 to 20,
// then 30 and 60. They are computed from the HDR histograms (3 significant
// digits): a value counts under a bound when the lowest value of its HDR
// bucket is at or below the bound, so values up to 0.1% above a bound may
// count under it. The sum is the HDR mean times the count.
//
// Before the first Update the exporter serves an empty run: every counter
// and gauge at zero and empty histograms, so that rate() sees the run from
// its start; faya_requests_total has no series until a status is seen.
// Cumulative counters only grow as long as every Update gets the same
// run's cumulative total.
package exporter
