package wecom

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

const testKey = "direct-s3cr3t"

// robotServer answers like WeCom, counting messages and connections.
type robotServer struct {
	*httptest.Server
	messages atomic.Int64
	conns    atomic.Int64
	// answer, when set, writes the answer instead.
	answer func(w http.ResponseWriter)
}

func newRobotServer(t *testing.T, tlsServer bool) *robotServer {
	t.Helper()
	rs := &robotServer{}
	rs.Server = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		if req.Method != http.MethodPost || req.URL.Query().Get("key") != testKey || req.Header.Get("Content-Type") != "application/json" || !strings.Contains(string(body), `"msgtype":"text"`) {
			http.Error(w, "bad request", http.StatusBadRequest)
			return
		}
		rs.messages.Add(1)
		if rs.answer != nil {
			rs.answer(w)
			return
		}
		_, _ = io.WriteString(w, `{"errcode":0,"errmsg":"ok"}`)
	}))
	rs.Config.ConnState = func(_ net.Conn, state http.ConnState) {
		if state == http.StateNew {
			rs.conns.Add(1)
		}
	}
	if tlsServer {
		rs.StartTLS()
	} else {
		rs.Start()
	}
	t.Cleanup(rs.Close)
	return rs
}

func (rs *robotServer) url() string { return rs.URL + "/cgi-bin/webhook/send?key=" + testKey }

func noProxy(*http.Request) (*url.URL, error) { return nil, nil }

func testClient(timeout time.Duration) *Client {
	c := NewClient(timeout)
	c.proxy = noProxy
	return c
}

func TestDirectKeepsConnections(t *testing.T) {
	rs := newRobotServer(t, false)
	c := testClient(time.Second)
	for i := range 20 {
		if err := c.Send(context.Background(), rs.url(), NewMessage(MsgTypeText, "hello")); err != nil {
			t.Fatalf("send %d: %v", i, err)
		}
	}
	if got := rs.messages.Load(); got != 20 {
		t.Errorf("server got %d messages, want 20", got)
	}
	if got := rs.conns.Load(); got != 1 {
		t.Errorf("20 sends one after another used %d connections, want 1", got)
	}
	// Concurrent sends open connections of their own and keep them.
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 10 {
				if err := c.Send(context.Background(), rs.url(), NewMessage(MsgTypeText, "hello")); err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
	if got := rs.conns.Load(); got > 9 {
		t.Errorf("8 concurrent senders used %d connections, want at most 9", got)
	}
}

// A server that closes a kept connection (its idle timeout, a restart)
// costs nothing: the send goes out once, on a new connection.
func TestDirectReplacesClosedConnection(t *testing.T) {
	rs := newRobotServer(t, false)
	c := testClient(time.Second)
	send := func() {
		t.Helper()
		if err := c.Send(context.Background(), rs.url(), NewMessage(MsgTypeText, "hello")); err != nil {
			t.Fatal(err)
		}
	}
	send()
	rs.CloseClientConnections() // the kept connection is closed under the client
	time.Sleep(50 * time.Millisecond)
	send()
	if got := rs.messages.Load(); got != 2 {
		t.Errorf("server got %d messages, want 2 (each once)", got)
	}
	if got := rs.conns.Load(); got != 2 {
		t.Errorf("used %d connections, want 2", got)
	}

	// An answer saying Connection: close is honoured: the next send dials.
	rs.answer = func(w http.ResponseWriter) {
		w.Header().Set("Connection", "close")
		_, _ = io.WriteString(w, `{"errcode":0,"errmsg":"ok"}`)
	}
	send() // on the kept connection, which the answer closes
	send() // on a new one, closed too
	send()
	if got := rs.conns.Load(); got != 4 {
		t.Errorf("used %d connections after three Connection: close answers, want 4", got)
	}
}

func TestDirectAnswers(t *testing.T) {
	rs := newRobotServer(t, false)
	c := testClient(time.Second)
	for _, tc := range []struct {
		name   string
		answer func(w http.ResponseWriter)
		check  func(error) bool
	}{
		{"chunked errcode", func(w http.ResponseWriter) {
			_, _ = io.WriteString(w, `{"errcode":93004,`)
			w.(http.Flusher).Flush() // no Content-Length: chunked
			_, _ = io.WriteString(w, `"errmsg":"robot disabled"}`)
		}, func(err error) bool {
			var apiErr *APIError
			return errors.As(err, &apiErr) && apiErr.Code == 93004
		}},
		{"HTTP 502", func(w http.ResponseWriter) { w.WriteHeader(http.StatusBadGateway) }, func(err error) bool {
			var statusErr *StatusError
			return errors.As(err, &statusErr) && statusErr.Code == 502 && Retryable(err)
		}},
		{"no errcode", func(w http.ResponseWriter) { _, _ = io.WriteString(w, `{}`) }, func(err error) bool {
			return err != nil && strings.Contains(err.Error(), "no errcode")
		}},
		{"answer over 64 KiB", func(w http.ResponseWriter) {
			_, _ = io.WriteString(w, `{"errcode":0,"errmsg":"`+strings.Repeat("x", maxAnswerBytes)+`"}`)
		}, func(err error) bool { return err != nil }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rs.answer = tc.answer
			err := c.Send(context.Background(), rs.url(), NewMessage(MsgTypeText, "hello"))
			if !tc.check(err) {
				t.Errorf("Send: %v", err)
			}
			if err != nil && strings.Contains(err.Error(), testKey) {
				t.Errorf("error shows the key: %v", err)
			}
		})
	}
	// After all of them the client still sends.
	rs.answer = nil
	if err := c.Send(context.Background(), rs.url(), NewMessage(MsgTypeText, "hello")); err != nil {
		t.Fatal(err)
	}
}

