//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package wecom

import (
	"crypto/tls"
	"errors"
	"net"
	"syscall"
	"time"
)

// alive reports whether an idle connection is still open and silent: the
// server has neither closed it nor written to it (an idle HTTP/1.1
// connection gets nothing unasked). It peeks at the socket without
// blocking, as net/http's background read of an idle connection would
// have noticed, so that a post never goes out on a connection the server
// already closed, and is never sent twice for that.
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
	tcp, ok := conn.(*net.TCPConn)
	if !ok {
		return true
	}
	raw, err := tcp.SyscallConn()
	if err != nil {
		return false
	}
	var peekErr error
	err = raw.Read(func(fd uintptr) bool {
		var b [1]byte
		_, _, peekErr = syscall.Recvfrom(int(fd), b[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		return true // never wait
	})
	// Only EAGAIN, nothing to read, says open and silent: a byte read
	// means the server wrote unasked, none (no error) that it closed.
	return err == nil && (errors.Is(peekErr, syscall.EAGAIN) || errors.Is(peekErr, syscall.EWOULDBLOCK))
}
