package wecomtest

import (
	"bufio"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/alertmanager-wecom/alertmanager-wecom/wecom"
)

// errcodeOf posts body to url and returns the errcode WeCom's answer carries.
func errcodeOf(t *testing.T, client *http.Client, url, contentType, body string) int {
	t.Helper()
	resp, err := client.Post(url, contentType, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("HTTP %d: %s", resp.StatusCode, raw)
	}
	var answer struct{ Errcode *int }
	if err := json.Unmarshal(raw, &answer); err != nil || answer.Errcode == nil {
		t.Fatalf("answer %q is not WeCom's: %v", raw, err)
	}
	return *answer.Errcode
}

// TestLeanServerRefusesWhatServerRefuses holds the load programs' fake to
// the tests' fake: the same requests, the same errcodes.
func TestLeanServerRefusesWhatServerRefuses(t *testing.T) {
	const key = "lean-key"
	full := NewServer()
	defer full.Close()
	full.Limit = 0
	full.AddRobot(key)
	lean, err := NewLeanServer(key)
	if err != nil {
		t.Fatal(err)
	}
	defer lean.Close()

	message := func(msgtype, content string) string {
		b, _ := json.Marshal(wecom.NewMessage(msgtype, content))
		return string(b)
	}
	cases := []struct {
		name, query, contentType, body string
		want                           int
	}{
		{"markdown", "?key=" + key, "application/json", message("markdown", "## 告警 🔥"), 0},
		{"the same again", "?key=" + key, "application/json", message("markdown", "## 告警 🔥"), 0},
		{"the same with another key", "?key=other", "application/json", message("markdown", "## 告警 🔥"), wecom.ErrcodeInvalidKey},
		{"the same as a form", "?key=" + key, "application/x-www-form-urlencoded", message("markdown", "## 告警 🔥"), wecom.ErrcodeInvalidParam},
		{"text with mentions", "?key=" + key, "application/json", `{"msgtype":"text","text":{"content":"hi","mentioned_mobile_list":["13800001111"]}}`, 0},
		{"markdown at the limit", "?key=" + key, "application/json", message("markdown", strings.Repeat("告", 4096/3)), 0},
		{"markdown over the limit", "?key=" + key, "application/json", message("markdown", strings.Repeat("告", 4096/3+1)), wecom.ErrcodeInvalidParam},
		{"text over the limit", "?key=" + key, "application/json", message("text", strings.Repeat("x", 2049)), wecom.ErrcodeInvalidParam},
		{"unknown msgtype", "?key=" + key, "application/json", `{"msgtype":"news","markdown":{"content":"x"}}`, wecom.ErrcodeInvalidMsgType},
		{"body of another msgtype", "?key=" + key, "application/json", `{"msgtype":"text","markdown":{"content":"x"}}`, wecom.ErrcodeInvalidParam},
		{"empty content", "?key=" + key, "application/json", message("markdown", ""), wecom.ErrcodeEmptyContent},
		{"unknown field", "?key=" + key, "application/json", `{"msgtype":"markdown","markdown":{"content":"x","mentioned_list":["a"]}}`, wecom.ErrcodeInvalidParam},
		{"bad mobile", "?key=" + key, "application/json", `{"msgtype":"text","text":{"content":"x","mentioned_mobile_list":["<@bob>"]}}`, wecom.ErrcodeInvalidParam},
		{"not UTF-8", "?key=" + key, "application/json", "{\"msgtype\":\"markdown\",\"markdown\":{\"content\":\"\xff\"}}", wecom.ErrcodeInvalidParam},
		{"not JSON", "?key=" + key, "application/json", "msgtype=markdown", wecom.ErrcodeInvalidParam},
		{"form content type", "?key=" + key, "application/x-www-form-urlencoded", message("markdown", "x"), wecom.ErrcodeInvalidParam},
		{"other key", "?key=other", "application/json", message("markdown", "x"), wecom.ErrcodeInvalidKey},
		{"no key", "", "application/json", message("markdown", "x"), wecom.ErrcodeInvalidKey},
	}
	client := &http.Client{} // one keep-alive connection to each, for every case in turn
	accepted := 0
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			gotFull := errcodeOf(t, client, full.APIURL()+c.query, c.contentType, c.body)
			gotLean := errcodeOf(t, client, lean.APIURL()+c.query, c.contentType, c.body)
			if gotFull != c.want || gotLean != c.want {
				t.Errorf("errcode: Server %d, LeanServer %d, want %d", gotFull, gotLean, c.want)
			}
		})
		if c.want == 0 {
			accepted++
		}
	}
	if got := lean.Accepted(); got != int64(accepted) {
		t.Errorf("LeanServer accepted %d, want %d", got, accepted)
	}
	if got := lean.Refused(); got != int64(len(cases)-accepted) {
		t.Errorf("LeanServer refused %d, want %d", got, len(cases)-accepted)
	}
}

