package receiver

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/alertmanager-wecom/alertmanager-wecom/config"
	"github.com/alertmanager-wecom/alertmanager-wecom/wecom"
)

// errNotSentInTime answers a notification that could not be delivered
// within global.max_wait: Alertmanager keeps it and retries.
var errNotSentInTime = errors.New("not delivered within max_wait: the robot's rate limit is spent or WeCom is failing; retry later")

// errNotCarried ends a job that no message sent carried: a digest that
// left a notification out must not have it acknowledged nor remembered.
var errNotCarried = errors.New("left out of every message sent to WeCom; retry later")

// errShuttingDown answers a notification that was waiting for budget, or
// came, when the receiver was told to stop: Alertmanager keeps it and
// retries, maybe on the receiver's next instance.
var errShuttingDown = errors.New("the receiver is shutting down; retry later")

// defaultQueueIdle is how long a robot's queue outlives its last use once
// its rate limit window is empty: then it has nothing left to remember.
const defaultQueueIdle = time.Minute

// job is one notification to deliver.
type job struct {
	state    *State
	prep     *prepared
	enqueued time.Time
	deadline time.Time
	// dedupFor, when not 0, is how long the notification is remembered
	// under dedupKey once WeCom accepted it; the job holds the dedup claim
	// on dedupKey until it finishes, whether or not its request still waits.
	dedupKey dedupKey
	dedupFor time.Duration
	// posted are the messages carrying only this notification that WeCom
	// accepted; skip the hashes of those an earlier, failed try of it had
	// posted (dedup.posted), which are not posted again.
	posted []*wecom.Message
	skip   []uint64
	// rendered is how the notification was rendered on its own, counted
	// in parts_split_total and alerts_truncated_total once delivered.
	rendered *Rendered
	// done receives the delivery's outcome once: nil when WeCom accepted
	// every message carrying the notification.
	done chan error
	// pending counts messages carrying the job not yet accepted; finished
	// is set once done was sent. Both belong to whoever holds the job: its
	// submitter, or the worker once it took the job from the queue.
	pending  int
	finished bool
	// queued is set while the job counts in queue_depth: from submit until
	// its first message is posted, or it ends.
	queued atomic.Bool
	// handoff tells whether the submitter still waits for the outcome
	// (jobWaited), got it (jobAnswered), or stopped waiting (jobAbandoned),
	// when the outcome is logged instead; groupKey and status are for that line.
	handoff          atomic.Int32
	groupKey, status string
}

// States of job.handoff.
const (
	jobWaited int32 = iota
	jobAnswered
	jobAbandoned
)

// errDropped ends a job still in the queue when Alertmanager stopped
// waiting (its webhook timeout): it is not sent, and Alertmanager's next
// try sends it.
var errDropped = errors.New("Alertmanager stopped waiting before it was sent: dropped, for Alertmanager's next try")

// errAbandoned is errNotSentInTime for a job whose submitter stopped
// waiting before its outcome, which finish logs when it comes.
var errAbandoned = fmt.Errorf("%w (the delivery goes on)", errNotSentInTime)

// abandon stops waiting for j's outcome, which finish then logs, and
// returns errAbandoned; or, when j finished meanwhile, its outcome.
func (j *job) abandon() error {
	if j.handoff.CompareAndSwap(jobWaited, jobAbandoned) {
		return errAbandoned
	}
	return <-j.done
}

// dequeued takes j out of queue_depth and observes its wait, once: when its
// first message is posted, or it ends unsent.
func (r *Receiver) dequeued(j *job) {
	if j.queued.CompareAndSwap(true, false) {
		r.metrics.queueDepth.WithLabelValues(j.prep.robot.Name).Dec()
		r.metrics.waitSeconds.WithLabelValues(j.prep.robot.Name).Observe(r.now().Sub(j.enqueued).Seconds())
	}
}

