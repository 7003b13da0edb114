package engine

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/faya-load/faya/internal/session"
	"github.com/faya-load/faya/metrics"
)

// VU is one virtual user as a scenario written in Go sees it.
type VU struct {
	// ID numbers the VU from 1.
	ID int
	// Iteration numbers the VU's iterations from 1 (0 during Setup).
	Iteration int64
	// Vars are the VU's variables, kept across iterations.
	Vars map[string]string
	// Data is the VU's current row of each data source, by column.
	Data map[string]map[string]string

	client *http.Client
}

// Client returns the VU's HTTP client: its cookie jar (the VU's session)
// over the run's connection pool and engine. Every request made through
// it is traced and measured, under the step name set with [WithStep] (by
// default "METHOD /path"). It follows redirects (at most the plan's
// MaxRedirects), each hop measured as a request of its own.
func (v *VU) Client() *http.Client { return v.client }

type stepKey struct{}

// WithStep names the requests made with ctx, for the per-step report.
func WithStep(ctx context.Context, name string) context.Context {
	return context.WithValue(ctx, stepKey{}, name)
}

func stepOf(ctx context.Context) (string, bool) {
	s, ok := ctx.Value(stepKey{}).(string)
	return s, ok
}

// request is one request a VU asks its client to send.
type request struct {
	step *cstep
	// Rendered for this request when the step is not static.
	method, url string
	header      http.Header
	body        []byte
	// jar applies the VU's cookies on every hop and keeps what the server
	// sets; nil when the scenario has no session.
	jar *session.Jar
}

// vuSession is a scripted VU's state: its session and what its templates
// read.
type vuSession struct {
	jar   *session.Jar
	data  session.Data
	buf   bytes.Buffer
	resp  session.Response
	rows  []rowPick
	iter  int64
	req   request
	setup bool // setup ran
	stop  bool // a step said stop-vu
}

// rowPick is how a VU takes rows of one data source.
type rowPick struct {
	ds   *DataSource
	row  map[string]string // the VU's current row, updated in place
	next *atomic.Int64     // sequential sources: the shared cursor
	seg  Segment           // sequential sources: take t is the run's take seg.take(t, vus)
	vus  int64             // the run's VUs
}

func (p *rowPick) take(vu int) {
	var r []string
	switch p.ds.Mode {
	case DataPerVU:
		r = p.ds.Rows[vu%len(p.ds.Rows)]
	case DataSequential:
		r = p.ds.Rows[p.seg.take(p.next.Add(1)-1, p.vus)%int64(len(p.ds.Rows))]
	default:
		r = p.ds.Rows[rand.IntN(len(p.ds.Rows))]
	}
	for i, col := range p.ds.Columns {
		if i < len(r) {
			p.row[col] = r[i]
		} else {
			p.row[col] = ""
		}
	}
}

// newSession prepares a scripted VU's session.
func (r *runner) newSession(id int) *vuSession {
	s := &vuSession{jar: session.NewJar(), data: session.NewData(id + 1)}
	rows := s.data.Rows()
	for i := range r.plan.Data {
		ds := &r.plan.Data[i]
		if len(ds.Rows) == 0 {
			continue
		}
		p := rowPick{ds: ds, row: map[string]string{}, next: r.cursors[ds.Name], seg: r.seg, vus: int64(r.plan.VUs())}
		rows[ds.Name] = p.row
		s.rows = append(s.rows, p)
	}
	return s
}

// prepare runs the VU's setup (its login), once: closed-model VUs run it
// when they start, open-model VUs before their first iteration.
func (v *vu) prepare(ctx context.Context) {
	if v.fn != nil {
		if !v.fnSetup {
			if f := v.r.sc.Func; f.Setup != nil {
				if err := f.Setup(ctx, v.fn); err != nil {
					v.fnFailed("setup", err, true)
					v.fnStop = true
					v.r.rec.VUs.Stopped()
				}
			}
			v.fnSetup = true // after: the setup's requests are marked so
		}
		return
	}
	s := v.sess
	if s == nil || s.setup {
		return
	}
	s.setup = true
	for i := range s.rows {
		s.rows[i].take(v.id) // the setup's row; per-VU rows stay
	}
	if len(v.r.cs.setup) == 0 {
		return
	}
	g := &v.r.rec.VUs
	g.Begin()
	defer g.End()
	for _, st := range v.r.cs.setup {
		if !v.step(ctx, st, unscheduled, false) {
			break
		}
		if d := st.thinkTime(v.pick); d > 0 && !sleepCtx(ctx, d) {
			break
		}
	}
}

