//go:build !linux

package engine

import "time"

// processRunDelay cannot read the threads' run delay here.
func processRunDelay() (time.Duration, bool) { return 0, false }
