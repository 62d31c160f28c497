//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package wecom

import (
	"errors"
	"net"
	"syscall"
)

// socketSilent reports whether nothing waits to be read on conn's socket,
// neither data nor the server's close, peeking without blocking; true for
// a connection that is not TCP.
func socketSilent(conn net.Conn) bool {
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
