package receiver

import (
	"testing"
	"time"
)

// fakeClock is a settable clock for the limiter.
type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time          { return c.t }
func (c *fakeClock) advance(d time.Duration) { c.t = c.t.Add(d) }

func TestLimiterSlidingWindow(t *testing.T) {
	clock := &fakeClock{t: time.Date(2026, 11, 25, 0, 0, 0, 0, time.UTC)}
	l := newLimiter(3, time.Minute, clock.now)
	if !taken(l, 2) || l.available() != 1 {
		t.Fatalf("after 2 of 3: available %d", l.available())
	}
	clock.advance(20 * time.Second)
	if !taken(l, 1) || taken(l, 1) {
		t.Fatal("third message refused or fourth allowed")
	}
	if got := l.wait(); got != 40*time.Second {
		t.Errorf("wait = %s, want 40s (until the first two leave the window)", got)
	}
	if got := l.waitN(3); got != time.Minute {
		t.Errorf("waitN(3) = %s, want 60s (until all three leave the window)", got)
	}
	clock.advance(40 * time.Second)
	if got := l.available(); got != 2 {
		t.Errorf("after the window moved: available %d, want 2", got)
	}
	if taken(l, 3) {
		t.Error("took 3 with 2 available")
	}
	l.block()
	if l.available() != 0 || taken(l, 1) || l.wait() != time.Minute {
		t.Errorf("blocked limiter: available %d, wait %s", l.available(), l.wait())
	}
	clock.advance(time.Minute)
	if got := l.available(); got != 3 {
		t.Errorf("after the block: available %d, want 3", got)
	}
}

func TestLimiterUnlimited(t *testing.T) {
	l := newLimiter(0, time.Minute, time.Now)
	for range 1000 {
		if !taken(l, 1) {
			t.Fatal("unlimited limiter refused")
		}
	}
	if l.wait() != 0 {
		t.Error("unlimited limiter asks to wait")
	}
}

// A changed limit keeps the send times and any block: WeCom still counts them.
func TestLimiterSetLimit(t *testing.T) {
	clock := &fakeClock{t: time.Date(2026, 11, 25, 0, 0, 0, 0, time.UTC)}
	l := newLimiter(3, time.Minute, clock.now)
	if !taken(l, 3) {
		t.Fatal("took less than the budget")
	}
	clock.advance(10 * time.Second)
	l.setLimit(2, time.Minute)
	if got := l.available(); got != 0 {
		t.Errorf("3 sent, limit lowered to 2: available %d, want 0", got)
	}
	if got := l.wait(); got != 50*time.Second {
		t.Errorf("wait = %s, want 50s (until the sends leave the window)", got)
	}
	if got := l.waitN(5); got != 50*time.Second {
		t.Errorf("waitN(5) = %s, want 50s (capped at the budget)", got)
	}
	l.block()
	l.setLimit(5, time.Minute)
	if taken(l, 1) || l.wait() != time.Minute {
		t.Errorf("block lost with the new limit: wait %s", l.wait())
	}
	if got := l.idleIn(); got != time.Minute {
		t.Errorf("idleIn = %s, want 1m (the block)", got)
	}
	clock.advance(time.Minute)
	if got, idle := l.available(), l.idleIn(); got != 5 || idle != 0 {
		t.Errorf("after the window: available %d, idleIn %s; want 5, 0", got, idle)
	}
}

// taken takes k messages and reports whether the budget allowed them.
func taken(l *limiter, k int) bool {
	_, ok := l.take(k)
	return ok
}

// TestWindowCountsFromTheAnswer: a message counts from when its post
// ended, the latest moment WeCom may have counted it: counted from the
// take, a slow post let the next window open before WeCom's did.
func TestWindowCountsFromTheAnswer(t *testing.T) {
	now := time.Unix(1_000_000, 0)
	l := newLimiter(1, time.Minute, func() time.Time { return now })
	at, ok := l.take(1)
	if !ok {
		t.Fatal("the first message did not fit")
	}
	now = now.Add(3 * time.Second) // the post took 3 s
	l.settle(at)
	now = now.Add(57 * time.Second) // a minute after the take
	if l.available() != 0 {
		t.Error("the window freed a minute after the take, before a minute after the answer")
	}
	if got := l.wait(); got != 3*time.Second {
		t.Errorf("wait = %v, want 3s", got)
	}
}