// stopped reports whether a step (or a Go scenario's setup) stopped the
// VU: it runs no more iterations.
func (v *vu) stopped() bool {
	return v.fnStop || (v.sess != nil && v.sess.stop)
}

// iterate runs one iteration (the VU's setup first, the first time),
// every step recorded. It returns when the iteration ended, on the run's
// clock.
func (v *vu) iterate(ctx context.Context, intended time.Duration) (end time.Duration) {
	if v.sess == nil && v.fn == nil {
		return v.iteratePlain(ctx, intended)
	}
	return v.iterateSession(ctx, intended)
}

// iterateSession is iterate for a scripted or Go scenario.
func (v *vu) iterateSession(ctx context.Context, intended time.Duration) (end time.Duration) {
	// The setup runs first, apart: a VU logging in is busy once, in its
	// setup, not in an iteration too.
	v.prepare(ctx)
	g := &v.r.rec.VUs
	g.Begin()
	defer g.End()
	if v.fn != nil {
		return v.iterateFunc(ctx, intended)
	}
	s := v.sess
	if s.stop {
		return v.r.now()
	}
	s.iter++
	s.data.SetIter(s.iter)
	if v.r.sc.ResetCookies && s.iter > 1 {
		s.jar.Reset()
	}
	for i := range s.rows {
		if s.rows[i].ds.Mode != DataPerVU && s.iter > 1 {
			s.rows[i].take(v.id)
		}
	}
	for i, st := range v.r.cs.steps {
		ok := v.step(ctx, st, intended, i == 0)
		intended = unscheduled
		end = v.s.End
		if !ok {
			break
		}
		if d := st.thinkTime(v.pick); d > 0 && !sleepCtx(ctx, d) {
			break
		}
	}
	return end
}

// iteratePlain is iterate for a plain plan: every step static, no
// session, no setup. Apart, its stack frame is a fraction of iterate's:
// each VU's goroutine stack is one of the things a request finds out of
// the cache (bench/instr.sh cache).
func (v *vu) iteratePlain(ctx context.Context, intended time.Duration) (end time.Duration) {
	g := &v.r.rec.VUs
	g.Begin()
	for _, st := range v.r.cs.steps {
		v.s = metrics.Sample{First: st == v.r.cs.steps[0], Step: v.r.stepIdx[st.seq]}
		v.sreq.step = st
		err := v.c.do(ctx, &v.sreq, intended, &v.s, nil)
		if intended >= 0 && v.s.Lag > v.r.lateAfter {
			v.s.Late = true
		}
		v.shard.Record(&v.s, err)
		intended = unscheduled
		end = v.s.End
	}
	g.End()
	return end
}

func (v *vu) pick(n time.Duration) time.Duration { return time.Duration(rand.Int64N(int64(n))) }

// step sends one step's request, extracts and checks, and records it. It
// reports whether the iteration goes on.
func (v *vu) step(ctx context.Context, st *cstep, intended time.Duration, first bool) bool {
	s := v.sess
	v.s = metrics.Sample{First: first, Step: v.r.stepIdx[st.seq], Setup: st.setup}
	req := &s.req
	*req = request{step: st, jar: s.jar}
	if !st.static {
		if err := v.render(st, req); err != nil {
			// A request that cannot be built is a failed check, not traffic.
			v.s.ChecksFailed = 1
			v.s.CheckFailure = err.Error()
			v.s.NotSent = true
			v.shard.Record(&v.s, nil)
			return v.failed(st)
		}
	}
	var resp *session.Response
	if st.capture || st.headers || len(st.extract) > 0 || !st.check.Empty() {
		resp = &s.resp
		resp.Reset()
	}
	err := v.c.do(ctx, req, intended, &v.s, resp)
	v.s.CookiesDropped = int32(s.jar.TakeDropped())
	if intended >= 0 && v.s.Lag > v.r.lateAfter {
		v.s.Late = true
	}
	failed := false
	if resp != nil {
		if err != nil {
			// No response: every check and extraction fails.
			v.s.ChecksFailed = max(len(st.extract)+checkCount(&st.check), 1)
			v.s.CheckFailure = "no response"
			failed = true
		} else {
			vars := s.data.Vars()
			for _, x := range st.extract {
				if xerr := x.Apply(resp, s.jar, vars); xerr == nil {
					v.s.ChecksPassed++
				} else {
					v.s.ChecksFailed++
					if !failed {
						v.s.CheckFailure = xerr.Error()
					}
					failed = true
				}
			}
			p, f, why := st.check.Apply(resp, &s.buf, s.data)
			v.s.ChecksPassed += p
			v.s.ChecksFailed += f
			if f > 0 && !failed {
				v.s.CheckFailure = why
			}
			failed = failed || f > 0
		}
	}
	v.shard.Record(&v.s, err)
	if failed || (err != nil && st.setup) {
		return v.failed(st)
	}
	return true
}