func TestDirectTimeoutAndCancel(t *testing.T) {
	// A server that reads the request and never answers.
	l := listenLoopback(t)
	acceptEach(t, l, func(conn net.Conn) { _, _ = io.Copy(io.Discard, conn) })
	webhook := "http://" + l.Addr().String() + "/cgi-bin/webhook/send?key=" + testKey

	c := testClient(200 * time.Millisecond)
	start := time.Now()
	err := c.Send(context.Background(), webhook, NewMessage(MsgTypeText, "hello"))
	if err == nil || !Retryable(err) || time.Since(start) > 2*time.Second {
		t.Errorf("Send to a server that never answers: %v after %v, want a retryable error after the 200ms timeout", err, time.Since(start))
	}
	if strings.Contains(err.Error(), testKey) {
		t.Errorf("error shows the key: %v", err)
	}

	c = testClient(time.Minute)
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(100*time.Millisecond, cancel)
	start = time.Now()
	err = c.Send(ctx, webhook, NewMessage(MsgTypeText, "hello"))
	if !errors.Is(err, context.Canceled) || time.Since(start) > 2*time.Second {
		t.Errorf("Send cancelled after 100ms: %v after %v, want context.Canceled at once", err, time.Since(start))
	}
}

func TestDirectTLS(t *testing.T) {
	rs := newRobotServer(t, true)
	c := testClient(time.Second)
	if err := c.Send(context.Background(), rs.url(), NewMessage(MsgTypeText, "hello")); err == nil {
		t.Fatal("Send trusted a certificate no root signed")
	}
	trust(c, rs.Certificate(), "")
	// Sequential sends, with pauses in which TLS 1.3's session tickets
	// arrive after the handshake: the kept connection is still alive.
	for i := range 5 {
		if err := c.Send(context.Background(), rs.url(), NewMessage(MsgTypeText, "hello")); err != nil {
			t.Fatalf("send %d: %v", i, err)
		}
		time.Sleep(30 * time.Millisecond)
	}
	if got := rs.messages.Load(); got != 5 {
		t.Errorf("server got %d messages, want 5", got)
	}
	// One for the refused handshake, one kept for the five sends.
	if got := rs.conns.Load(); got != 2 {
		t.Errorf("used %d connections, want 2", got)
	}
}

