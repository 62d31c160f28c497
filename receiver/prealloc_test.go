package receiver

import (
	"fmt"
	"net"
	"runtime"
	"testing"
	"time"
)

// TestDeclaredLengthIsNotAllocated: a client that only declares a
// large Content-Length, and sends one byte, must not make the receiver
// allocate the declared size (20 such connections held 640 MiB).
func TestDeclaredLengthIsNotAllocated(t *testing.T) {
	tr := newTestReceiver(t, Options{})
	var before runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	addr := tr.server.Listener.Addr().String()
	for range 20 {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		fmt.Fprintf(c, "POST /robots/phone/send HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n{", DefaultMaxRequestBytes)
	}
	time.Sleep(500 * time.Millisecond)
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	grown := int64(after.HeapAlloc) - int64(before.HeapAlloc)
	t.Logf("heap grew %d MiB for 20 connections that sent 1 byte of body each", grown>>20)
	if grown > 64<<20 {
		t.Errorf("heap grew %d MiB: the declared Content-Length is allocated before any body arrives", grown>>20)
	}
}
