package receiver

import (
	"context"
	"hash/maphash"
	"slices"
	"sync"
	"time"
)

// dedup remembers delivered notifications for a while. Alertmanager retries
// a notification whose earlier try reached WeCom when its own timeout fired
// first; a repeat of the same robot, group, status and alert set within the
// window is acknowledged without posting it again. A notification is
// delivered by one request at a time: an identical one arriving meanwhile
// (from an Alertmanager HA peer, or a retry) waits for its outcome.
type dedup struct {
	mu      sync.Mutex
	seed    maphash.Seed
	expires map[uint64]time.Time
	// inflight holds the notifications being delivered, each with a channel
	// closed when its delivery ends.
	inflight map[uint64]chan struct{}
	sweepAt  time.Time
}

func newDedup() *dedup {
	return &dedup{seed: maphash.MakeSeed(), expires: map[uint64]time.Time{}, inflight: map[uint64]chan struct{}{}}
}

// key identifies a notification for dedup: the robot and its webhook (so
// two keys brought by key_from: authorization are two robots, and so are
// two robots sharing a key, each posting its own message), group key,
// status and each alert's fingerprint and status, in a stable order.
func (d *dedup) key(robot, webhookURL string, n *Notification) uint64 {
	alerts := make([]string, len(n.Alerts))
	for i, a := range n.Alerts {
		alerts[i] = a.Fingerprint + "/" + a.Status + "/" + a.StartsAt.String()
	}
	slices.Sort(alerts)
	var h maphash.Hash
	h.SetSeed(d.seed)
	for _, s := range append([]string{robot, webhookURL, n.GroupKey, n.Status}, alerts...) {
		h.WriteString(s)
		h.WriteByte(0)
	}
	return h.Sum64()
}

// claim makes the caller the one delivering the notification with key,
// after any delivery of it in flight ended, and returns false; it returns
// true when the notification was delivered within its window, and ctx's
// error when ctx ends first. A claim is ended by release.
func (d *dedup) claim(ctx context.Context, key uint64, now func() time.Time) (bool, error) {
	for {
		d.mu.Lock()
		if exp, ok := d.expires[key]; ok && now().Before(exp) {
			d.mu.Unlock()
			return true, nil
		}
		busy, ok := d.inflight[key]
		if !ok {
			d.inflight[key] = make(chan struct{})
			d.mu.Unlock()
			return false, nil
		}
		d.mu.Unlock()
		select {
		case <-busy:
		case <-ctx.Done():
			return false, ctx.Err()
		}
	}
}

// release ends the claim on key; a delivered notification is remembered
// until expires, so that its repeats are acknowledged without posting.
func (d *dedup) release(key uint64, delivered bool, expires time.Time) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if busy, ok := d.inflight[key]; ok {
		close(busy)
		delete(d.inflight, key)
	}
	if !delivered {
		return
	}
	d.expires[key] = expires
	if now := time.Now(); now.After(d.sweepAt) {
		for k, exp := range d.expires {
			if now.After(exp) {
				delete(d.expires, k)
			}
		}
		d.sweepAt = now.Add(time.Minute)
	}
}
