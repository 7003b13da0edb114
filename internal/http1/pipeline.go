package http1

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/faya-load/faya/metrics"
)

// errUnanswered is the failure of a pipelined request its connection
// closed before answering, when no retry is left; it wraps what the
// connection said, which gives the class.
var errUnanswered = errors.New("http1: the connection closed before answering a pipelined request")

// DoPipeline sends len(res) copies of req on one connection without
// waiting for their answers (HTTP/1.1 pipelining), then reads the answers
// in order. res[k] and errs[k] are request k's measurements and failure
// (nil: answered whole). Each request's latency runs from the batch's
// start to the end of its own answer; its wait from the end of the answer
// before it (or of the write) to its first byte.
//
// When the server closes the connection before answering them all (it
// had closed it while idle, or closes after its Nth request, as nginx
// does at keepalive_requests), the unanswered requests are sent again on
// another connection and counted as retries: only when the connection
// had served before (reused, or answered some of the batch), as net/http
// retries only on a reused connection. A new connection that ends before
// any answer fails the batch with what it said (a reset, an EOF), and a
// request is sent at most 1+maxRetries times. req must be idempotent (GET
// or HEAD); redirects are not followed.
func (cl *Client) DoPipeline(ctx context.Context, req *Request, res []Result, errs []error) {
	cl.watch(ctx)
	d := cl.pool.d
	start := d.Now()
	cl.due = start + cl.Timeout
	for k := range res {
		res[k] = Result{Start: start}
		errs[k] = nil
	}
	done, retries := 0, 0
	for {
		n, why := cl.pipelineOnce(ctx, req, res[done:], errs[done:])
		done += n
		if done == len(res) {
			return
		}
		// The connection closed before answering the rest: send them
		// again on another.
		if retries++; retries > maxRetries || ctx.Err() != nil {
			for k := done; k < len(res); k++ {
				res[k].End, errs[k] = d.Now(), fmt.Errorf("%w: %w", errUnanswered, why)
			}
			return
		}
		for k := done; k < len(res); k++ {
			res[k].Retries++
		}
	}
}

// Long, as hop is, for the same reason: one batch's steps on one
// connection, in order, sharing its state.
//
// pipelineOnce writes the requests of res on one connection and reads
// their answers. It returns how many ended (answered, or failed for
// good); the rest must go again on another connection, which closed
// saying why.
func (cl *Client) pipelineOnce(ctx context.Context, req *Request, res []Result, errs []error) (int, error) {
	d := cl.pool.d
	t0 := d.Now()
	rt := req.route(nil)
	c, src, err := cl.pool.get(ctx, cl, req, rt, t0, false, cl.due)
	got := d.Now()
	if err != nil {
		if ctx.Err() == nil && got >= cl.due {
			err = &TimeoutError{After: cl.Timeout, Err: err}
		}
		for k := range res {
			res[k].Timings.Add(metrics.PhaseBlocked, got-t0)
			res[k].End, errs[k] = got, err
		}
		return len(res), nil
	}
	tc := c.tc
	fresh := tc.Acquire()
	tc.AddRequests(int64(len(res) - 1))
	var dial time.Duration
	if src == fromDial {
		dial = tc.AddDialPhases(&res[0].Timings)
	}
	for k := range res {
		res[k].Dest = tc.Dest
		res[k].Timings.Add(metrics.PhaseBlocked, max(got-t0-dial, 0))
		if k == 0 && fresh {
			res[k].Fresh++
		} else {
			res[k].Reused++
		}
	}
	if src == fromIdle {
		res[0].WasIdle, res[0].IdleTime = true, got-c.idleSince
	}

	cl.cur.Store(c)
	cl.arm(c)
	if ctx.Err() != nil {
		c.armed.Store(0)
		_ = c.nc.SetDeadline(aLongTimeAgo)
	}
	_, err = c.nc.Write(cl.batch(rt.raw, len(res)))
	wrote := d.Now()
	cl.rd.Reset(c.nc)
	prev := wrote
	// The outcome: answered counts the answers read whole; after them,
	// either the rest go again (resend: the server closed, or said it
	// would), or they fail with failed.
	answered, closing, resend := 0, false, false
	var failed, why error
	if err != nil {
		if isClosedConn(err) && src != fromDial && ctx.Err() == nil {
			tc.NoteServerIdleClose()
			resend, why = true, err
		} else {
			failed = err
		}
	}
	for k := 0; k < len(res) && err == nil; k++ {
		var resp Response
		err = cl.rd.readResponse(&resp, req.head, cl.MaxBody, nil, false)
		end := d.Now()
		r := &res[k]
		rx, tx := tc.TakeBytes()
		r.BytesReceived += rx
		r.BytesSent += tx
		if err != nil {
			// Closed before this answer: send the rest again if the
			// connection had served (reused, or answers before this
			// one); a new one that never answered fails them.
			if !cl.rd.gotBytes() && isClosedConn(err) && ctx.Err() == nil && (k > 0 || src != fromDial) {
				if k == 0 {
					tc.NoteServerIdleClose()
				}
				resend, why = true, err
			} else {
				failed = err
			}
			break
		}
		first := resp.FirstByte
		r.Timings.Add(metrics.PhaseSend, wrote-got)
		r.Timings.Add(metrics.PhaseWait, max(first-prev, 0))
		r.Timings.Add(metrics.PhaseReceive, end-first)
		r.Status, r.BodyBytes, r.Truncated = resp.Status, resp.BodyBytes, resp.Truncated
		r.CloseAnswers, r.HTTP10, r.End = b2i(resp.CloseAnswer), b2i(resp.HTTP10()), end
		prev = end
		answered = k + 1
		if resp.Truncated {
			tc.SetCloseReason(metrics.CloseBodyNotDrained)
			closing = true
		} else if resp.Close {
			tc.SetCloseReason(metrics.CloseServer)
			closing = true
		}
		if closing {
			resend, why = answered < len(res), errServerClosing
			break
		}
	}
	end := d.Now()
	cl.cur.Store(nil)
	reusable := failed == nil && !resend && !closing && cl.rd.Buffered() == 0
	switch {
	case failed != nil:
		if ctx.Err() != nil || isTimeout(failed) {
			tc.SetCloseReason(metrics.CloseCanceled)
		}
		if ctx.Err() == nil && isTimeout(failed) {
			failed = &TimeoutError{After: cl.Timeout, Err: failed}
		}
		for k := answered; k < len(res); k++ {
			res[k].End, errs[k] = end, failed
		}
		answered = len(res)
	case !reusable && !resend && !closing:
		tc.SetCloseReason(metrics.CloseBroken) // bytes beyond the answers
	}
	cl.pool.put(c, reusable, end, cl)
	tc.Release(end)
	return answered, why
}

// errServerClosing is why the rest of a batch goes again after an answer
// that closed the connection.
var errServerClosing = fmt.Errorf("the server closed the connection after an answer: %w", io.EOF)

// batch returns n copies of raw, kept for the next batch of the same
// request.
func (cl *Client) batch(raw []byte, n int) []byte {
	if len(cl.pbuf) != n*len(raw) || cl.praw == nil || &cl.praw[0] != &raw[0] {
		cl.pbuf = cl.pbuf[:0]
		for range n {
			cl.pbuf = append(cl.pbuf, raw...)
		}
		cl.praw = raw
	}
	return cl.pbuf
}