// trust makes c's direct connections trust cert, for serverName when set.
func trust(c *Client, cert *x509.Certificate, serverName string) {
	roots := x509.NewCertPool()
	roots.AddCert(cert)
	c.direct.tlsConfig = &tls.Config{RootCAs: roots, ServerName: serverName}
}

// Through a proxy, net/http's client sends, and the proxy sees the request.
func TestProxySetting(t *testing.T) {
	rs := newRobotServer(t, false)
	var proxied atomic.Int64
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		proxied.Add(1)
		out, err := http.NewRequest(req.Method, req.URL.String(), req.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		out.Header = req.Header
		resp, err := http.DefaultTransport.RoundTrip(out)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		defer resp.Body.Close()
		w.WriteHeader(resp.StatusCode)
		_, _ = io.Copy(w, resp.Body)
	}))
	defer proxy.Close()
	proxyURL, _ := url.Parse(proxy.URL)

	c := NewClient(time.Second)
	c.proxy = http.ProxyURL(proxyURL)
	c.http.Transport.(*http.Transport).Proxy = c.proxy
	if err := c.Send(context.Background(), rs.url(), NewMessage(MsgTypeText, "hello")); err != nil {
		t.Fatal(err)
	}
	if proxied.Load() != 1 || rs.messages.Load() != 1 {
		t.Errorf("proxy saw %d requests and the robot %d messages, want 1 and 1", proxied.Load(), rs.messages.Load())
	}
}

// A request that timed out on a kept connection is not sent again: the
// server may still be handling it.
func TestDirectTimeoutIsNotRetried(t *testing.T) {
	rs := newRobotServer(t, false)
	c := testClient(200 * time.Millisecond)
	if err := c.Send(context.Background(), rs.url(), NewMessage(MsgTypeText, "hello")); err != nil {
		t.Fatal(err)
	}
	rs.answer = func(w http.ResponseWriter) {
		time.Sleep(400 * time.Millisecond)
		_, _ = io.WriteString(w, `{"errcode":0,"errmsg":"ok"}`)
	}
	if err := c.Send(context.Background(), rs.url(), NewMessage(MsgTypeText, "hello")); err == nil || !Retryable(err) {
		t.Fatalf("Send to a server slower than the timeout: %v, want a retryable error", err)
	}
	time.Sleep(500 * time.Millisecond)
	if got := rs.messages.Load(); got != 2 {
		t.Errorf("server got %d messages, want 2: a timed-out request was sent again", got)
	}
}

