package receiver

import (
	"context"
	"hash/maphash"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/alertmanager-wecom/alertmanager-wecom/wecom"
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
	// posted holds, by notification, the hashes of the messages of its
	// own WeCom accepted in a try that failed later on (a card whose
	// companion failed), so that its retry does not post them again.
	posted  map[dedupKey]postedMessages
	sweepAt time.Time
}

// postedMessages are what a failed try of a notification had posted,
// remembered until expires.
type postedMessages struct {
	hashes  []uint64
	expires time.Time
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
	return &dedup{seed: maphash.MakeSeed(), last: map[uint64]delivery{}, inflight: map[dedupKey]chan struct{}{}, posted: map[dedupKey]postedMessages{}}
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
// after any delivery of it in flight ended, and returns false with the
// hashes of the messages an earlier, failed try of it had posted (see
// release); it returns true when it is its group's last delivery, within
// the window, and ctx's error when ctx ends first. A claim is ended by
// release.
func (d *dedup) claim(ctx context.Context, key dedupKey, now func() time.Time) (duplicate bool, posted []uint64, err error) {
	for {
		d.mu.Lock()
		if last, ok := d.last[key.group]; ok && last.notification == key.notification && now().Before(last.expires) {
			d.mu.Unlock()
			return true, nil, nil
		}
		busy, ok := d.inflight[key]
		if !ok {
			d.inflight[key] = make(chan struct{})
			if p, ok := d.posted[key]; ok && now().Before(p.expires) {
				posted = p.hashes
			}
			d.mu.Unlock()
			return false, posted, nil
		}
		d.mu.Unlock()
		select {
		case <-busy:
		case <-ctx.Done():
			return false, nil, ctx.Err()
		}
	}
}

// messageHash identifies a message's content and mentions, for posted.
func (d *dedup) messageHash(m *wecom.Message) uint64 {
	var h maphash.Hash
	h.SetSeed(d.seed)
	h.WriteString(m.MsgType)
	h.WriteByte(0)
	h.WriteString(m.Content())
	if m.Text != nil {
		for _, s := range [][]string{m.Text.MentionedList, m.Text.MentionedMobileList} {
			h.WriteByte(0)
			for _, v := range s {
				h.WriteString(v)
				h.WriteByte(1)
			}
		}
	}
	return h.Sum64()
}

// release ends the claim on key; a delivered notification becomes its
// group's last delivery until expires, so that its repeats are acknowledged
// without posting. Of one not delivered, the hashes of the messages WeCom
// accepted (posted) are kept until expires, for its retry.
func (d *dedup) release(key dedupKey, delivered bool, posted []uint64, expires time.Time) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if busy, ok := d.inflight[key]; ok {
		close(busy)
		delete(d.inflight, key)
	}
	switch {
	case delivered:
		delete(d.posted, key)
		d.last[key.group] = delivery{notification: key.notification, expires: expires}
	case len(posted) > 0:
		d.posted[key] = postedMessages{hashes: posted, expires: expires}
	}
	if now := time.Now(); now.After(d.sweepAt) {
		for k, last := range d.last {
			if now.After(last.expires) {
				delete(d.last, k)
			}
		}
		for k, p := range d.posted {
			if now.After(p.expires) {
				delete(d.posted, k)
			}
		}
		d.sweepAt = now.Add(time.Minute)
	}
}
