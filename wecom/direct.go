package wecom

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"syscall"
	"time"

	"golang.org/x/net/http/httpguts"
)

// direct posts to WeCom over HTTP/1.1 keep-alive connections of its own,
// reading the answer on the calling goroutine. net/http's Transport hands
// every request to two goroutines of the connection's and back; on a
// small machine those wake-ups cost more than the rest of a send (see the
// README's performance section). Client uses direct only for URLs that no
// proxy setting covers; through a proxy it uses net/http.
type direct struct {
	dialer    net.Dialer
	tlsConfig *tls.Config // nil: crypto/tls's defaults, the system's roots

	mu   sync.Mutex
	idle map[string][]*directConn // by scheme://host:port
}

// directConn is one connection to a WeCom host.
type directConn struct {
	net.Conn
	r         *bufio.Reader
	w         *bufio.Writer
	idleSince time.Time
}

const (
	// directMaxIdle bounds the idle connections kept per host.
	directMaxIdle = 64
	// directIdleTimeout is how long an idle connection is kept; well under
	// the minute or more servers keep one open, so that few are found closed.
	directIdleTimeout = 30 * time.Second
)

// answer is what direct.post read of WeCom's answer.
type answer struct {
	status int
	body   []byte
}

// post sends body to u, and returns the answer's status and its body, of
// which at most maxAnswerBytes are read. It gives up at ctx's deadline or
// when ctx is cancelled. A kept connection the server closed while it was
// idle is found so before a post (see alive), and dropped. Should one be
// closed in the moment between, the post is tried once more, on a new
// connection, only if writing it failed: a request written whole may have
// been read, and is never sent twice, as net/http does not send a POST
// twice.
func (d *direct) post(ctx context.Context, t target, body []byte, timeout time.Duration) (answer, error) {
	var deadline time.Time // zero: none
	if timeout > 0 {
		deadline = time.Now().Add(timeout)
	}
	if ctxDeadline, ok := ctx.Deadline(); ok && (deadline.IsZero() || ctxDeadline.Before(deadline)) {
		deadline = ctxDeadline
	}
	u := t.url
	for attempt := 0; ; attempt++ {
		var c *directConn
		if attempt == 0 {
			c = d.get(t.poolKey)
		}
		reused := c != nil
		if c == nil {
			var err error
			if c, err = d.dial(ctx, deadline, u.Scheme, t.hostport, u.Hostname()); err != nil {
				return answer{}, err
			}
		}
		a, keep, written, err := c.roundTrip(ctx, deadline, u, body)
		if err == nil {
			if keep {
				d.put(t.poolKey, c)
			} else {
				c.Close()
			}
			return a, nil
		}
		c.Close()
		if !reused || written || ctx.Err() != nil || !closedByPeer(err) {
			if ctxErr := ctx.Err(); ctxErr != nil {
				return answer{}, fmt.Errorf("%w (%w)", ctxErr, err)
			}
			return answer{}, err
		}
	}
}

// closedByPeer reports whether err says the other end closed the
// connection, as a server does with one idle too long; not a timeout.
func closedByPeer(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)
}

// target is a webhook URL as direct posts to it, worked out once per URL.
type target struct {
	url *url.URL
	// hostport is the address dialled: the URL's host, with the scheme's
	// port when it names none.
	hostport string
	// poolKey is scheme://host:port: the URLs whose connections are shared.
	poolKey string
}

func newTarget(u *url.URL) target {
	hostport := u.Host
	if u.Port() == "" {
		port := "80"
		if u.Scheme == "https" {
			port = "443"
		}
		hostport = net.JoinHostPort(u.Hostname(), port)
	}
	return target{url: u, hostport: hostport, poolKey: u.Scheme + "://" + hostport}
}

func (d *direct) dial(ctx context.Context, deadline time.Time, scheme, hostport, serverName string) (*directConn, error) {
	dialer := d.dialer
	dialer.Deadline = deadline
	conn, err := dialer.DialContext(ctx, "tcp", hostport)
	if err != nil {
		return nil, err
	}
	if err := conn.SetDeadline(deadline); err != nil {
		conn.Close()
		return nil, err
	}
	if scheme == "https" {
		cfg := &tls.Config{}
		if d.tlsConfig != nil {
			cfg = d.tlsConfig.Clone()
		}
		if cfg.ServerName == "" {
			cfg.ServerName = serverName
		}
		cfg.NextProtos = []string{"http/1.1"}
		tlsConn := tls.Client(conn, cfg)
		if err := tlsConn.HandshakeContext(ctx); err != nil {
			conn.Close()
			return nil, err
		}
		conn = tlsConn
	}
	return &directConn{Conn: conn, r: bufio.NewReaderSize(conn, 4096), w: bufio.NewWriterSize(conn, 8192)}, nil
}