// robotQueue delivers the notifications for one webhook URL in order within
// its rate limit, merging what waits into digests. Each webhook has its own
// queue and goroutine, so one robot's backlog never delays another; the
// queue is dropped once idle, and made again on next use.
type robotQueue struct {
	// url is the robot's webhook URL, key included: a secret, and the
	// queue's key in Receiver.queues.
	url     string
	limiter *limiter
	r       *Receiver

	// users counts the requests holding the queue, and running says whether
	// its worker runs; both are guarded by r.queuesMu.
	users   int
	running bool

	mu      sync.Mutex
	waiting []*job
	wake    chan struct{}

	// limitState is the configuration that set the limiter's limit,
	// guarded by r.queuesMu.
	limitState *State
}

// stricter reports whether limit allows fewer messages a second than n per
// per; no limit (0 messages) is the least strict.
func stricter(limit config.RateLimit, n int, per time.Duration) bool {
	switch {
	case limit.Messages <= 0:
		return false
	case n <= 0:
		return true
	}
	// limit.Messages/limit.Per < n/per, without division.
	return float64(limit.Messages)*per.Seconds() < float64(n)*time.Duration(limit.Per).Seconds()
}

// queueFor returns the queue of the webhook URL, made on first use and kept
// while in use or while its rate limit window remembers sends, across
// reloads: it is keyed by what WeCom counts by (the URL, key included), and
// a reload that changes the rate limit changes it in place, so the budget
// already spent still counts. The caller must give the queue back with
// releaseQueue.
func (r *Receiver) queueFor(state *State, robot *config.Robot, webhookURL string) *robotQueue {
	limit := state.Config.Limit(robot)
	r.queuesMu.Lock()
	defer r.queuesMu.Unlock()
	q, ok := r.queues[webhookURL]
	switch {
	case !ok:
		q = &robotQueue{
			url:        webhookURL,
			limiter:    newLimiter(limit.Messages, time.Duration(limit.Per), r.now),
			r:          r,
			wake:       make(chan struct{}, 1),
			limitState: state,
		}
		r.queues[webhookURL] = q
	case q.limitState != state:
		// A reload: its limit holds.
		q.limiter.setLimit(limit.Messages, time.Duration(limit.Per))
		q.limitState = state
	default:
		// Robots of one configuration sharing the key, which check-config
		// cannot see when a key comes from an Authorization header: the
		// stricter limit holds, rather than each request's in turn.
		if n, per := q.limiter.limit(); stricter(limit, n, per) {
			q.limiter.setLimit(limit.Messages, time.Duration(limit.Per))
		}
	}
	q.users++
	if !q.running && !q.limiter.unlimited() {
		q.running = true
		go q.run()
	}
	return q
}

// releaseQueue gives back a queue taken with queueFor. A queue without a
// worker (an unlimited one) has nothing to remember: it is dropped with its
// last user.
func (r *Receiver) releaseQueue(q *robotQueue) {
	r.queuesMu.Lock()
	defer r.queuesMu.Unlock()
	if q.users--; q.users == 0 && !q.running {
		r.dropQueue(q)
	}
}

// dropIdle drops q and reports true when nobody uses it, nothing waits and
// its limiter remembers nothing; its worker then exits. Checked under
// r.queuesMu, so that a request finding q meanwhile is never left with a
// queue nobody serves.
func (r *Receiver) dropIdle(q *robotQueue) bool {
	r.queuesMu.Lock()
	defer r.queuesMu.Unlock()
	q.mu.Lock()
	waiting := len(q.waiting)
	q.mu.Unlock()
	if q.users > 0 || waiting > 0 || q.limiter.idleIn() > 0 {
		return false
	}
	q.running = false
	r.dropQueue(q)
	return true
}

// dropQueue removes q from r.queues; r.queuesMu is held.
func (r *Receiver) dropQueue(q *robotQueue) {
	if r.queues[q.url] == q {
		delete(r.queues, q.url)
	}
}

