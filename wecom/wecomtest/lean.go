package wecomtest

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"sync"
	"sync/atomic"

	"golang.org/x/net/http/httpguts"

	"github.com/alertmanager-wecom/alertmanager-wecom/wecom"
)

// LeanServer is a fake WeCom for load programs, which send it hundreds of
// thousands of messages from the same machine as the receiver they measure.
// It checks every message as Server does (Validate: msgtype, byte limits,
// UTF-8, mentions; and the robot key and path) and refuses the HTTP that
// net/http's server refuses, but serves each connection on one goroutine
// of its own instead of net/http's server, and keeps counts instead of
// messages, so that the fake takes as little of the machine's CPU as it
// can: a request the same byte for byte as the connection's last accepted
// one is not decoded again. It has no rate limit and injects no failures:
// load programs that need those use Server.
type LeanServer struct {
	listener net.Listener
	key      string
	accepted atomic.Int64
	refused  atomic.Int64
	wg       sync.WaitGroup
}

// NewLeanServer starts a LeanServer on loopback for the robot with key;
// other keys get 93000.
func NewLeanServer(key string) (*LeanServer, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	s := &LeanServer{listener: l, key: key}
	s.wg.Add(1)
	go s.accept()
	return s, nil
}

// APIURL returns the endpoint to set as global.api_url.
func (s *LeanServer) APIURL() string { return "http://" + s.listener.Addr().String() + Path }

// Accepted returns how many messages were accepted so far.
func (s *LeanServer) Accepted() int64 { return s.accepted.Load() }

// Refused returns how many requests were answered an errcode or an HTTP error.
func (s *LeanServer) Refused() int64 { return s.refused.Load() }

// Close stops listening and waits for the connections to end.
func (s *LeanServer) Close() {
	s.listener.Close()
	s.wg.Wait()
}

func (s *LeanServer) accept() {
	defer s.wg.Done()
	var conns sync.WaitGroup
	var mu sync.Mutex
	open := map[net.Conn]bool{}
	for {
		c, err := s.listener.Accept()
		if err != nil {
			break
		}
		mu.Lock()
		open[c] = true
		mu.Unlock()
		conns.Add(1)
		go func() {
			defer conns.Done()
			s.serve(c)
			c.Close()
			mu.Lock()
			delete(open, c)
			mu.Unlock()
		}()
	}
	mu.Lock()
	for c := range open {
		c.Close()
	}
	mu.Unlock()
	conns.Wait()
}

// serve answers the requests of one keep-alive connection.
func (s *LeanServer) serve(c net.Conn) {
	w := bufio.NewWriterSize(c, 4096)
	// Answers wait in w only while the next request is at hand: before
	// reading the connection, which may block, they are sent.
	r := bufio.NewReaderSize(flushingReader{c, w}, 8192)
	// last is the connection's last accepted request: a request the same
	// byte for byte gets the same verdict without being decoded again
	// (the checks are a function of these bytes alone), which a load
	// program posting one notification again and again makes the common case.
	var last struct {
		set                 bool
		target, contentType string
		body                []byte
	}
	for {
		req, body, err := readRequest(r)
		if errors.Is(err, errBadRequest) {
			s.refused.Add(1)
			_, _ = w.WriteString("HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
			_ = w.Flush()
		}
		if err != nil {
			return
		}
		target, contentType := req.RequestURI, req.Header.Get("Content-Type")
		code, why := 0, ""
		if !last.set || target != last.target || contentType != last.contentType || !bytes.Equal(body, last.body) {
			if code, why = s.check(req.URL, contentType, body); code == 0 {
				last.set, last.target, last.contentType, last.body = true, target, contentType, body
			}
		}
		if code == 0 {
			s.accepted.Add(1)
			_, _ = w.WriteString(leanOKAnswer)
		} else {
			s.refused.Add(1)
			answer, _ := json.Marshal(map[string]any{"errcode": code, "errmsg": why})
			fmt.Fprintf(w, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s", len(answer), answer)
		}
	}
}

// errBadRequest is a request net/http's server would answer 400; the
// connection ends after the answer.
var errBadRequest = errors.New("bad request")

// readRequest reads a request with net/http's own parser, and its body,
// refusing what net/http's server refuses of an HTTP/1.1 POST on top: no
// Host or an invalid one, an invalid header name or value, a body over
// maxBody. It returns the reader's error at the end of the connection.
func readRequest(r *bufio.Reader) (*http.Request, []byte, error) {
	req, err := http.ReadRequest(r)
	if err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed) {
			return nil, nil, err
		}
		return nil, nil, fmt.Errorf("%w: %v", errBadRequest, err)
	}
	// ReadRequest moved the Host header to req.Host, without the checks of
	// net/http's server.
	if req.Method != http.MethodPost || req.ProtoMajor != 1 || req.ProtoMinor != 1 || req.Host == "" || !httpguts.ValidHostHeader(req.Host) {
		return nil, nil, fmt.Errorf("%w: %s %s, Host %q", errBadRequest, req.Method, req.Proto, req.Host)
	}
	for name, values := range req.Header {
		if !httpguts.ValidHeaderFieldName(name) {
			return nil, nil, fmt.Errorf("%w: header name %q", errBadRequest, name)
		}
		for _, v := range values {
			if !httpguts.ValidHeaderFieldValue(v) {
				return nil, nil, fmt.Errorf("%w: header %s value %q", errBadRequest, name, v)
			}
		}
	}
	body, err := io.ReadAll(io.LimitReader(req.Body, maxBody+1))
	if err != nil {
		return nil, nil, fmt.Errorf("%w: body: %v", errBadRequest, err)
	}
	if len(body) > maxBody {
		return nil, nil, fmt.Errorf("%w: body over %d bytes", errBadRequest, maxBody)
	}
	return req, body, nil
}

// flushingReader flushes w before each read of the connection.
type flushingReader struct {
	c net.Conn
	w *bufio.Writer
}

func (f flushingReader) Read(p []byte) (int, error) {
	if err := f.w.Flush(); err != nil {
		return 0, err
	}
	return f.c.Read(p)
}

// leanOKAnswer is WeCom's answer to an accepted message, as Server writes it.
const leanOKAnswer = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 28\r\n\r\n" + `{"errcode":0,"errmsg":"ok"}` + "\n"

// check returns the errcode WeCom answers a request to u, and why, or 0.
func (s *LeanServer) check(u *url.URL, contentType string, body []byte) (int, string) {
	if u.EscapedPath() != Path || u.Query().Get("key") != s.key {
		return wecom.ErrcodeInvalidKey, "invalid webhook url"
	}
	_, code, why := Validate(contentType, body)
	return code, why
}
