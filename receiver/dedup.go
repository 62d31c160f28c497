package receiver

import (
	"hash/maphash"
	"slices"
	"sync"
	"time"
)

// dedup remembers delivered notifications for a while. Alertmanager retries
// a notification whose earlier try reached WeCom when its own timeout fired
// first; a repeat of the same robot, group, status and alert set within the
// window is acknowledged without posting it again.
type dedup struct {
	mu      sync.Mutex
	seed    maphash.Seed
	expires map[uint64]time.Time
	sweepAt time.Time
}

func newDedup() *dedup {
	return &dedup{seed: maphash.MakeSeed(), expires: map[uint64]time.Time{}}
}

// key identifies a notification for dedup: the robot's webhook (so two
// keys brought by key_from: authorization are two robots), group key,
// status and each alert's fingerprint and status, in a stable order.
func (d *dedup) key(webhookURL string, n *Notification) uint64 {
	alerts := make([]string, len(n.Alerts))
	for i, a := range n.Alerts {
		alerts[i] = a.Fingerprint + "/" + a.Status + "/" + a.StartsAt.String()
	}
	slices.Sort(alerts)
	var h maphash.Hash
	h.SetSeed(d.seed)
	for _, s := range append([]string{webhookURL, n.GroupKey, n.Status}, alerts...) {
		h.WriteString(s)
		h.WriteByte(0)
	}
	return h.Sum64()
}

// seen reports whether the notification with key was delivered within its window.
func (d *dedup) seen(key uint64, now time.Time) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	exp, ok := d.expires[key]
	return ok && now.Before(exp)
}

// add remembers a delivered notification until expires.
func (d *dedup) add(key uint64, expires time.Time) {
	d.mu.Lock()
	defer d.mu.Unlock()
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
