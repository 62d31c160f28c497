package receiver

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/alertmanager-wecom/alertmanager-wecom/config"
	"github.com/alertmanager-wecom/alertmanager-wecom/wecom"
)

// errNotSentInTime answers a notification that could not be delivered
// within global.max_wait: Alertmanager keeps it and retries.
var errNotSentInTime = errors.New("not delivered within max_wait: the robot's rate limit is spent or WeCom is failing; retry later")

// job is one notification waiting for its robot's budget.
type job struct {
	state    *State
	prep     *prepared
	enqueued time.Time
	deadline time.Time
	// done receives the delivery's outcome once: nil when WeCom accepted
	// every message carrying the notification.
	done chan error
	// pending counts messages carrying the job not yet accepted.
	pending int
}

// robotQueue delivers one robot's notifications in order within its rate
// limit, merging what waits into digests. Each robot has its own queue and
// goroutine, so one robot's backlog never delays another.
type robotQueue struct {
	name string
	// url is the robot's webhook URL, key included: a secret.
	url     string
	limiter *limiter
	r       *Receiver

	mu      sync.Mutex
	waiting []*job
	wake    chan struct{}
}

// queueFor returns the queue of the robot at webhookURL, made on first use
// and kept across reloads so that the budget already spent is remembered; a
// reload that changes the robot's rate limit or key starts a new one.
func (r *Receiver) queueFor(state *State, robot *config.Robot, webhookURL string) *robotQueue {
	limit := state.Config.Limit(robot)
	key := queueKey{robot: robot.Name, messages: limit.Messages, per: time.Duration(limit.Per), url: webhookURL}
	r.queuesMu.Lock()
	defer r.queuesMu.Unlock()
	if q, ok := r.queues[key]; ok {
		return q
	}
	q := &robotQueue{
		name:    robot.Name,
		url:     webhookURL,
		limiter: newLimiter(limit.Messages, time.Duration(limit.Per), r.now),
		r:       r,
		wake:    make(chan struct{}, 1),
	}
	r.queues[key] = q
	if !q.limiter.unlimited() {
		go q.run()
	}
	return q
}

// queueKey identifies a robot's queue: a reload that changes the robot's
// rate limit or webhook URL starts a new one.
type queueKey struct {
	robot    string
	messages int
	per      time.Duration
	url      string // a secret: never printed
}

// submit delivers a prepared notification and returns nil once WeCom
// accepted it, or why not; it gives up waiting at deadline.
func (q *robotQueue) submit(ctx context.Context, state *State, p *prepared, deadline time.Time) error {
	ctx, cancel := context.WithDeadline(ctx, deadline)
	defer cancel()
	if q.limiter.unlimited() {
		rendered, err := state.renderPrepared(p, Unlimited)
		if err != nil {
			return err
		}
		q.r.recordRender(p.robot.Name, rendered)
		for i, m := range rendered.Messages {
			if err := q.send(ctx, state, p.robot, m); err != nil {
				return fmt.Errorf("message %d of %d: %w", i+1, len(rendered.Messages), err)
			}
		}
		return nil
	}

	j := &job{state: state, prep: p, enqueued: q.r.now(), deadline: deadline, done: make(chan error, 1)}
	q.mu.Lock()
	q.waiting = append(q.waiting, j)
	q.r.metrics.queueDepth.WithLabelValues(q.name).Set(float64(len(q.waiting)))
	q.mu.Unlock()
	select {
	case q.wake <- struct{}{}:
	default:
	}
	select {
	case err := <-j.done:
		return err
	case <-ctx.Done():
	}
	if q.remove(j) || !errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return errNotSentInTime
	}
	// The worker is sending it and gives up by the same deadline: wait for
	// its word, which says what failed.
	select {
	case err := <-j.done:
		return err
	case <-time.After(time.Second):
		return errNotSentInTime
	}
}

// remove drops j from the waiting list and reports whether it was there,
// not yet taken by the worker.
func (q *robotQueue) remove(j *job) bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	for i, w := range q.waiting {
		if w == j {
			q.waiting = append(q.waiting[:i], q.waiting[i+1:]...)
			q.r.metrics.queueDepth.WithLabelValues(q.name).Set(float64(len(q.waiting)))
			return true
		}
	}
	return false
}

// run is the robot's worker: it waits for notifications and budget, then
// sends what is waiting, merged.
func (q *robotQueue) run() {
	for {
		jobs := q.next()
		q.deliver(jobs)
	}
}

// next returns the notifications to send together, once the robot may
// send. When more than half the budget of the window is spent, it lingers
// a little so that a storm becomes a few digests instead of a message per
// group.
func (q *robotQueue) next() []*job {
	for {
		q.mu.Lock()
		n := len(q.waiting)
		var oldest *job
		if n > 0 {
			oldest = q.waiting[0]
		}
		q.mu.Unlock()
		if n == 0 {
			<-q.wake
			continue
		}
		if wait := q.limiter.wait(); wait > 0 {
			q.sleep(wait)
			continue
		}
		if linger := q.linger(); linger > 0 {
			// Never linger away more than a quarter of what the oldest may wait.
			linger = min(linger, oldest.deadline.Sub(oldest.enqueued)/4)
			if wait := oldest.enqueued.Add(linger).Sub(q.r.now()); wait > 0 {
				q.sleep(wait)
				continue
			}
		}
		q.mu.Lock()
		jobs := q.waiting
		q.waiting = nil
		q.r.metrics.queueDepth.WithLabelValues(q.name).Set(0)
		q.mu.Unlock()
		if len(jobs) > 0 {
			return jobs
		}
	}
}