// A server that closed every kept connection (its idle timeout, a restart,
// a load balancer's drain) while several were pooled, after concurrent
// sends: the next send must still go out, on a new connection, and not fail
// with a network error because the one "replacement" was another dead
// connection from the pool (each such send cost the robot budget and a
// retry).
func TestDirectReplacesSeveralClosedConnections(t *testing.T) {
	rs := newRobotServer(t, false)
	c := testClient(2 * time.Second)
	// Three concurrent, slow sends leave three connections in the pool.
	rs.answer = func(w http.ResponseWriter) {
		time.Sleep(100 * time.Millisecond)
		_, _ = io.WriteString(w, `{"errcode":0,"errmsg":"ok"}`)
	}
	var wg sync.WaitGroup
	for range 3 {
		wg.Go(func() {
			if err := c.Send(context.Background(), rs.url(), NewMessage(MsgTypeText, "hello")); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if got := rs.conns.Load(); got != 3 {
		t.Fatalf("setup: %d connections, want 3 pooled", got)
	}
	rs.answer = nil
	rs.CloseClientConnections() // every kept connection is closed under the client
	time.Sleep(50 * time.Millisecond)
	err := c.Send(context.Background(), rs.url(), NewMessage(MsgTypeText, "hello"))
	t.Logf("send after the server closed its idle connections: err=%v; server got %d messages over %d connections", err, rs.messages.Load(), rs.conns.Load())
	if err != nil {
		t.Errorf("a healthy server that closed its idle connections failed a send: %v", err)
	}
}

// rawAnswer is an HTTP/1.1 answer of body.
func rawAnswer(body string) string {
	return fmt.Sprintf("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s", len(body), body)
}

// rawServer answers each request on a connection with the next of answers,
// written as they are, after reading the request whole; an empty one, or
// none left, closes the connection without answering.
func rawServer(t *testing.T, answers ...string) (url string, requests *atomic.Int64) {
	t.Helper()
	ln := listenLoopback(t)
	requests = serveRaw(t, ln, func(i int) []string {
		if i > len(answers) || answers[i-1] == "" {
			return nil
		}
		return []string{answers[i-1]}
	})
	return "http://" + ln.Addr().String() + "/cgi-bin/webhook/send?key=" + testKey, requests
}

// serveRaw serves ln: it reads each request whole, then makes the writes
// answer gives for the i-th request (counted from 1 over all connections),
// or closes the connection when there are none. It returns the count.
func serveRaw(t *testing.T, ln net.Listener, answer func(i int) []string) *atomic.Int64 {
	t.Helper()
	requests := &atomic.Int64{}
	acceptEach(t, ln, func(conn net.Conn) {
		defer conn.Close()
		r := bufio.NewReader(conn)
		for {
			req, err := http.ReadRequest(r)
			if err != nil {
				return
			}
			_, _ = io.Copy(io.Discard, req.Body)
			writes := answer(int(requests.Add(1)))
			if writes == nil {
				return
			}
			for _, w := range writes {
				_, _ = io.WriteString(conn, w)
			}
		}
	})
	return requests
}

// listenLoopback listens on a free loopback port.
func listenLoopback(t *testing.T) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return ln
}

// acceptEach serves every connection ln accepts with serve, each on a
// goroutine of its own, until the test ends and closes ln.
func acceptEach(t *testing.T, ln net.Listener, serve func(net.Conn)) {
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			go serve(conn)
		}
	}()
}

// RFC 9110 15.2: a client must parse 1xx responses it did not ask for that
// come before the final one. The answer to the first message is an interim
// 100 then WeCom's "ok"; the second message is refused with 93000. Each
// send must get its own answer.
func TestDirectInterimResponse(t *testing.T) {
	ok, invalidKey := rawAnswer(`{"errcode":0,"errmsg":"ok"}`), rawAnswer(`{"errcode":93000,"errmsg":"invalid webhook"}`)
	u, requests := rawServer(t, "HTTP/1.1 100 Continue\r\n\r\n"+ok, invalidKey)
	c := testClient(time.Second)
	err1 := c.Send(context.Background(), u, NewMessage(MsgTypeText, "first"))
	err2 := c.Send(context.Background(), u, NewMessage(MsgTypeText, "second"))
	t.Logf("server got %d requests; first send: %v; second send: %v", requests.Load(), err1, err2)
	if err1 != nil {
		t.Errorf("the first message, which WeCom accepted, failed: %v", err1)
	}
	var apiErr *APIError
	if !errors.As(err2, &apiErr) || apiErr.Code != ErrcodeInvalidKey {
		t.Errorf("the second message, which WeCom refused with 93000, got %v: another request's answer", err2)
	}
}

