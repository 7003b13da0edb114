// Package enginetest runs a behavioural test against each HTTP engine, so
// that what one engine is held to, every engine is: connection counts,
// close reasons, error classes, redirects, cookies, proxies, timeouts.
// A new engine added to engine.Engines joins every suite written with
// [ForEach].
package enginetest

import (
	"strings"
	"testing"

	"github.com/faya-load/faya/engine"
)

// ForEach runs test once per engine of engine.Engines, as a subtest named
// for it without its slash ("h1", "nethttp").
func ForEach(t *testing.T, test func(t *testing.T, eng string)) {
	t.Helper()
	for _, eng := range engine.Engines() {
		t.Run(Name(eng), func(t *testing.T) { test(t, eng) })
	}
}

// Name is the subtest name of engine eng: its name without slashes.
func Name(eng string) string { return strings.ReplaceAll(eng, "/", "") }
