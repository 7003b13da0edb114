// Package vet holds faya's static checks of Go code that uses net/http's
// client: the mistakes that make a program dial a new connection per
// request, drop its connections, panic on the first network error or wait
// forever. Each check is a [golang.org/x/tools/go/analysis.Analyzer]:
//
//   - [TransportPerCall] (transport-per-call): an http.Transport (or a
//     Client with its own Transport) built per request, in a loop or in
//     a function that sends one request with it, and not kept.
//   - [BodyNotDrained] (body-not-drained): a response body closed on some
//     path without having been read, so the connection cannot be reused.
//   - [RespBeforeErr] (resp-before-err): a response used, or its Close
//     deferred, before the error of the call that returned it is checked.
//   - [IdlePoolSmall] (idle-pool-small): a Transport literal whose idle
//     pool is smaller than what the goroutines using it need.
//   - [DefaultClientTimeout] (default-client-timeout): http.DefaultClient
//     (http.Get and friends) used in a loop or an HTTP handler: no
//     timeout at all.
//
// A line is exempt from a check with a comment on it or on the line above:
//
//	// faya:ignore body-not-drained
//
// [Check] loads packages with go/packages and runs the checks (faya vet);
// cmd/faya-vet runs them under go vet (-vettool). docs/vet.md explains
// each check with a before and after.
package vet
