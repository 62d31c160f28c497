package receiver

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"
	"unsafe"

	"github.com/alertmanager-wecom/alertmanager-wecom/templates"
)

// payloadCases are documents on which decodePayload must agree with
// encoding/json: the edges of JSON and of encoding/json's struct decoding.
var payloadCases = []string{
	``, ` `, `null`, ` null `, `nul`, `nullx`, `{}`, `[]`, `"x"`, `4`, `true`, `{`, `{"version"`, `{"version":}`,
	`{"version":"4",}`, `{"version":"4"}x`, `{"version":"4"} `, `{"version":4}`, `{"version":null}`,
	`{"VERSION":"4","GroupKey":"k","ſtatus":"firing"}`, `{"groupKey":"a","groupKey":"b"}`,
	`{"truncatedAlerts":3}`, `{"truncatedAlerts":-1}`, `{"truncatedAlerts":1.5}`, `{"truncatedAlerts":1e2}`,
	`{"truncatedAlerts":18446744073709551616}`, `{"truncatedAlerts":"3"}`, `{"truncatedAlerts":01}`,
	`{"truncatedAlerts":-}`, `{"truncatedAlerts":1.}`, `{"truncatedAlerts":1e}`, `{"truncatedAlerts":null}`,
	`{"commonLabels":{"a":"1","b":null}}`, `{"commonLabels":{"a":1}}`, `{"commonLabels":[]}`, `{"commonLabels":null}`,
	`{"commonLabels":{"a":"1"},"commonLabels":{"b":"2"}}`, `{"commonLabels":{"a":"1"},"commonLabels":null}`,
	`{"alerts":null}`, `{"alerts":[]}`, `{"alerts":[null]}`, `{"alerts":[{}]}`, `{"alerts":{}}`, `{"alerts":[1]}`,
	`{"alerts":[{"labels":{"a":"1"}},{"status":"firing"}],"alerts":[{"labels":{"b":"2"}}]}`,
	`{"alerts":[{"status":"a"},{"status":"b"},{"status":"c"}],"alerts":[{"fingerprint":"x"}],"alerts":[{},{}]}`,
	`{"alerts":[{"startsAt":"2026-11-25T03:01:51.123+08:00","endsAt":"0001-01-01T00:00:00Z"}]}`,
	`{"alerts":[{"startsAt":"2026-11-25"}]}`, `{"alerts":[{"startsAt":5}]}`, `{"alerts":[{"startsAt":null}]}`,
	`{"alerts":[{"startsAt":{}}]}`, `{"alerts":[{"startsAt":"2026-11-25T03:01:51Z","startsAt":null}]}`,
	`{"receiver":"a\"b\\c\/d\b\f\n\r\t\u00e9\u4e2d\ud83d\ude00"}`, `{"receiver":"\ud800"}`, `{"receiver":"\ud800x"}`,
	`{"receiver":"\ud800\u0041"}`, `{"receiver":"\udc00\ud800"}`, `{"receiver":"\u12"}`, `{"receiver":"\x"}`,
	"{\"receiver\":\"a\x01b\"}", "{\"receiver\":\"a\xffb\xc3\"}", "{\"receiver\":\"\xed\xa0\x80\"}", "{\"receiver\":\"中文\"}",
	`{"receiver":"unterminated`, `{"receiver":"x\`, `{"unknown":{"a":[1,2,{"b":null}],"c":true,"d":false,"e":-0.5e+3}}`,
	`{"unknown":[tru]}`, `{"unknown":fals}`, `{"unknown":[1,]}`, `{"unknown":{"a" 1}}`, `{"unknown":{1:2}}`,
	`{"unknown":[]}`, `{ "version" : "4" , "alerts" : [ { } ] }`, "{\"version\"\t:\r\n\"4\"}",
	strings.Repeat("[", 10001) + strings.Repeat("]", 10001), `{"x":` + strings.Repeat("[", 9999) + strings.Repeat("]", 9999) + `}`,
	`{"x":` + strings.Repeat("[", 10000) + strings.Repeat("]", 10000) + `}`,
}

// TestDecodePayloadAgreesWithEncodingJSON holds decodePayload to
// encoding/json on the edge cases and the real Alertmanager payloads.
func TestDecodePayloadAgreesWithEncodingJSON(t *testing.T) {
	for _, name := range []string{"firing-one-alert.json", "firing-two-alerts.json", "firing-with-resolved.json"} {
		body, err := readPayload(name)
		if err != nil {
			t.Fatal(err)
		}
		payloadCases = append(payloadCases, string(body))
	}
	for _, doc := range payloadCases {
		checkDecodePayload(t, []byte(doc))
	}
}

func checkDecodePayload(t *testing.T, doc []byte) {
	t.Helper()
	var want, got Notification
	wantErr := json.Unmarshal(doc, &want)
	gotErr := decodePayload(doc, &got)
	if (wantErr == nil) != (gotErr == nil) {
		t.Fatalf("document %.200q: encoding/json says %v, decodePayload %v", doc, wantErr, gotErr)
	}
	if wantErr == nil && !reflect.DeepEqual(want, got) {
		t.Fatalf("document %.200q decodes differently:\nencoding/json %+v\ndecodePayload %+v", doc, want, got)
	}
}

// FuzzDecodePayload holds decodePayload to encoding/json on any document.
func FuzzDecodePayload(f *testing.F) {
	for _, doc := range payloadCases {
		f.Add([]byte(doc))
	}
	for _, name := range []string{"firing-one-alert.json", "firing-two-alerts.json", "firing-with-resolved.json"} {
		body, err := readPayload(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(body)
	}
	f.Fuzz(func(t *testing.T, doc []byte) {
		checkDecodePayload(t, doc)
	})
}

// BenchmarkDecodePayload compares decodePayload with encoding/json on a
// real two-alert payload.
func BenchmarkDecodePayload(b *testing.B) {
	body, err := readPayload("firing-two-alerts.json")
	if err != nil {
		b.Fatal(err)
	}
	b.Run("decodePayload", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var n Notification
			if err := decodePayload(body, &n); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("encoding/json", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var n Notification
			if err := json.Unmarshal(body, &n); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// TestInZoneKeepsNoPayload: a decoded label is a substring of the request
// body's copy, so a template's inZone with a zone named by a label (say
// {{ .StartsAt | inZone .CommonLabels.tz }}) must not cache it: the zone,
// and its name, would keep the whole body alive for good.
func TestInZoneKeepsNoPayload(t *testing.T) {
	inZone := templates.Funcs["inZone"].(func(string, time.Time) (time.Time, error))
	body := []byte(`{"version":"4","status":"firing","alerts":[{"status":"firing","labels":{"tz":"America/Argentina/Ushuaia"}}]}`)
	n, err := DecodeNotification(body)
	if err != nil {
		t.Fatal(err)
	}
	label := n.Alerts[0].Labels["tz"]
	at, err := inZone(label, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if unsafe.StringData(at.Location().String()) == unsafe.StringData(label) {
		t.Errorf("the cached zone's name is the label's own bytes: a substring of the request body's copy")
	}
}
