package main

import (
	"os"
	"strconv"

	"golang.org/x/sys/unix"
)

// pinTo pins the threads of this process to cpu; the threads the runtime
// starts later inherit the mask of the thread starting them. Twice over, for
// a thread started while the first pass ran.
func pinTo(cpu int) error {
	var set unix.CPUSet
	set.Set(cpu)
	for range 2 {
		tasks, err := os.ReadDir("/proc/self/task")
		if err != nil {
			return err
		}
		for _, t := range tasks {
			tid, err := strconv.Atoi(t.Name())
			if err != nil {
				continue
			}
			if err := unix.SchedSetaffinity(tid, &set); err != nil && err != unix.ESRCH { // ESRCH: the thread has ended
				return err
			}
		}
	}
	return nil
}