// failed applies a step's on_failure and reports whether the iteration
// goes on.
func (v *vu) failed(st *cstep) bool {
	switch st.onFailure {
	case FailAbortIteration:
		return false
	case FailStopVU:
		if !v.sess.stop {
			v.r.rec.VUs.Stopped()
		}
		v.sess.stop = true
		return false
	}
	return true
}

func checkCount(c *session.Check) int {
	n := len(c.BodyContains) + len(c.JSON)
	if len(c.Status) > 0 {
		n++ // a status in a set is one check
	}
	return n
}

// render builds a non-static step's request from its templates.
func (v *vu) render(st *cstep, req *request) error {
	s := v.sess
	u, err := st.url.Render(&s.buf, s.data)
	if err != nil {
		return fmt.Errorf("url: %w", err)
	}
	if len(st.query) > 0 {
		u = withQuery(u, encodeParams(st.query, &s.buf, s.data))
	}
	if err := ValidateURL(u); err != nil {
		return err
	}
	req.method, req.url = st.Method, u
	if len(st.header) > 0 {
		req.header = make(http.Header, len(st.header))
		for _, h := range st.header {
			val, err := h.val.Render(&s.buf, s.data)
			if err != nil {
				return fmt.Errorf("header %s: %w", h.name, err)
			}
			req.header.Add(h.name, val)
		}
	}
	if len(st.form) > 0 {
		req.body = []byte(encodeParams(st.form, &s.buf, s.data))
		return nil
	}
	b, err := st.body.Render(&s.buf, s.data)
	if err != nil {
		return fmt.Errorf("body: %w", err)
	}
	req.body = []byte(b)
	return nil
}

// sleepCtx sleeps d, or until ctx is done; it reports whether it slept.
func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// iteratePipeline sends n requests of the plan's one step pipelined on
// one connection (Plan.Pipeline) and records each as an iteration. It
// returns when the last ended, on the run's clock.
func (v *vu) iteratePipeline(ctx context.Context, n int) time.Duration {
	g := &v.r.rec.VUs
	g.Begin()
	defer g.End()
	st := v.r.cs.steps[0]
	if cap(v.pss) < n {
		v.pss, v.perrs = make([]metrics.Sample, n), make([]error, n)
	}
	ss, errs := v.pss[:n], v.perrs[:n]
	for k := range ss {
		ss[k] = metrics.Sample{First: true, Step: v.r.stepIdx[st.seq]}
	}
	v.sreq.step = st
	v.c.pipeline(ctx, &v.sreq, ss, errs)
	end := time.Duration(0)
	for k := range ss {
		v.shard.Record(&ss[k], errs[k])
		end = max(end, ss[k].End)
	}
	return end
}

// iterateFunc runs a Go scenario's iteration (its Setup first).
func (v *vu) iterateFunc(ctx context.Context, _ time.Duration) time.Duration {
	f := v.r.sc.Func
	if v.fnStop || f.Iteration == nil {
		return v.r.now()
	}
	v.fn.Iteration++
	if v.fn.Iteration > 1 {
		for i := range v.fnSess.rows {
			if v.fnSess.rows[i].ds.Mode != DataPerVU {
				v.fnSess.rows[i].take(v.id) // the next row
			}
		}
	}
	if err := f.Iteration(ctx, v.fn); err != nil && !errors.Is(err, context.Canceled) {
		v.fnFailed("iteration", err, false)
	}
	return v.r.now()
}

// fnFailed counts a Go scenario's returned error as a failed check of a
// step named for it.
func (v *vu) fnFailed(what string, err error, setup bool) {
	s := metrics.Sample{Step: v.r.steps.index(v.r.rec, v.r.sc.Name, what, setup) + 1, ChecksFailed: 1, CheckFailure: err.Error(), Setup: setup, NotSent: true}
	v.shard.Record(&s, err)
}
