package wecomtest

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/alertmanager-wecom/alertmanager-wecom/wecom"
)

// LeanServer is a fake WeCom for load programs, which send it hundreds of
// thousands of messages from the same machine as the receiver they measure.
// It checks every message as Server does (Validate: msgtype, byte limits,
// UTF-8, mentions; and the robot key and path), but reads HTTP/1.1 itself
// instead of through net/http and keeps counts instead of messages, so that
// the fake takes as little of the machine's CPU as it can: a request the
// same byte for byte as the connection's last accepted one is not decoded
// again. It has no rate limit and injects no failures: load programs that
// need those use Server.
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

// errBadRequest ends a connection after answering 400.
var errBadRequest = errors.New("bad request")

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
	var body []byte
	var last struct {
		target, contentType string
		body                []byte
	}
	for {
		target, contentType, length, err := readHead(r)
		if err == errBadRequest {
			s.refused.Add(1)
			_, _ = w.WriteString("HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
			_ = w.Flush()
		}
		if err != nil {
			return
		}
		if cap(body) < length {
			body = make([]byte, length)
		}
		body = body[:length]
		if _, err := io.ReadFull(r, body); err != nil {
			return
		}
		code, why := 0, ""
		if target != last.target || contentType != last.contentType || !bytes.Equal(body, last.body) {
			if code, why = s.check(target, contentType, body); code == 0 {
				last.target, last.contentType, last.body = target, contentType, append(last.body[:0], body...)
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

// check returns the errcode WeCom answers a request to target, and why, or 0.
func (s *LeanServer) check(target, contentType string, body []byte) (int, string) {
	u, err := url.ParseRequestURI(target)
	if err != nil || u.Path != Path {
		return wecom.ErrcodeInvalidKey, "invalid webhook url"
	}
	if u.Query().Get("key") != s.key {
		return wecom.ErrcodeInvalidKey, "invalid webhook url"
	}
	_, code, why := Validate(contentType, body)
	return code, why
}

// maxLeanBody is the largest body LeanServer reads, as Server does.
const maxLeanBody = 1 << 20

// readHead reads a request's line and headers: a POST's target, its
// Content-Type and Content-Length. It returns errBadRequest for anything
// else, such as a chunked body, and the reader's error at the end of the
// connection.
func readHead(r *bufio.Reader) (target, contentType string, length int, err error) {
	line, err := r.ReadSlice('\n')
	if err != nil {
		return "", "", 0, err
	}
	method, rest, _ := bytes.Cut(bytes.TrimRight(line, "\r\n"), []byte(" "))
	t, proto, _ := bytes.Cut(rest, []byte(" "))
	if string(method) != "POST" || string(proto) != "HTTP/1.1" {
		return "", "", 0, errBadRequest
	}
	target, length = string(t), -1
	for {
		line, err := r.ReadSlice('\n')
		if err != nil {
			return "", "", 0, err
		}
		line = bytes.TrimRight(line, "\r\n")
		if len(line) == 0 {
			break
		}
		name, value, ok := bytes.Cut(line, []byte(":"))
		if !ok {
			return "", "", 0, errBadRequest
		}
		value = bytes.TrimSpace(value)
		switch {
		case bytes.EqualFold(name, []byte("Content-Length")):
			if length, err = strconv.Atoi(string(value)); err != nil || length < 0 || length > maxLeanBody {
				return "", "", 0, errBadRequest
			}
		case bytes.EqualFold(name, []byte("Content-Type")):
			contentType = string(value)
		case bytes.EqualFold(name, []byte("Transfer-Encoding")), bytes.EqualFold(name, []byte("Expect")):
			return "", "", 0, errBadRequest
		}
	}
	if length < 0 {
		return "", "", 0, errBadRequest
	}
	return target, contentType, length, nil
}