// get returns an idle connection to poolKey, newest first, or nil. One
// idle too long, or that the server closed or wrote to while it was idle,
// is closed instead.
func (d *direct) get(poolKey string) *directConn {
	d.mu.Lock()
	defer d.mu.Unlock()
	conns := d.idle[poolKey]
	defer func() {
		if len(conns) > 0 {
			d.idle[poolKey] = conns
		} else {
			delete(d.idle, poolKey)
		}
	}()
	for len(conns) > 0 {
		c := conns[len(conns)-1]
		conns = conns[:len(conns)-1]
		if time.Since(c.idleSince) < directIdleTimeout && c.alive() {
			return c
		}
		c.Close()
	}
	return nil
}

// put keeps c for a later post, unless enough are kept.
func (d *direct) put(poolKey string, c *directConn) {
	c.idleSince = time.Now()
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.idle == nil {
		d.idle = map[string][]*directConn{}
	}
	conns := d.idle[poolKey]
	// The oldest come first: close those idle too long.
	for len(conns) > 0 && time.Since(conns[0].idleSince) >= directIdleTimeout {
		conns[0].Close()
		conns = conns[1:]
	}
	if len(conns) >= directMaxIdle {
		c.Close()
	} else {
		conns = append(conns, c)
	}
	d.idle[poolKey] = conns
}

// closeIdle closes every idle connection.
func (d *direct) closeIdle() {
	d.mu.Lock()
	defer d.mu.Unlock()
	for key, conns := range d.idle {
		for _, c := range conns {
			c.Close()
		}
		delete(d.idle, key)
	}
}

// alive reports whether an idle connection is still open and silent: the
// server has neither closed it nor written to it (an idle HTTP/1.1
// connection gets nothing unasked), as net/http's background read of an
// idle connection would have noticed, so that a post never goes out on a
// connection the server already closed, and is never sent twice for that.
func (c *directConn) alive() bool {
	if c.r.Buffered() > 0 {
		return false
	}
	conn := c.Conn
	if t, ok := conn.(*tls.Conn); ok {
		// tls.Conn reads whole records ahead, where neither c.r nor the
		// socket shows them: a read that cannot wait finds one. Its
		// timeout is not a lasting error for tls.Conn.
		_ = t.SetReadDeadline(aLongTimeAgo)
		_, err := c.r.Peek(1)
		_ = t.SetReadDeadline(time.Time{})
		var timeout net.Error
		if !errors.As(err, &timeout) || !timeout.Timeout() {
			return false
		}
		conn = t.NetConn()
	}
	return socketSilent(conn)
}

// aLongTimeAgo is a deadline in the past, which makes blocked reads and
// writes return at once.
var aLongTimeAgo = time.Unix(1, 0)

