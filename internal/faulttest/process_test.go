//go:build linux

package faulttest

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// child is a worker process: this test binary in child mode.
type child struct {
	name    string
	cmd     *exec.Cmd
	started time.Time

	mu      sync.Mutex
	lines   []line
	changed chan struct{} // closed, and replaced, on every new line and at exit
	stderr  bytes.Buffer

	exited chan struct{} // closed once the process is reaped
	state  *os.ProcessState
}

// line is a protocol line of a worker and when the test read it.
type line struct {
	at     time.Time
	fields []string
}

func (l line) int(i int) int64 {
	if i >= len(l.fields) {
		return 0
	}
	n, _ := strconv.ParseInt(l.fields[i], 10, 64)
	return n
}

// lockedWriter serialises writes into the child's stderr buffer.
type lockedWriter struct{ c *child }

func (w lockedWriter) Write(p []byte) (int, error) {
	w.c.mu.Lock()
	defer w.c.mu.Unlock()
	return w.c.stderr.Write(p)
}

// startChild starts a worker running cfg. When the test ends it is killed
// if still running; its stderr is logged if the test failed, and a data
// race it reported fails the test.
func startChild(t *testing.T, name string, cfg childConfig) *child {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	c := &child{name: name, changed: make(chan struct{}), exited: make(chan struct{})}
	c.cmd = exec.Command(exe)
	c.cmd.Env = append(os.Environ(), cfg.env()...)
	c.cmd.Stderr = lockedWriter{c}
	// A worker must not outlive the test binary.
	c.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	stdout, err := c.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := c.cmd.Start(); err != nil {
		t.Fatalf("start worker %s: %v", name, err)
	}
	c.started = time.Now()
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			l := line{at: time.Now(), fields: strings.Fields(sc.Text())}
			c.mu.Lock()
			c.lines = append(c.lines, l)
			close(c.changed)
			c.changed = make(chan struct{})
			c.mu.Unlock()
		}
		c.cmd.Wait()
		c.mu.Lock()
		c.state = c.cmd.ProcessState
		close(c.changed)
		c.changed = make(chan struct{})
		c.mu.Unlock()
		close(c.exited)
	}()
	t.Cleanup(func() {
		c.kill()
		c.mu.Lock()
		errs := c.stderr.String()
		c.mu.Unlock()
		if strings.Contains(errs, "DATA RACE") {
			t.Errorf("worker %s (pid %d) reported a data race:\n%s", name, c.pid(), errs)
		} else if t.Failed() {
			t.Logf("worker %s (pid %d) stderr:\n%s", name, c.pid(), tail(errs, 3000))
		}
	})
	return c
}

func (c *child) pid() int { return c.cmd.Process.Pid }

// running reports an error once the process has exited.
func (c *child) running() error {
	select {
	case <-c.exited:
		return fmt.Errorf("worker %s (pid %d) exited: %v", c.name, c.pid(), c.state)
	default:
		return nil
	}
}

// waitLine waits up to timeout for the first line of kind whose index is
// at least from, and returns it and its index.
func (c *child) waitLine(kind string, from int, timeout time.Duration) (line, int, error) {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		c.mu.Lock()
		for i := from; i < len(c.lines); i++ {
			if len(c.lines[i].fields) > 0 && c.lines[i].fields[0] == kind {
				l := c.lines[i]
				c.mu.Unlock()
				return l, i, nil
			}
		}
		changed, state := c.changed, c.state
		c.mu.Unlock()
		if state != nil {
			return line{}, 0, fmt.Errorf("worker %s (pid %d) exited before %s: %v", c.name, c.pid(), kind, state)
		}
		select {
		case <-changed:
		case <-deadline.C:
			return line{}, 0, fmt.Errorf("worker %s (pid %d): no %s line within %v", c.name, c.pid(), kind, timeout)
		}
	}
}

// linesOf returns the worker's lines of kind so far.
func (c *child) linesOf(kind string) []line {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []line
	for _, l := range c.lines {
		if len(l.fields) > 0 && l.fields[0] == kind {
			out = append(out, l)
		}
	}
	return out
}

func (c *child) signal(sig syscall.Signal) error {
	if err := c.running(); err != nil {
		return err
	}
	return c.cmd.Process.Signal(sig)
}

// kill kills the worker with SIGKILL, if it still runs, and waits until
// it is reaped: its server connections are then closed (the server may
// notice later), its file locks released.
func (c *child) kill() {
	if c.running() == nil {
		c.cmd.Process.Signal(syscall.SIGKILL)
	}
	select {
	case <-c.exited:
	case <-time.After(30 * time.Second):
		panic(fmt.Sprintf("worker %s (pid %d) survives SIGKILL", c.name, c.pid()))
	}
}

// stop asks the worker to shut down with SIGTERM and waits for it to exit.
// It returns an error unless the worker shut down cleanly.
func (c *child) stop(timeout time.Duration) error {
	if err := c.signal(syscall.SIGTERM); err != nil {
		return err
	}
	select {
	case <-c.exited:
	case <-time.After(timeout):
		c.kill()
		return fmt.Errorf("worker %s (pid %d) did not stop within %v of SIGTERM", c.name, c.pid(), timeout)
	}
	if !c.state.Success() {
		return fmt.Errorf("worker %s (pid %d) exited: %v", c.name, c.pid(), c.state)
	}
	return nil
}

func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "..." + s[len(s)-n:]
}
