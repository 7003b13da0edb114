package engine

import (
	"context"
	"math"
	"net/http"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/faya-load/faya/metrics"
	"golang.org/x/sync/errgroup"
)

// runner runs one scenario's executor.
type runner struct {
	sc        *Scenario
	cs        *cscenario
	plan      *Plan
	stepIdx   []int                    // by compiled step seq: the recorder's step index + 1
	cursors   map[string]*atomic.Int64 // sequential data sources' shared cursors
	scripted  bool                     // VUs keep a session (setup, templates, extractions, checks, data)
	steps     *stepTable
	firstVU   int // the scenario's VUs are firstVU, firstVU+1, ...
	newClient clientFactory
	rec       *metrics.Recorder
	epoch     time.Time // the run's clock: intended starts are offsets from it
	grace     time.Duration
	lateAfter time.Duration
	precise   bool    // wait for arrivals with the precise sleeper
	seg       Segment // the part of the scenario this process runs (segment.go)
}

func (r *runner) now() time.Duration { return time.Since(r.epoch) }

// vu is one virtual user of a scenario.
type vu struct {
	// The sample first, then what every request reads: with many VUs a
	// request finds its VU's lines cold, and each one it touches is a
	// miss (bench/instr.sh cache).
	s       metrics.Sample
	r       *runner
	c       client
	shard   *metrics.Shard
	sess    *vuSession // scripted scenarios
	fn      *VU        // Go scenarios
	fnStop  bool
	fnSetup bool
	sreq    request // the plain path's request
	id      int     // unique in the run, from 0
	fnSess  *vuSession

	pss   []metrics.Sample // pipelined requests' samples (Plan.Pipeline)
	perrs []error
}

func (r *runner) newVU(id int) (*vu, error) {
	c, err := r.newClient(r.sc, id)
	if err != nil {
		return nil, err
	}
	r.rec.VUs.Allocated(1)
	v := &vu{r: r, id: id, c: c, shard: r.rec.Shard(id)}
	switch {
	case r.sc.Func != nil:
		s := r.newSession(id)
		v.fn = &VU{ID: id + 1, Vars: s.data.Vars(), Data: s.data.Rows()}
		for i := range s.rows {
			s.rows[i].take(id)
		}
		v.fnSess = s
		rt := &goRoundTripper{c: c, rec: v.recordFunc}
		maxRedirects := r.plan.MaxRedirects
		v.fn.client = &http.Client{Transport: rt, Jar: s.jar.CookieJar(),
			CheckRedirect: func(_ *http.Request, via []*http.Request) error {
				if len(via) > maxRedirects {
					return http.ErrUseLastResponse // the 3xx is the answer
				}
				return nil
			}}
	case r.scripted:
		v.sess = r.newSession(id)
	}
	return v, nil
}

// recordFunc records a request of a Go scenario under its step.
func (v *vu) recordFunc(ctx context.Context, method, path string, s *metrics.Sample, err error) {
	name, ok := stepOf(ctx)
	if !ok || name == "" {
		name = method + " " + path
	}
	s.Setup = !v.fnSetup // requests made in Setup run before fnSetup is set
	s.CookiesDropped = int32(v.fnSess.jar.TakeDropped())
	s.Step = v.r.steps.index(v.r.rec, v.r.sc.Name, name, s.Setup) + 1
	v.shard.Record(s, err)
}