// A server whose Content-Length leaves out a trailing newline of its JSON
// (the body is one byte longer than it says): the stray byte must not be
// read as the next request's answer. As net/http, the client closes a
// connection that holds bytes nobody asked for; the next message reached
// WeCom, was accepted, and was reported failed (so it was sent again).
func TestDirectStrayBytesAfterAnswer(t *testing.T) {
	okNL := rawAnswer(`{"errcode":0,"errmsg":"ok"}`) + "\n"
	u, requests := rawServer(t, okNL, okNL, okNL)
	c := testClient(time.Second)
	for i := range 2 {
		err := c.Send(context.Background(), u, NewMessage(MsgTypeText, "hello"))
		time.Sleep(50 * time.Millisecond)
		t.Logf("send %d: %v (server has accepted %d)", i+1, err, requests.Load())
		if err != nil {
			t.Errorf("send %d, which the server accepted, failed: %v", i+1, err)
		}
	}
}

// A kept connection that the server closes after reading a request whole
// (it may have handled it: posted the message) is not a connection closed
// while idle: as net/http, the client does not send such a POST again, and
// leaves it to the receiver's retries, which count it. One Send was posted
// twice.
func TestDirectResendsARequestTheServerRead(t *testing.T) {
	ok := rawAnswer(`{"errcode":0,"errmsg":"ok"}`)
	u, requests := rawServer(t, ok, "", ok)
	c := testClient(time.Second)
	if err := c.Send(context.Background(), u, NewMessage(MsgTypeText, "first")); err != nil {
		t.Fatal(err)
	}
	err := c.Send(context.Background(), u, NewMessage(MsgTypeText, "second"))
	t.Logf("second send: %v; the server read %d requests for 2 sends", err, requests.Load())
	if requests.Load() != 2 {
		t.Errorf("one Send was posted %d times", requests.Load()-1)
	}
}

// The TLS twin of TestDirectStrayBytesAfterAnswer: the stray byte comes in
// a TLS record of its own, right after the answer's.
func TestDirectTLSStrayBytesAfterAnswer(t *testing.T) {
	srv := httptest.NewUnstartedServer(nil)
	srv.StartTLS() // for its certificate
	defer srv.Close()
	cert := srv.TLS.Certificates[0]
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{cert}})
	if err != nil {
		t.Fatal(err)
	}
	requests := serveRaw(t, ln, func(int) []string {
		// The answer, then a byte in a TLS record of its own.
		return []string{rawAnswer(`{"errcode":0,"errmsg":"ok"}`), "\n"}
	})
	c := testClient(time.Second)
	trust(c, srv.Certificate(), "example.com")
	u := "https://" + ln.Addr().String() + "/cgi-bin/webhook/send?key=" + testKey
	for i := range 3 {
		err := c.Send(context.Background(), u, NewMessage(MsgTypeText, "hello"))
		time.Sleep(50 * time.Millisecond)
		t.Logf("send %d: %v (server has accepted %d)", i+1, err, requests.Load())
		if err != nil {
			t.Errorf("send %d, which the server accepted, failed: %v", i+1, err)
		}
	}
}

// TestDirectSendsURLBasicAuth: a url robot whose gateway takes basic auth
// in the URL's user info (https://user:pass@gw/...) authenticates, as
// net/http does; the direct client sent no Authorization and got 401.
func TestDirectSendsURLBasicAuth(t *testing.T) {
	var got string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u, p, ok := r.BasicAuth()
		if !ok || u != "gw" || p != "pass" {
			got = r.Header.Get("Authorization")
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		w.Write([]byte(`{"errcode":0,"errmsg":"ok"}`))
	}))
	defer srv.Close()
	c := testClient(5 * time.Second)
	url := strings.Replace(srv.URL, "http://", "http://gw:pass@", 1) + "/wecom/send?key=k"
	if err := c.Send(context.Background(), url, NewMessage(MsgTypeText, "hi")); err != nil {
		t.Errorf("Send: %v (Authorization sent: %q)", err, got)
	}
}