// linger is how long notifications wait to be merged: nothing while most of
// the budget is left, then the time one message's share of the window takes, twice.
func (q *robotQueue) linger() time.Duration {
	l := q.limiter
	if l.used()*2 < l.n {
		return 0
	}
	return 2 * l.per / time.Duration(l.n)
}

func (q *robotQueue) sleep(d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	<-t.C
}

// deliver sends jobs, alone or as a digest, and answers each job as soon as
// every message carrying it was accepted, or failed for good.
func (q *robotQueue) deliver(jobs []*job) {
	now := q.r.now()
	deadline := now
	for _, j := range jobs {
		q.r.metrics.waitSeconds.WithLabelValues(q.name).Observe(now.Sub(j.enqueued).Seconds())
		if j.deadline.After(deadline) {
			deadline = j.deadline
		}
	}
	latest := jobs[len(jobs)-1]
	state, robot := latest.state, latest.prep.robot

	var messages []*wecom.Message
	var carries [][]int
	if len(jobs) == 1 {
		rendered, err := state.renderPrepared(jobs[0].prep, q.limiter.available())
		if err != nil {
			jobs[0].done <- err
			return
		}
		q.r.recordRender(q.name, rendered)
		messages = rendered.Messages
		carries = make([][]int, len(messages))
		for i := range carries {
			carries[i] = []int{0}
		}
	} else {
		preps := make([]*prepared, len(jobs))
		for i, j := range jobs {
			preps[i] = j.prep
		}
		var err error
		if messages, carries, err = state.digest(robot, preps); err != nil {
			for _, j := range jobs {
				j.done <- err
			}
			return
		}
		q.r.metrics.merged.WithLabelValues(q.name).Add(float64(len(jobs)))
	}
	for _, c := range carries {
		for _, i := range c {
			jobs[i].pending++
		}
	}

	ctx, cancel := context.WithDeadline(context.Background(), deadline)
	defer cancel()
	// Wait until the whole batch fits the budget, so that a card is not
	// posted without its companion (which Alertmanager's retry would post
	// again, card and all).
	if need := min(len(messages), q.limiter.n); need > 1 {
		_ = sleepCtx(ctx, q.limiter.waitN(need)) // on timeout, send reports it
	}
	for i, m := range messages {
		if err := q.send(ctx, state, robot, m); err != nil {
			err = fmt.Errorf("message %d of %d: %w", i+1, len(messages), err)
			for _, j := range jobs {
				if j.pending > 0 {
					j.pending = 0
					j.done <- err
				}
			}
			return
		}
		for _, ji := range carries[i] {
			if j := jobs[ji]; j.pending > 0 {
				if j.pending--; j.pending == 0 {
					j.done <- nil
				}
			}
		}
	}
}

// send posts one message within the robot's budget, retrying what a retry
// can fix (45009 after the window frees, busy and network errors with
// backoff) until ctx ends; a permanent error returns at once.
func (q *robotQueue) send(ctx context.Context, state *State, robot *config.Robot, m *wecom.Message) error {
	backoff := 250 * time.Millisecond
	var err error
	for attempt := 0; ; attempt++ {
		for !q.limiter.take(1) {
			if serr := sleepCtx(ctx, q.limiter.wait()); serr != nil {
				return timedOut(serr, err)
			}
		}
		err = state.client.Send(ctx, q.url, m)
		q.r.recordSend(robot.Name, m.MsgType, err)
		if err == nil || !wecom.Retryable(err) {
			return err
		}
		if ctx.Err() != nil {
			return timedOut(ctx.Err(), err)
		}
		q.r.metrics.retries.WithLabelValues(robot.Name).Inc()
		wait := backoff + rand.N(backoff/2)
		if wecom.RateLimited(err) {
			q.r.metrics.rateLimited.WithLabelValues(robot.Name).Inc()
			q.limiter.block()
			wait = q.limiter.wait()
		} else if backoff < 8*time.Second {
			backoff *= 2
		}
		q.r.logger.Warn("WeCom send failed, retrying", "robot", robot.Name, "attempt", attempt+1, "wait", wait, "err", err)
		if serr := sleepCtx(ctx, wait); serr != nil {
			return timedOut(serr, err)
		}
	}
}

// timedOut is the error of a send whose time ran out (ctxErr), with the
// last failure that made it wait, if any.
func timedOut(ctxErr, last error) error {
	if errors.Is(ctxErr, context.DeadlineExceeded) {
		ctxErr = errNotSentInTime
	}
	if last == nil {
		return ctxErr
	}
	return fmt.Errorf("%w (last error: %w)", ctxErr, last)
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
