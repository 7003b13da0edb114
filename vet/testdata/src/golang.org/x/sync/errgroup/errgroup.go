// Package errgroup is a stand-in for golang.org/x/sync/errgroup in the
// tests' GOPATH: the methods the checks recognise, with their signatures.
package errgroup

import "sync"

// Group runs goroutines.
type Group struct{ wg sync.WaitGroup }

// Go runs f in a goroutine.
func (g *Group) Go(f func() error) {
	g.wg.Add(1)
	go func() { defer g.wg.Done(); _ = f() }()
}

// Wait waits for the goroutines.
func (g *Group) Wait() error { g.wg.Wait(); return nil }