// TestPlainAnswer holds the direct client's quick read of WeCom's common
// answer to http.ReadResponse: where it reads an answer, the same status,
// body and length; anything less plain is left to net/http.
func TestPlainAnswer(t *testing.T) {
	const ok = `{"errcode":0,"errmsg":"ok"}`
	plain := "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 27\r\n\r\n" + ok
	for _, tc := range []struct {
		name, raw string
		read      bool
	}{
		{"WeCom's answer", plain, true},
		{"lower-case names, no reason phrase", "HTTP/1.1 200\r\ncontent-length:  27 \r\n\r\n" + ok, true},
		{"bytes after the answer", plain + "HTTP/1.1 200 OK\r\n", true},
		{"empty body", "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", true},
		{"keep-alive said, as nginx says it", "HTTP/1.1 200 OK\r\nConnection: keep-alive\r\nContent-Length: 27\r\n\r\n" + ok, true},
		{"chunked", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1b\r\n" + ok + "\r\n0\r\n\r\n", false},
		{"interim answer first", "HTTP/1.1 100 Continue\r\n\r\n" + plain, false},
		{"HTTP/1.0", "HTTP/1.0 200 OK\r\nContent-Length: 27\r\n\r\n" + ok, false},
		{"HTTP 502", "HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n", false},
		{"status 2000", "HTTP/1.1 2000 OK\r\nContent-Length: 0\r\n\r\n", false},
		{"connection close", "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 27\r\n\r\n" + ok, false},
		{"no length", "HTTP/1.1 200 OK\r\n\r\n" + ok, false},
		{"body still to come", "HTTP/1.1 200 OK\r\nContent-Length: 27\r\n\r\n" + ok[:10], false},
		{"head still to come", "HTTP/1.1 200 OK\r\nContent-Length: 27\r\n", false},
		{"two lengths", "HTTP/1.1 200 OK\r\nContent-Length: 27\r\nContent-Length: 27\r\n\r\n" + ok, false},
		{"signed length", "HTTP/1.1 200 OK\r\nContent-Length: +27\r\n\r\n" + ok, false},
		{"folded header", "HTTP/1.1 200 OK\r\nX-A: b\r\n c\r\nContent-Length: 27\r\n\r\n" + ok, false},
		{"answer over 64 KiB", fmt.Sprintf("HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s", maxAnswerBytes+1, strings.Repeat("x", maxAnswerBytes+1)), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := bufio.NewReaderSize(strings.NewReader(tc.raw), 2*maxAnswerBytes)
			if _, err := r.Peek(1); err != nil {
				t.Fatal(err)
			}
			a, n, read := plainAnswer(r)
			if read != tc.read {
				t.Fatalf("read %v, want %v", read, tc.read)
			}
			if r.Buffered() != len(tc.raw) {
				t.Fatalf("plainAnswer consumed %d bytes", len(tc.raw)-r.Buffered())
			}
			if !read {
				return
			}
			resp, err := http.ReadResponse(r, nil)
			if err != nil {
				t.Fatal(err)
			}
			body, err := io.ReadAll(resp.Body)
			if err != nil {
				t.Fatal(err)
			}
			if consumed := len(tc.raw) - r.Buffered(); a.status != resp.StatusCode || string(a.body) != string(body) || n != consumed {
				t.Errorf("plainAnswer: %d %q, %d bytes; http.ReadResponse: %d %q, %d bytes", a.status, a.body, n, resp.StatusCode, body, consumed)
			}
		})
	}
}