// finish ends j with its outcome: its dedup claim is released (and the
// notification remembered when WeCom accepted it), and its submitter, if
// it still waits, told.
func (r *Receiver) finish(j *job, err error) {
	if j.finished {
		return
	}
	j.finished = true
	r.dequeued(j)
	if j.dedupFor > 0 {
		var posted []uint64
		if err != nil && len(j.posted)+len(j.skip) > 0 {
			posted = slices.Clone(j.skip)
			for _, m := range j.posted {
				posted = append(posted, r.dedup.messageHash(m))
			}
		}
		r.dedup.release(j.dedupKey, err == nil, posted, r.now().Add(j.dedupFor))
	}
	if err == nil && j.rendered != nil {
		r.recordRender(j.prep.robot.Name, j.rendered)
	}
	if j.handoff.CompareAndSwap(jobWaited, jobAnswered) {
		j.done <- err
		return
	}
	// Alertmanager stopped waiting (its own timeout), and serveSend only
	// said so: this line is the outcome's only trace.
	attrs := []any{"robot", j.prep.robot.Name, "group_key", j.groupKey, "status", j.status}
	if err != nil {
		r.logger.Error("WeCom did not accept a notification Alertmanager had stopped waiting for", withAttrs(attrs, "err", err)...)
		return
	}
	r.logger.Info("Delivered a notification after Alertmanager stopped waiting for it", attrs...)
}

// deliverNotification delivers a prepared notification to the robot at
// webhookURL by deadline and returns nil once WeCom accepted it, or why
// not. With a dedup window, a notification delivered within it is not
// posted again (duplicate is true), and one being delivered by another
// request is waited for.
func (r *Receiver) deliverNotification(ctx context.Context, state *State, webhookURL string, n *Notification, p *prepared, deadline time.Time) (duplicate bool, err error) {
	j := &job{state: state, prep: p, deadline: deadline, done: make(chan error, 1), groupKey: n.GroupKey, status: n.Status}
	if window := time.Duration(state.Config.Global.DedupWindow); window > 0 {
		j.dedupKey, j.dedupFor = r.dedup.key(p.robot.Name, webhookURL, n), window
		wctx, cancel := context.WithDeadline(ctx, deadline)
		duplicate, posted, err := r.dedup.claim(wctx, j.dedupKey, r.now)
		cancel()
		j.skip, p.alone = posted, len(posted) > 0
		if err != nil {
			return false, fmt.Errorf("waiting for an identical notification being delivered: %w", errNotSentInTime)
		}
		if duplicate {
			return true, nil
		}
	}
	q := r.queueFor(state, p.robot, webhookURL)
	defer r.releaseQueue(q)
	return false, q.submit(ctx, j)
}

// submit delivers j and returns nil once WeCom accepted it, or why not; it
// gives up waiting at j's deadline or when ctx ends, but a delivery under
// way goes on, and finishes j whoever waits.
func (q *robotQueue) submit(ctx context.Context, j *job) error {
	if q.r.shuttingDown() {
		q.r.finish(j, errShuttingDown)
		return errShuttingDown
	}
	if q.limiter.unlimited() {
		// Not cancelled with the request: once posting began, finishing and
		// remembering it is what keeps Alertmanager's retry from posting
		// it twice.
		sctx, cancel := context.WithDeadline(context.WithoutCancel(ctx), j.deadline)
		defer cancel()
		err := q.sendNow(sctx, j)
		q.r.finish(j, err)
		return err
	}

	ctx, cancel := context.WithDeadline(ctx, j.deadline)
	defer cancel()
	j.enqueued = q.r.now()
	q.mu.Lock()
	if q.r.shuttingDown() { // under q.mu: Shutdown sees every job queued before
		q.mu.Unlock()
		q.r.finish(j, errShuttingDown)
		return errShuttingDown
	}
	q.waiting = append(q.waiting, j)
	j.queued.Store(true)
	q.r.metrics.queueDepth.WithLabelValues(j.prep.robot.Name).Inc()
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
	if q.remove(j) {
		err := errNotSentInTime
		if !errors.Is(ctx.Err(), context.DeadlineExceeded) {
			err = errDropped
		}
		q.r.finish(j, err)
		return err
	}
	if !errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return j.abandon()
	}
	// The worker is sending it and gives up by the same deadline: wait for
	// its word, which says what failed.
	select {
	case err := <-j.done:
		return err
	case <-time.After(time.Second):
		return j.abandon()
	}
}

