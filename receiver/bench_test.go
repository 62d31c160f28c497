package receiver

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"testing"
)

// BenchmarkNotification measures the receiver's whole path for one
// notification, limiter off: decode, match, render, encode, send to a fake
// WeCom on loopback. Run: go test -run '^$' -bench Notification -benchmem ./receiver
func BenchmarkNotification(b *testing.B) {
	t := &testing.T{}
	tr := newTestReceiver(t, Options{}, withGlobal("max_wait: 2s\n  rate_limit: {messages: 0}\n  dedup_window: 0s"))
	tr.fake.Limit, tr.fake.CountOnly = 0, true
	body, err := readPayload("firing-two-alerts.json")
	if err != nil {
		b.Fatal(err)
	}
	router := http.NewServeMux()
	New(tr.recv.State(), Options{}).Register(router)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		w := httptest.NewRecorder()
		router.ServeHTTP(w, httptest.NewRequest(http.MethodPost, "/robots/table/send", bytes.NewReader(body)))
		if w.Code != http.StatusOK {
			b.Fatalf("answer %d: %s", w.Code, w.Body)
		}
	}
}
