package receiver

import (
	"context"
	"hash/maphash"
	"slices"
	"strconv"
	"sync"
	"time"
)

// dedup remembers the last notification delivered for each robot and
// group, for a while. Alertmanager retries a notification whose earlier try
// reached WeCom when its own timeout fired first; a repeat of the group's
// last delivery (same robot, group, status and alert set, and as many
// alerts left out by max_alerts) within the window
// is acknowledged without posting it again. Only the last: a group that
// fires, resolves and fires again is posted each time, as Alertmanager's
// own notification log tells. A notification is delivered by one request at
// a time: an identical one arriving meanwhile (from an Alertmanager HA
// peer, or a retry) waits for its outcome.
type dedup struct {
	mu   sync.Mutex
	seed maphash.Seed
	// last holds, by group (dedupKey.group), the group's last delivery.
	last map[uint64]delivery
	// inflight holds the notifications being delivered, each with a channel
	// closed when its delivery ends.
	inflight map[dedupKey]chan struct{}
	sweepAt  time.Time
}

// dedupKey identifies a notification: group is its robot, webhook and
// group key; notification adds its status and alert set.
type dedupKey struct{ group, notification uint64 }

// delivery is a group's last delivered notification, remembered until expires.
type delivery struct {
	notification uint64
	expires      time.Time
}

func newDedup() *dedup {
	return &dedup{seed: maphash.MakeSeed(), last: map[uint64]delivery{}, inflight: map[dedupKey]chan struct{}{}}
}

// key identifies a notification for dedup: the robot and its webhook (so
// two keys brought by key_from: authorization are two robots, and so are
// two robots sharing a key, each posting its own message) and group key,
// then its status, how many alerts Alertmanager left out (with max_alerts,
// a group that grows or shrinks outside the alerts sent changes only that)
// and each alert's fingerprint, status and start, in a stable order.
func (d *dedup) key(robot, webhookURL string, n *Notification) dedupKey {
	var h maphash.Hash
	h.SetSeed(d.seed)
	write := func(ss ...string) {
		for _, s := range ss {
			h.WriteString(s)
			h.WriteByte(0)
		}
	}
	write(robot, webhookURL, n.GroupKey)
	group := h.Sum64()
	alerts := make([]string, len(n.Alerts))
	for i, a := range n.Alerts {
		alerts[i] = a.Fingerprint + "/" + a.Status + "/" + a.StartsAt.String()
	}
	slices.Sort(alerts)
	write(n.Status, strconv.FormatUint(n.TruncatedAlerts, 10))
	write(alerts...)
	return dedupKey{group: group, notification: h.Sum64()}
}

// claim makes the caller the one delivering the notification with key,
// after any delivery of it in flight ended, and returns false; it returns
// true when it is its group's last delivery, within the window, and ctx's
// error when ctx ends first. A claim is ended by release.
func (d *dedup) claim(ctx context.Context, key dedupKey, now func() time.Time) (bool, error) {
	for {
		d.mu.Lock()
		if last, ok := d.last[key.group]; ok && last.notification == key.notification && now().Before(last.expires) {
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

// release ends the claim on key; a delivered notification becomes its
// group's last delivery until expires, so that its repeats are acknowledged
// without posting.
func (d *dedup) release(key dedupKey, delivered bool, expires time.Time) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if busy, ok := d.inflight[key]; ok {
		close(busy)
		delete(d.inflight, key)
	}
	if !delivered {
		return
	}
	d.last[key.group] = delivery{notification: key.notification, expires: expires}
	if now := time.Now(); now.After(d.sweepAt) {
		for k, last := range d.last {
			if now.After(last.expires) {
				delete(d.last, k)
			}
		}
		d.sweepAt = now.Add(time.Minute)
	}
}