// sendNow renders j and sends its messages at once, for a robot without a
// rate limit.
func (q *robotQueue) sendNow(ctx context.Context, j *job) error {
	rendered, err := j.state.renderPrepared(j.prep, Unlimited)
	if err != nil {
		return err
	}
	j.rendered = rendered
	for i, m := range rendered.Messages {
		if err := q.post(ctx, j.state, j.prep.robot, m, j, nil); err != nil {
			return fmt.Errorf("message %d of %d: %w", i+1, len(rendered.Messages), err)
		}
	}
	return nil
}

// Shutdown answers every notification waiting for a rate limit's budget
// or for a retry, in the queue or taken by its worker, and every one that
// comes later, with a retryable error (503 for Alertmanager), rather than
// keep them waiting past the process's end; messages being posted go on,
// and their notifications are answered as they end. Call it before the
// HTTP server's Shutdown, which waits for the answers.
func (r *Receiver) Shutdown() {
	r.closeOnce.Do(func() { close(r.closing) })
	r.queuesMu.Lock()
	queues := slices.Collect(maps.Values(r.queues))
	r.queuesMu.Unlock()
	for _, q := range queues {
		q.mu.Lock()
		waiting := q.waiting
		q.waiting = nil
		q.mu.Unlock()
		for _, j := range waiting {
			r.finish(j, errShuttingDown)
		}
	}
}

// shuttingDown reports whether Shutdown was called.
func (r *Receiver) shuttingDown() bool {
	select {
	case <-r.closing:
		return true
	default:
		return false
	}
}

// remove drops j from the waiting list and reports whether it was there,
// not yet taken by the worker.
func (q *robotQueue) remove(j *job) bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	for i, w := range q.waiting {
		if w == j {
			q.waiting = slices.Delete(q.waiting, i, i+1)
			return true
		}
	}
	return false
}

// run is the robot's worker: it waits for notifications and budget, then
// sends what is waiting, merged; it returns once the queue was dropped,
// idle.
func (q *robotQueue) run() {
	for {
		jobs := q.next()
		if jobs == nil {
			return
		}
		q.deliver(jobs)
	}
}

// next returns the notifications to send together, once the robot may
// send, or nil once the queue was dropped, idle: the oldest alone while
// most of the budget is left, else every waiting one of its robot, to be
// merged. When more than half the budget of the window is spent, it
// lingers a little so that a storm becomes a few digests instead of a
// message per group.
func (q *robotQueue) next() []*job {
	merge := false // set once more than half the budget was found spent
	for {
		q.mu.Lock()
		n := len(q.waiting)
		var oldest *job
		if n > 0 {
			oldest = q.waiting[0]
		}
		q.mu.Unlock()
		if n == 0 {
			if q.idle() {
				return nil
			}
			continue
		}
		if wait := q.limiter.wait(); wait > 0 {
			q.sleep(wait)
			continue
		}
		if n > q.limiter.available()/2 {
			// More wait than half of what the window has left (a robot of
			// one message a window, a burst): alone, they would not all go.
			merge = true
		}
		if linger := q.linger(); linger > 0 {
			merge = true
			// Never linger away more than a quarter of what the oldest may wait.
			linger = min(linger, oldest.deadline.Sub(oldest.enqueued)/4)
			if wait := oldest.enqueued.Add(linger).Sub(q.r.now()); wait > 0 {
				q.sleep(wait)
				continue
			}
		}
		q.mu.Lock()
		var jobs []*job
		if merge {
			jobs = q.takeSameRobot()
		} else if len(q.waiting) > 0 {
			// Most of the budget is left: each notification goes on its
			// own, rendered with its robot's template, not as a digest.
			jobs = []*job{q.waiting[0]}
			q.waiting = slices.Delete(q.waiting, 0, 1)
		}
		q.mu.Unlock()
		if len(jobs) > 0 {
			return jobs
		}
	}
}

