//go:build !linux

package engine

func newSleeper(bool) sleeper { return newTimerSleeper() }
