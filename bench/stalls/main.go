// Command stalls measures how long the CPU it runs on is taken away from
// it: it reads the clock in a loop for a while and reports the gaps longer
// than a threshold. Run it pinned to the load generator's CPU, with the
// other CPU idle and then busy, to see what the machine itself does to a
// schedule (bench/compare.sh stalls):
//
//	taskset -c 0 go run ./bench/stalls -d 5s
package main

import (
	"flag"
	"fmt"
	"slices"
	"time"
)

func main() {
	dur := flag.Duration("d", 5*time.Second, "how long to watch")
	min := flag.Duration("min", 500*time.Microsecond, "the shortest gap counted")
	flag.Parse()
	var gaps []time.Duration
	start := time.Now()
	last := start
	for now := start; now.Sub(start) < *dur; now = time.Now() {
		if d := now.Sub(last); d >= *min {
			gaps = append(gaps, d)
		}
		last = now
	}
	var total time.Duration
	for _, g := range gaps {
		total += g
	}
	longest := time.Duration(0)
	if len(gaps) > 0 {
		longest = slices.Max(gaps)
	}
	fmt.Printf("%d gaps >= %v in %v: %v in all (%.2f%% of the time), longest %v\n",
		len(gaps), *min, *dur, total.Round(time.Microsecond), 100*total.Seconds()/dur.Seconds(), longest.Round(time.Microsecond))
}
