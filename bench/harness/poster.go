package harness

import (
	"bufio"
	"bytes"
	"fmt"
	"net"
	"strconv"
	"time"
)

// Poster POSTs one body again and again over one keep-alive HTTP/1.1
// connection, as wrk does: the request is built once and the answer's status
// line and Content-Length are all it reads, so that the load generator
// costs a few microseconds a request and leaves the CPU to the receiver.
type Poster struct {
	conn    net.Conn
	r       *bufio.Reader
	request []byte
}

// NewPoster connects to addr (host:port) for POSTs of body to path.
func NewPoster(addr, path string, body []byte) (*Poster, error) {
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		return nil, err
	}
	var req bytes.Buffer
	fmt.Fprintf(&req, "POST %s HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n", path, addr, len(body))
	req.Write(body)
	return &Poster{conn: conn, r: bufio.NewReaderSize(conn, 4096), request: req.Bytes()}, nil
}

// Post sends the request and reads the whole answer, returning its status.
func (p *Poster) Post(timeout time.Duration) (int, error) {
	if err := p.conn.SetDeadline(time.Now().Add(timeout)); err != nil {
		return 0, err
	}
	if _, err := p.conn.Write(p.request); err != nil {
		return 0, err
	}
	line, err := p.r.ReadSlice('\n')
	if err != nil {
		return 0, err
	}
	// "HTTP/1.1 200 OK\r\n"
	if len(line) < 12 || !bytes.HasPrefix(line, []byte("HTTP/1.")) {
		return 0, fmt.Errorf("bad status line %q", line)
	}
	status, err := strconv.Atoi(string(line[9:12]))
	if err != nil {
		return 0, fmt.Errorf("bad status line %q", line)
	}
	length := 0
	for {
		line, err := p.r.ReadSlice('\n')
		if err != nil {
			return 0, err
		}
		if len(line) <= 2 { // the blank line ending the headers
			break
		}
		name, value, _ := bytes.Cut(line, []byte(":"))
		switch {
		case bytes.EqualFold(name, []byte("Content-Length")):
			if length, err = strconv.Atoi(string(bytes.TrimSpace(value))); err != nil {
				return 0, fmt.Errorf("bad Content-Length %q", value)
			}
		case bytes.EqualFold(name, []byte("Transfer-Encoding")):
			return 0, fmt.Errorf("chunked answers are not read by Poster")
		}
	}
	if _, err := p.r.Discard(length); err != nil {
		return 0, err
	}
	return status, nil
}

// Close closes the connection.
func (p *Poster) Close() error { return p.conn.Close() }
