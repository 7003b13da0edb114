// Package target is faya's built-in target server, used by faya demo, the
// tests and the benchmarks. It answers fast fixed bodies, sized bodies,
// slow answers, any status and "Connection: close", and counts accepted
// connections (through http.Server.ConnState) and requests, exposed at
// /stats.
package target