// roundTrip writes one POST and reads its answer. keep reports whether the
// connection may carry another; written whether the request was written
// whole, after which it must not be sent again.
func (c *directConn) roundTrip(ctx context.Context, deadline time.Time, u *url.URL, body []byte) (a answer, keep, written bool, err error) {
	if err := c.SetDeadline(deadline); err != nil {
		return answer{}, false, false, err
	}
	stop := context.AfterFunc(ctx, func() { _ = c.SetDeadline(aLongTimeAgo) })
	defer func() {
		if !stop() {
			// ctx ended during the round trip: its deadline in the past
			// may land on c at any moment, even once c is back in the pool.
			keep = false
		}
	}()

	c.w.WriteString("POST ")
	c.w.WriteString(u.RequestURI())
	c.w.WriteString(" HTTP/1.1\r\nHost: ")
	c.w.WriteString(u.Host)
	if u.User != nil {
		// A gateway of one's own may take basic auth in its URL, as
		// net/http (and so the proxied path) sends it.
		password, _ := u.User.Password()
		c.w.WriteString("\r\nAuthorization: Basic ")
		c.w.WriteString(base64.StdEncoding.EncodeToString([]byte(u.User.Username() + ":" + password)))
	}
	c.w.WriteString("\r\nUser-Agent: alertmanager-wecom\r\nContent-Type: application/json\r\nContent-Length: ")
	c.w.WriteString(strconv.Itoa(len(body)))
	c.w.WriteString("\r\n\r\n")
	c.w.Write(body)
	if err := c.w.Flush(); err != nil {
		return answer{}, false, false, err
	}
	// Wait for the answer to start, then take it from the buffer if it is
	// of the common shape.
	if _, err := c.r.Peek(1); err != nil {
		return answer{}, false, true, err
	}
	if a, n, ok := plainAnswer(c.r); ok {
		_, _ = c.r.Discard(n)
		return a, c.r.Buffered() == 0, true, nil
	}
	resp, err := http.ReadResponse(c.r, nil)
	// An informational answer (100 Continue, 103 Early Hints) comes before
	// the answer, which a client must take unasked (RFC 9110, 15.2).
	for err == nil && resp.StatusCode >= 100 && resp.StatusCode < 200 && resp.StatusCode != http.StatusSwitchingProtocols {
		resp, err = http.ReadResponse(c.r, nil)
	}
	if err != nil {
		return answer{}, false, true, err
	}
	defer resp.Body.Close()
	a.status = resp.StatusCode
	if a.body, err = readAnswer(resp.Body); err != nil {
		return answer{}, false, true, err
	}
	// The whole body was read: the connection is at the next answer's
	// start, unless the server is closing it or sent more than its
	// Content-Length said, which the next post would read as its answer.
	return a, !resp.Close && c.r.Buffered() == 0, true, nil
}

// plainAnswer reads the answer at the start of r's buffer without consuming
// it, when it is of the shape WeCom answers (and the load programs' fake
// does): "HTTP/1.1 200", a Content-Length, no Transfer-Encoding, no
// Connection header but keep-alive, only CRLF line ends and no other
// control bytes, head and body all arrived. n is its length in the
// buffer. ok is false for any other answer, which http.ReadResponse then
// reads in full: the common answer costs no allocation but its body's copy.
func plainAnswer(r *bufio.Reader) (a answer, n int, ok bool) {
	buf, _ := r.Peek(r.Buffered())
	end := bytes.Index(buf, []byte("\r\n\r\n"))
	if end < 0 {
		return answer{}, 0, false
	}
	// Only CRLF ends a line here, where net/http takes a bare LF too, and
	// refuses other control bytes: either is left to net/http.
	for i, c := range buf[:end] {
		if c < ' ' && c != '\t' && !(c == '\r' && buf[i+1] == '\n') && !(c == '\n' && i > 0 && buf[i-1] == '\r') || c == 0x7f {
			return answer{}, 0, false
		}
	}
	lines := buf[:end+2]
	status, lines, _ := bytes.Cut(lines, []byte("\r\n"))
	if !bytes.Equal(status, []byte("HTTP/1.1 200")) && !bytes.HasPrefix(status, []byte("HTTP/1.1 200 ")) {
		return answer{}, 0, false
	}
	length := -1
	for len(lines) > 0 {
		var line []byte
		line, lines, _ = bytes.Cut(lines, []byte("\r\n"))
		name, value, found := bytes.Cut(line, []byte(":"))
		if !found || len(name) == 0 || name[0] == ' ' || name[0] == '\t' {
			return answer{}, 0, false // obsolete line folding or worse: net/http knows
		}
		for _, c := range name {
			if c != ' ' && !httpguts.IsTokenRune(rune(c)) {
				return answer{}, 0, false // net/http refuses it
			}
		}
		switch {
		case bytes.EqualFold(name, []byte("Content-Length")):
			value = bytes.Trim(value, " \t")
			if length >= 0 || len(value) == 0 || len(value) > 6 {
				return answer{}, 0, false
			}
			length = 0
			for _, c := range value {
				if c < '0' || c > '9' {
					return answer{}, 0, false
				}
				length = length*10 + int(c-'0')
			}
		case bytes.EqualFold(name, []byte("Connection")):
			if !bytes.EqualFold(bytes.Trim(value, " \t"), []byte("keep-alive")) {
				return answer{}, 0, false // close, or a list: net/http knows
			}
		case bytes.EqualFold(name, []byte("Transfer-Encoding")):
			return answer{}, 0, false
		}
	}
	n = end + 4 + length
	if length < 0 || length > maxAnswerBytes || n > len(buf) {
		return answer{}, 0, false
	}
	return answer{status: http.StatusOK, body: bytes.Clone(buf[end+4 : n])}, n, true
}
