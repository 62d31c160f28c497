package receiver

import (
	"sync"
	"time"
)

// limiter keeps one robot within a budget of n messages in any window of
// length per, the way WeCom counts (a sliding window is never looser than
// a fixed one). A limiter with n <= 0 never limits. A reload may change n
// and per in place: the messages already sent still count.
type limiter struct {
	now func() time.Time

	mu   sync.Mutex
	n    int
	per  time.Duration
	sent []time.Time // send times within the last window, oldest first
	// blockedUntil is set when WeCom answered 45009: someone else shares
	// the robot, so nothing is sent before the window frees.
	blockedUntil time.Time
}

func newLimiter(n int, per time.Duration, now func() time.Time) *limiter {
	return &limiter{n: n, per: per, now: now}
}

// setLimit changes the budget to n messages per per, keeping the send
// times and any block: WeCom still counts what was sent under the old one.
func (l *limiter) setLimit(n int, per time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.n, l.per = n, per
}

// limit returns the budget: n messages per per.
func (l *limiter) limit() (n int, per time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.n, l.per
}

// unlimited reports whether the limiter never limits.
func (l *limiter) unlimited() bool {
	n, _ := l.limit()
	return n <= 0
}

// expire drops send times that left the window; l.mu is held.
func (l *limiter) expire(now time.Time) {
	i := 0
	for i < len(l.sent) && now.Sub(l.sent[i]) >= l.per {
		i++
	}
	l.sent = l.sent[i:]
}

// available returns how many messages may be sent now.
func (l *limiter) available() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.n <= 0 {
		return Unlimited
	}
	now := l.now()
	if now.Before(l.blockedUntil) {
		return 0
	}
	l.expire(now)
	return max(l.n-len(l.sent), 0)
}

// used returns how many messages were sent within the window.
func (l *limiter) used() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.expire(l.now())
	return len(l.sent)
}

// take records k messages as sent now, if the budget allows all of them,
// and returns the time they count from until settle moves it.
func (l *limiter) take(k int) (time.Time, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.n <= 0 {
		return time.Time{}, true
	}
	now := l.now()
	if now.Before(l.blockedUntil) {
		return time.Time{}, false
	}
	l.expire(now)
	if len(l.sent)+k > l.n {
		return time.Time{}, false
	}
	for range k {
		l.sent = append(l.sent, now)
	}
	return now, true
}

// settle moves a message taken at taken to now, when its post ended:
// WeCom counted it at some moment between the post and its answer, so
// the window counts from the answer, or a post slower than the one a
// window earlier would reach WeCom before its window freed there (45009).
func (l *limiter) settle(taken time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for i := len(l.sent) - 1; i >= 0; i-- {
		if l.sent[i].Equal(taken) {
			l.sent = append(l.sent[:i], l.sent[i+1:]...)
			l.sent = append(l.sent, l.now()) // the latest: the order holds
			return
		}
	}
}

// wait returns how long until one more message may be sent.
func (l *limiter) wait() time.Duration { return l.waitN(1) }

// waitN returns how long until k more messages may be sent; k is capped
// at n, so that a batch larger than the budget waits for an empty window.
func (l *limiter) waitN(k int) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.n <= 0 {
		return 0
	}
	k = min(k, l.n)
	now := l.now()
	l.expire(now)
	d := time.Duration(0)
	if over := len(l.sent) + k - l.n; over > 0 {
		d = l.sent[over-1].Add(l.per).Sub(now)
	}
	if b := l.blockedUntil.Sub(now); b > d {
		d = b
	}
	return d
}

// idleIn returns how long until nothing sent counts any more and no block
// holds: 0 when the limiter remembers nothing worth keeping.
func (l *limiter) idleIn() time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	l.expire(now)
	d := time.Duration(0)
	if len(l.sent) > 0 {
		d = l.sent[len(l.sent)-1].Add(l.per).Sub(now)
	}
	if b := l.blockedUntil.Sub(now); b > d {
		d = b
	}
	return d
}

// block stops sending for a whole window, after WeCom said the robot's
// budget is spent (45009): another sender shares it, and WeCom does not
// say when its window frees.
func (l *limiter) block() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.blockedUntil = l.now().Add(l.per)
}