// TestLeanServerReadsBodiesAsServerDoes: a chunked body is read, as
// net/http's server reads it, and a body over 1 MiB is answered 400 and
// counted, not taken as a message.
func TestLeanServerReadsBodiesAsServerDoes(t *testing.T) {
	lean, err := NewLeanServer("k")
	if err != nil {
		t.Fatal(err)
	}
	defer lean.Close()
	post := func(body io.Reader) int {
		req, _ := http.NewRequest(http.MethodPost, lean.APIURL()+"?key=k", body)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	// A reader of unknown length: net/http sends it chunked.
	chunked := io.MultiReader(strings.NewReader(`{"msgtype":"text",`), strings.NewReader(`"text":{"content":"x"}}`))
	if code := post(chunked); code != http.StatusOK || lean.Accepted() != 1 {
		t.Errorf("chunked: HTTP %d, accepted %d; want 200, 1", code, lean.Accepted())
	}
	huge := `{"msgtype":"text","text":{"content":"` + strings.Repeat("x", 1<<20) + `"}}`
	if code := post(strings.NewReader(huge)); code != http.StatusBadRequest || lean.Refused() != 1 || lean.Accepted() != 1 {
		t.Errorf("over 1 MiB: HTTP %d, refused %d, accepted %d; want 400, 1, 1", code, lean.Refused(), lean.Accepted())
	}
}

// leanRequest is a raw request of body to the robot with key.
func leanRequest(key, body string) string {
	return "POST " + Path + "?key=" + key + " HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: " +
		strconv.Itoa(len(body)) + "\r\n\r\n" + body
}

// TestLeanServerPipelined: two requests in one write get two answers.
func TestLeanServerPipelined(t *testing.T) {
	lean, err := NewLeanServer("k")
	if err != nil {
		t.Fatal(err)
	}
	defer lean.Close()
	c, err := net.Dial("tcp", strings.TrimPrefix(strings.TrimSuffix(lean.APIURL(), Path), "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	msg := `{"msgtype":"text","text":{"content":"x"}}`
	c.SetDeadline(time.Now().Add(5 * time.Second))
	c.Write([]byte(leanRequest("k", msg) + leanRequest("k", msg)))
	r := bufio.NewReader(c)
	for i := range 2 {
		resp, err := http.ReadResponse(r, nil)
		if err != nil {
			t.Fatalf("answer %d: %v", i+1, err)
		}
		resp.Body.Close()
	}
	if lean.Accepted() != 2 {
		t.Errorf("accepted %d", lean.Accepted())
	}
}

// TestLeanServerAnswersBeforeTheNextRequestIsWhole: with the next
// pipelined request only begun, the answer to the first is still sent, as
// net/http's server (wecomtest.Server) sends it.
func TestLeanServerAnswersBeforeTheNextRequestIsWhole(t *testing.T) {
	lean, err := NewLeanServer("k")
	if err != nil {
		t.Fatal(err)
	}
	defer lean.Close()
	full := NewServer()
	defer full.Close()
	full.AddRobot("k")
	msg := `{"msgtype":"text","text":{"content":"x"}}`
	for _, s := range []struct{ name, url string }{{"Server", full.APIURL()}, {"LeanServer", lean.APIURL()}} {
		c, err := net.Dial("tcp", strings.TrimPrefix(strings.TrimSuffix(s.url, Path), "http://"))
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		second := leanRequest("k", msg)
		c.Write([]byte(leanRequest("k", msg) + second[:20]))
		c.SetReadDeadline(time.Now().Add(2 * time.Second))
		if _, err := http.ReadResponse(bufio.NewReader(c), nil); err != nil {
			t.Errorf("%s: no answer to the first request while the second is under way: %v", s.name, err)
		}
	}
}

// acceptedRaw writes raw to addr on a fresh connection and reports whether
// the answer is WeCom's errcode 0.
func acceptedRaw(t *testing.T, addr, raw string) bool {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(3 * time.Second))
	if _, err := c.Write([]byte(raw)); err != nil {
		return false
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		return false
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var a struct{ Errcode *int }
	return resp.StatusCode == http.StatusOK && json.Unmarshal(b, &a) == nil && a.Errcode != nil && *a.Errcode == 0
}

// TestLeanServerAcceptsNothingServerRefuses sends the same raw request to
// both fakes, each on a connection of its own: HTTP that net/http's server
// refuses must not pass for a message.
func TestLeanServerAcceptsNothingServerRefuses(t *testing.T) {
	full := NewServer()
	defer full.Close()
	full.Limit = 0
	full.AddRobot("k")
	lean, err := NewLeanServer("k")
	if err != nil {
		t.Fatal(err)
	}
	defer lean.Close()
	addr := func(u string) string { return strings.TrimPrefix(strings.TrimSuffix(u, Path), "http://") }
	msg := `{"msgtype":"text","text":{"content":"x"}}`
	head := "POST " + Path + "?key=k HTTP/1.1\r\nHost: x\r\nContent-Length: 41\r\n"
	for name, raw := range map[string]string{
		"empty target, no body": "POST  HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n",
		"no Host":               "POST " + Path + "?key=k HTTP/1.1\r\nContent-Type: application/json\r\nContent-Length: 41\r\n\r\n" + msg,
		"two Content-Types":     "POST " + Path + "?key=k HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\nContent-Type: application/json\r\nContent-Length: 41\r\n\r\n" + msg,
		"Content-Length +41":    "POST " + Path + "?key=k HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: +41\r\n\r\n" + msg,
		"two Content-Lengths":   "POST " + Path + "?key=k HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 5\r\nContent-Length: 41\r\n\r\n" + msg,
		"NUL in a value":        head + "Content-Type: application/json\x00\r\n\r\n" + msg,
		"bad header name":       head + "Content-Type: application/json\r\nFoo Bar: x\r\n\r\n" + msg,
		"bad host":              "POST " + Path + "?key=k HTTP/1.1\r\nHost: a b\r\nContent-Length: 41\r\nContent-Type: application/json\r\n\r\n" + msg,
		"path with %2F":         "POST /cgi-bin/webhook%2Fsend?key=k HTTP/1.1\r\nHost: x\r\nContent-Length: 41\r\nContent-Type: application/json\r\n\r\n" + msg,
	} {
		if f, l := acceptedRaw(t, addr(full.APIURL()), raw), acceptedRaw(t, addr(lean.APIURL()), raw); l && !f {
			t.Errorf("%s: LeanServer accepted what Server refuses", name)
		}
	}
	if !acceptedRaw(t, addr(lean.APIURL()), leanRequest("k", msg)) {
		t.Error("LeanServer refused a plain request") // the test's own check
	}
}
