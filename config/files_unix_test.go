//go:build unix

package config

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// TestNamedFilesMustBeRegular: a key_file (or directory CSV) that
// is a FIFO must be refused at once, not waited on: a reload that never
// returns holds the reload lock (the status page hangs) and the signal
// loop (SIGTERM is not acted on). (/dev/zero, read to the end, takes all
// memory: see the report's command.)
func TestNamedFilesMustBeRegular(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "ops.key")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { _, err := Load([]byte("robots: {ops: {key_file: ops.key}}\n"), dir); done <- err }()
	select {
	case err := <-done:
		if err == nil {
			t.Error("loaded")
		}
		t.Logf("refused: %v", err)
	case <-time.After(2 * time.Second):
		t.Error("Load still waiting on the FIFO after 2s")
		if f, _ := os.OpenFile(fifo, os.O_WRONLY, 0); f != nil {
			f.Close()
		}
		<-done
	}
}
