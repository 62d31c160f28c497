package wecom

import (
	"context"
	"io"
	"net"
	"strings"
	"testing"
	"time"
)

// TestEchoingPeerHidesKey: api_url pointed by mistake at a port
// whose service answers with what it read (an echo, a line-based
// protocol's "unknown command: ..."): the error must not quote the key.
func TestEchoingPeerHidesKey(t *testing.T) {
	const key = "693a91f6-7f2e-4c1b-9d3e-5a6b7c8d9e0f"
	ln := listenLoopback(t)
	acceptEach(t, ln, func(c net.Conn) { defer c.Close(); _, _ = io.Copy(c, c) })
	c := NewClient(time.Second)
	err := c.Send(context.Background(), "http://"+ln.Addr().String()+"/cgi-bin/webhook/send?key="+key, NewMessage(MsgTypeText, "x"))
	t.Logf("err: %v", err)
	if err != nil && strings.Contains(err.Error(), key[:8]) {
		t.Errorf("the error reveals the key: %v", err)
	}
}