// run executes the scenario until its executor is done. stop (the run's
// context) ends it early: no new iteration starts; iterations in flight get
// the grace period, then their requests are canceled.
func (r *runner) run(ctx context.Context) error {
	ex := r.sc.Executor
	stop := ctx
	if d := ex.Length(); d > 0 {
		var cancel context.CancelFunc
		stop, cancel = context.WithDeadline(stop, r.epoch.Add(d))
		defer cancel()
	}
	// Requests run under their own context: stopping does not cancel them
	// until the grace period after the stop is over.
	reqCtx, cancelReq := context.WithCancel(context.WithoutCancel(stop))
	defer cancelReq()
	var graceTimer *time.Timer
	var mu sync.Mutex
	stopGrace := context.AfterFunc(stop, func() {
		mu.Lock()
		graceTimer = time.AfterFunc(r.grace, cancelReq)
		mu.Unlock()
	})
	defer func() {
		stopGrace()
		mu.Lock()
		if graceTimer != nil {
			graceTimer.Stop()
		}
		mu.Unlock()
	}()

	switch ex.Type {
	case VUs:
		return r.runClosed(stop, reqCtx)
	case RampingVUs:
		return r.runRampingVUs(stop, reqCtx)
	case ConstantRate, RampingRate:
		// The schedule ends by itself; a late scheduler still starts every
		// iteration due before the end. Only the run's stop cuts it short.
		return r.runArrivals(ctx, reqCtx)
	}
	return nil
}

// runClosed runs a fixed number of VUs, each starting its next iteration
// when the last one ended, until stop or until the scenario's iterations
// are used up. The iterations are split among the VUs (VU i runs n/VUs,
// one more while i < n mod VUs, as hey's workers do): each VU's share is
// fixed, so a VU's connections serve a known number of requests, and a VU
// with no share does not start.
func (r *runner) runClosed(stop, reqCtx context.Context) error {
	ex := r.sc.Executor
	end := r.end()
	var g errgroup.Group
	for i := range ex.VUs {
		left := int64(-1) // no count: the run's length decides
		if ex.Iterations > 0 {
			left = ex.Iterations / int64(ex.VUs)
			if int64(i) < ex.Iterations%int64(ex.VUs) {
				left++
			}
			if left == 0 {
				continue
			}
		}
		g.Go(func() error { return r.closedVU(i, left, end, stop, reqCtx) })
	}
	return g.Wait()
}

// closedVU runs the closed model's VU i: left iterations (negative: no
// count), until stop or the executor's end. Its loop's state stays in
// its own frame, not in a closure's captured variables on the heap: one
// cache line fewer for each of its requests.
func (r *runner) closedVU(i int, left int64, end time.Duration, stop, reqCtx context.Context) error {
	v, err := r.newVU(r.vuID(i))
	if err != nil {
		return err
	}
	if stop.Err() == nil {
		v.prepare(reqCtx) // log in as the VU starts, like a user
	}
	// The end is checked against the clock read when the last
	// iteration ended (no extra clock read per iteration).
	batch := int64(max(r.plan.Pipeline, 1))
	for last := time.Duration(0); left != 0 && stop.Err() == nil && last < end && !v.stopped(); {
		n := batch
		if left > 0 {
			n = min(batch, left)
			left -= n
		}
		if batch > 1 {
			last = v.iteratePipeline(reqCtx, int(n))
		} else {
			last = v.iterate(reqCtx, unscheduled)
		}
	}
	return nil
}

// end is when the executor stops starting iterations, on the run's clock.
// Checking the clock, not only the stop context, makes an iteration that
// ends exactly at the end not start another.
func (r *runner) end() time.Duration {
	if d := r.sc.Executor.Length(); d > 0 {
		return d
	}
	return math.MaxInt64
}