// takeSameRobot takes the waiting jobs for the robot of the oldest one,
// leaving the rest waiting: robots sharing a webhook key share its queue,
// but each robot's notifications are rendered its way (msgtype, language,
// template). q.mu is held.
func (q *robotQueue) takeSameRobot() []*job {
	if len(q.waiting) == 0 {
		return nil
	}
	robot := q.waiting[0].prep.robot.Name
	var jobs []*job
	rest := q.waiting[:0]
	for _, j := range q.waiting {
		if j.prep.robot.Name == robot {
			jobs = append(jobs, j)
		} else {
			rest = append(rest, j)
		}
	}
	clear(q.waiting[len(rest):])
	q.waiting = rest
	if len(q.waiting) == 0 {
		q.waiting = nil
	}
	return jobs
}

// idle waits for a notification and returns false, or returns true once
// the queue, idle for r.queueIdle after its limiter's window emptied, was
// dropped.
func (q *robotQueue) idle() bool {
	for {
		t := time.NewTimer(q.limiter.idleIn() + q.r.queueIdle)
		select {
		case <-q.wake:
			t.Stop()
			return false
		case <-t.C:
		}
		if q.r.dropIdle(q) {
			return true
		}
	}
}

// linger is how long notifications wait to be merged: nothing while most of
// the budget is left, then the time one message's share of the window takes, twice.
func (q *robotQueue) linger() time.Duration {
	n, per := q.limiter.limit()
	if n <= 0 || q.limiter.used()*2 < n {
		return 0
	}
	return 2 * per / time.Duration(n)
}

func (q *robotQueue) sleep(d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	<-t.C
}

// deliver sends jobs, alone or as a digest, and answers each job as soon as
// every message carrying it was accepted, or failed for good.
func (q *robotQueue) deliver(jobs []*job) {
	// Every job is finished, delivered or not, whoever still waits for it:
	// its dedup claim is released only then.
	failure := errNotCarried
	defer func() {
		for _, j := range jobs {
			q.r.finish(j, failure)
		}
	}()
	now := q.r.now()
	deadline := now
	for _, j := range jobs {
		if j.deadline.After(deadline) {
			deadline = j.deadline
		}
	}
	latest := jobs[len(jobs)-1]
	state, robot := latest.state, latest.prep.robot

	var b *batch
	if len(jobs) == 1 {
		rendered, err := state.renderPrepared(jobs[0].prep, q.limiter.available())
		if err != nil {
			failure = err
			return
		}
		b = &batch{solos: map[int]*Rendered{0: rendered}}
		b.addUnit(rendered.Messages, []int{0})
	} else {
		preps := make([]*prepared, len(jobs))
		for i, j := range jobs {
			preps[i] = j.prep
		}
		var err error
		if b, err = state.digest(robot, preps, q.limiter.available()); err != nil {
			failure = err
			return
		}
		for i, err := range b.failed {
			q.r.finish(jobs[i], err)
		}
	}
	for i, rendered := range b.solos {
		jobs[i].rendered = rendered
	}
	for _, c := range b.carries {
		for _, i := range c {
			jobs[i].pending++
		}
	}

	ctx, cancel := context.WithDeadline(context.Background(), deadline)
	defer cancel()
	sent := 0
	for _, unit := range b.units {
		// Wait until the whole unit fits the budget, so that a card is not
		// posted without its companion (which Alertmanager's retry would
		// post again, card and all).
		if unit > 1 {
			if err := q.pause(ctx, q.limiter.waitN(unit)); err != nil {
				failure = fmt.Errorf("message %d of %d: %w", sent+1, len(b.messages), timedOut(err, nil))
				return
			}
		}
		for _, m := range b.messages[sent : sent+unit] {
			var own *job // the one notification m carries, if it carries one
			carried := b.carries[sent]
			if len(carried) == 1 {
				own = jobs[carried[0]]
			}
			start := func() {
				for _, ji := range carried {
					q.r.dequeued(jobs[ji])
				}
			}
			if err := q.post(ctx, state, robot, m, own, start); err != nil {
				failure = fmt.Errorf("message %d of %d: %w", sent+1, len(b.messages), err)
				return
			}
			if sent == 0 && b.merged > 0 {
				q.r.metrics.merged.WithLabelValues(robot.Name).Add(float64(b.merged))
			}
			for _, ji := range carried {
				if j := jobs[ji]; j.pending > 0 {
					if j.pending--; j.pending == 0 {
						q.r.finish(j, nil)
					}
				}
			}
			sent++
		}
	}
}