// TestPlainAnswerReadsAsNetHTTPDoes: every answer plainAnswer reads,
// http.ReadResponse reads too, the same.
func TestPlainAnswerReadsAsNetHTTPDoes(t *testing.T) {
	const ok = `{"errcode":0,"errmsg":"ok"}`
	for _, tc := range []struct{ name, raw string }{
		{"space in a header name", "HTTP/1.1 200 OK\r\nX Bad: y\r\nContent-Length: 27\r\n\r\n" + ok},
		{"space before the colon of Transfer-Encoding", "HTTP/1.1 200 OK\r\nTransfer-Encoding : chunked\r\nContent-Length: 27\r\n\r\n" + ok},
		{"bare LF hides Transfer-Encoding", "HTTP/1.1 200 OK\r\nX-A: b\nTransfer-Encoding: chunked\r\nContent-Length: 27\r\n\r\n1b\r\n" + ok + "\r\n0\r\n\r\n"},
		{"bare LF hides a second length", "HTTP/1.1 200 OK\r\nX-A: b\nContent-Length: 5\r\nContent-Length: 27\r\n\r\n" + ok},
		{"bare LF hides Connection: close", "HTTP/1.1 200 OK\r\nX-A: b\nConnection: close\r\nContent-Length: 27\r\n\r\n" + ok},
		{"vertical tab after the length", "HTTP/1.1 200 OK\r\nContent-Length: 27\v\r\n\r\n" + ok},
		{"quote in a header name", "HTTP/1.1 200 OK\r\nX\"A: y\r\nContent-Length: 27\r\n\r\n" + ok},
		{"NUL in a header value", "HTTP/1.1 200 OK\r\nX-A: \x00\r\nContent-Length: 27\r\n\r\n" + ok},
		{"keep-alive said", "HTTP/1.1 200 OK\r\nConnection: Keep-Alive\r\nContent-Length: 27\r\n\r\n" + ok},
		{"a list in Connection", "HTTP/1.1 200 OK\r\nConnection: keep-alive, close\r\nContent-Length: 27\r\n\r\n" + ok},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := bufio.NewReaderSize(strings.NewReader(tc.raw), 4096)
			if _, err := r.Peek(1); err != nil {
				t.Fatal(err)
			}
			a, n, read := plainAnswer(r)
			if !read {
				return
			}
			resp, err := http.ReadResponse(r, nil)
			if err != nil {
				t.Fatalf("plainAnswer read HTTP %d %q (%d bytes, kept alive); http.ReadResponse: %v", a.status, a.body, n, err)
			}
			body, err := io.ReadAll(resp.Body)
			consumed := len(tc.raw) - r.Buffered()
			if err != nil || a.status != resp.StatusCode || string(a.body) != string(body) || n != consumed || resp.Close {
				t.Errorf("plainAnswer: %d %q, %d bytes, kept alive; http.ReadResponse: %d %q, %d bytes, close %v, err %v", a.status, a.body, n, resp.StatusCode, body, consumed, resp.Close, err)
			}
		})
	}
}

// FuzzPlainAnswer holds plainAnswer to http.ReadResponse: any answer it
// reads, net/http reads the same, and would keep the connection.
func FuzzPlainAnswer(f *testing.F) {
	const ok = `{"errcode":0,"errmsg":"ok"}`
	f.Add("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 27\r\n\r\n" + ok)
	f.Add("HTTP/1.1 200 OK\r\nX-A: b\nTransfer-Encoding: chunked\r\nContent-Length: 27\r\n\r\n1b\r\n" + ok + "\r\n0\r\n\r\n")
	f.Add("HTTP/1.1 200 OK\r\nConnection: keep-alive\r\nContent-Length: 27\r\n\r\n" + ok + "HTTP/1.1 200")
	f.Fuzz(func(t *testing.T, raw string) {
		r := bufio.NewReaderSize(strings.NewReader(raw), 4096)
		if _, err := r.Peek(1); err != nil {
			return
		}
		a, n, read := plainAnswer(r)
		if !read {
			return
		}
		resp, err := http.ReadResponse(r, nil)
		if err != nil {
			t.Fatalf("plainAnswer read %d %q; net/http: %v", a.status, a.body, err)
		}
		body, err := io.ReadAll(resp.Body)
		consumed := len(raw) - r.Buffered()
		if err != nil || a.status != resp.StatusCode || string(a.body) != string(body) || n != consumed || resp.Close {
			t.Fatalf("plainAnswer: %d %q %d; net/http: %d %q %d close %v err %v", a.status, a.body, n, resp.StatusCode, body, consumed, resp.Close, err)
		}
	})
}