// runRampingVUs runs a closed model whose number of active VUs follows the
// stages. VU k (0-based) is active while the scheduled count is above k: it
// starts iterations then, and otherwise sleeps until its next activation.
// A VU that is deactivated finishes its iteration first.
func (r *runner) runRampingVUs(stop, reqCtx context.Context) error {
	changes, end := vuSchedule(r.sc.Executor.VUStages)
	activeAt := func(t time.Duration) int {
		i := sort.Search(len(changes), func(i int) bool { return changes[i].at > t }) - 1
		if i < 0 {
			return 0
		}
		return changes[i].vus
	}
	// nextActive returns the first change after t that activates VU id.
	nextActive := func(id int, t time.Duration) (time.Duration, bool) {
		for _, c := range changes {
			if c.at > t && c.vus > id {
				return c.at, true
			}
		}
		return 0, false
	}
	var g errgroup.Group
	for id := range r.sc.Executor.PeakVUs() {
		if !r.seg.Owns(int64(id)) {
			continue
		}
		g.Go(func() error {
			var v *vu
			timer := time.NewTimer(time.Hour)
			defer timer.Stop()
			now := r.now()
			for stop.Err() == nil {
				if now >= end {
					return nil
				}
				if id < activeAt(now) {
					if v == nil {
						var err error
						if v, err = r.newVU(r.firstVU + id); err != nil {
							return err
						}
					}
					// The iteration's end is the time now: no second clock
					// reading per request (a clock that did not move on is
					// read again).
					if e := v.iterate(reqCtx, unscheduled); e > now {
						now = e
					} else {
						now = r.now()
					}
					if v.stopped() {
						return nil
					}
					continue
				}
				next, ok := nextActive(id, now)
				if !ok || next >= end {
					return nil
				}
				timer.Reset(next - now)
				select {
				case <-timer.C:
				case <-stop.Done():
				}
				now = r.now()
			}
			return nil
		})
	}
	return g.Wait()
}

// scheduleQuantum is the grid the open-model scheduler wakes on. Waking a
// process costs (in a VM, tens of microseconds of CPU); at 5,000 arrivals a
// second, a wake-up per arrival costs half a core. On a 500 µs grid, the
// lag stays within 0.5 ms plus the wake-up latency.
const scheduleQuantum = 500 * time.Microsecond

// job is one open-model iteration handed to a VU.
type job struct{ intended time.Duration }

// idleVUs is the stack of open-model VUs waiting for an iteration. A VU
// puts itself on it before it waits, so that "free" means exactly "on the
// stack": the scheduler never misses a VU that is about to wait.
type idleVUs struct {
	mu   sync.Mutex
	list []chan job
}

func (q *idleVUs) push(c chan job) {
	q.mu.Lock()
	q.list = append(q.list, c)
	q.mu.Unlock()
}

func (q *idleVUs) pop() (chan job, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	n := len(q.list)
	if n == 0 {
		return nil, false
	}
	c := q.list[n-1]
	q.list = q.list[:n-1]
	return c, true
}

// cursor is the next iteration of an open-model schedule not yet taken.
// The scheduler and the VUs take iterations from it, each exactly once.
type cursor struct {
	sched *arrivals
	next  atomic.Int64
	// offset is when the schedule starts on the run's clock: after the
	// pre-allocated VUs' setup (their logins), 0 without one.
	offset time.Duration
	// seg is the segment of the schedule taken: iteration i of the
	// cursor is the schedule's iteration seg.Global(i); total is its
	// count (segment.go).
	seg   Segment
	total int64
}

// count is the number of iterations the cursor hands out.
func (c *cursor) count() int64 {
	if c.seg.Whole() {
		return c.sched.total
	}
	return c.total
}

// at is the intended start of iteration i on the run's clock.
func (c *cursor) at(i int64) time.Duration { return c.offset + c.sched.at(c.seg.Global(i)) }

// take returns the next iteration and its intended start if that start
// is not after now.
func (c *cursor) take(now time.Duration) (time.Duration, bool) {
	for {
		i := c.next.Load()
		if i >= c.count() {
			return 0, false
		}
		t := c.at(i)
		if t > now {
			return 0, false
		}
		if c.next.CompareAndSwap(i, i+1) {
			return t, true
		}
	}
}