// post sends m for j, the one notification it carries (nil when it
// carries several, as a digest's card does): a message an earlier, failed
// try of j had WeCom accept is not posted again, and one accepted now is
// noted, in case a later message of j fails and Alertmanager retries.
// start is send's.
func (q *robotQueue) post(ctx context.Context, state *State, robot *config.Robot, m *wecom.Message, j *job, start func()) error {
	if j != nil && len(j.skip) > 0 && slices.Contains(j.skip, q.r.dedup.messageHash(m)) {
		return nil
	}
	if err := q.send(ctx, state, robot, m, start); err != nil {
		return err
	}
	if j != nil && j.dedupFor > 0 {
		j.posted = append(j.posted, m)
	}
	return nil
}

// send posts one message within the robot's budget, retrying what a retry
// can fix (45009 after the window frees, busy and network errors with
// backoff) until ctx ends; a permanent error returns at once. start, if not
// nil, is called once, as the first try begins (the queue metrics).
func (q *robotQueue) send(ctx context.Context, state *State, robot *config.Robot, m *wecom.Message, start func()) error {
	backoff := 250 * time.Millisecond
	var err error
	for attempt := 0; ; attempt++ {
		if ctx.Err() != nil {
			// Not counted as sent: the budget is taken only for a post.
			return timedOut(ctx.Err(), err)
		}
		taken, ok := q.limiter.take(1)
		for ; !ok; taken, ok = q.limiter.take(1) {
			if serr := q.pause(ctx, q.limiter.wait()); serr != nil {
				return timedOut(serr, err)
			}
		}
		if attempt > 0 {
			q.r.metrics.retries.WithLabelValues(robot.Name).Inc()
		} else if start != nil {
			start()
		}
		err = state.client.Send(ctx, q.url, m)
		q.limiter.settle(taken)
		q.r.recordSend(robot.Name, m.MsgType, err)
		if err == nil || !wecom.Retryable(err) {
			return err
		}
		rateLimited := wecom.RateLimited(err)
		if rateLimited {
			// Even when this job's time is up: the robot's budget is
			// spent for the jobs after it.
			q.r.metrics.rateLimited.WithLabelValues(robot.Name).Inc()
			q.limiter.block()
		}
		if ctx.Err() != nil {
			return timedOut(ctx.Err(), err)
		}
		wait := backoff + rand.N(backoff/2)
		if backoff < 8*time.Second {
			backoff *= 2
		}
		if rateLimited {
			// The window's end; at least the backoff for a robot without
			// a limit (a gateway of one's own), whose limiter never waits.
			wait = max(q.limiter.wait(), wait)
		}
		if !timeFor(ctx, wait) {
			// Not "retrying": there is no time for another try.
			return timedOut(context.DeadlineExceeded, err)
		}
		q.r.logger.Warn("WeCom send failed, retrying", "robot", robot.Name, "attempt", attempt+1, "wait", wait, "err", err)
		if serr := q.pause(ctx, wait); serr != nil {
			return timedOut(serr, err)
		}
	}
}

// timeFor reports whether ctx leaves time to wait d and then try.
func timeFor(ctx context.Context, d time.Duration) bool {
	deadline, ok := ctx.Deadline()
	return !ok || time.Until(deadline) >= d
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

// pause waits d, for budget or before a retry, or returns ctx's error once
// ctx ends, or errShuttingDown once the receiver shuts down; when ctx's
// deadline comes before d is up, it says so at once, without waiting in
// vain: the caller answers now rather than at the deadline.
func (q *robotQueue) pause(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	if !timeFor(ctx, d) {
		return context.DeadlineExceeded
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-q.r.closing:
		return errShuttingDown
	}
}