// runArrivals runs an arrival-rate executor. A scheduler owns time: it
// wakes when iterations are due and hands each to a free VU. VUs are
// pre-allocated and grow up to MaxVUs; when none is free and none can be
// added, the iteration is dropped and counted, never delayed.
//
// VUs with a setup (a login) run it before they take arrivals, measured
// as setup: the pre-allocated ones before the schedule starts (it starts
// when they are done), and VUs added later before they join the free
// ones, while the arrival that found none free is dropped. A login is
// then never part of an iteration's lag or latency. A VU that
// ends an iteration while others are due takes the next one itself, so
// that the schedule does not wait for the scheduler's turn on a busy CPU
// (behind hundreds of VUs made runnable at once, it waited tens of
// milliseconds).
//
// Longer than the others: the scheduler loop and startVU share the VU
// list, the idle stack, the cursor and the count of VUs in their setup;
// split, each piece would take all of them.
func (r *runner) runArrivals(stop, reqCtx context.Context) error {
	ex := r.sc.Executor
	sched, err := newArrivals(ex.rateStages())
	if err != nil {
		return err
	}
	cur := r.newCursor(sched)
	var idle idleVUs
	var all []chan job
	var g errgroup.Group
	var ready sync.WaitGroup
	setup := r.hasSetup()
	var preparing atomic.Int64 // VUs added during the run, in their setup
	startVU := func(first *job) {
		id := r.vuID(len(all))
		jobs := make(chan job, 1)
		all = append(all, jobs)
		if first != nil {
			jobs <- *first
		}
		ready.Add(1)
		g.Go(func() error {
			v, err := r.newVU(id)
			if err != nil {
				ready.Done()
				return err
			}
			if first == nil {
				v.prepare(reqCtx)
				idle.push(jobs)
			}
			ready.Done()
			if first == nil && setup {
				preparing.Add(-1)
			}
			for j := range jobs {
				end := v.iterate(reqCtx, j.intended)
				for !v.stopped() && stop.Err() == nil {
					t, ok := cur.take(end)
					if !ok {
						break
					}
					r.rec.Sched.Sent()
					end = v.iterate(reqCtx, t)
				}
				if v.stopped() {
					// A stopped VU stays taken: later arrivals go to
					// the others, or are dropped.
					return nil
				}
				idle.push(jobs)
			}
			return nil
		})
	}
	for range min(ex.PreVUs, ex.MaxVUs) {
		preparing.Add(b2i(setup))
		startVU(nil)
	}
	ready.Wait() // the pre-allocated VUs are free (set up) before the first arrival
	if setup {
		cur.offset = r.now()
	}

	sl := newSleeper(r.precise)
	defer sl.close()
	for {
		i := cur.next.Load()
		if i >= cur.count() {
			break
		}
		now := r.now()
		if t := cur.at(i); t > now {
			// Wake on a grid of scheduleQuantum: arrivals closer together
			// than that are started on one wake-up (each measured from its
			// own intended start), which saves most of the cost of waking.
			wake := (t + scheduleQuantum - 1) / scheduleQuantum * scheduleQuantum
			if !sl.sleep(wake-now, stop.Done()) {
				break
			}
			now = r.now()
		}
		if stop.Err() != nil {
			break
		}
		for {
			t, ok := cur.take(now)
			if !ok {
				break
			}
			j := job{intended: t}
			switch c, ok := idle.pop(); {
			case ok:
				c <- j
				r.rec.Sched.Sent()
			case len(all) < ex.MaxVUs && !setup:
				startVU(&j)
				r.rec.Sched.Sent()
			case len(all) < ex.MaxVUs && preparing.Load() < int64(max(4, len(all)/4)):
				// A new VU sets up before it takes arrivals: this one is
				// dropped, as when every VU is busy.
				preparing.Add(1)
				startVU(nil)
				r.rec.Sched.Dropped()
			default:
				r.rec.Sched.Dropped()
			}
		}
	}
	for _, c := range all {
		close(c)
	}
	return g.Wait()
}

// hasSetup reports whether the scenario's VUs run a setup (a login)
// before their first iteration.
func (r *runner) hasSetup() bool {
	return len(r.cs.setup) > 0 || r.sc.Func != nil && r.sc.Func.Setup != nil
}

func b2i(b bool) int64 {
	if b {
		return 1
	}
	return 0
}
