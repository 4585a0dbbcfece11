package mysql_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/eventogo/evento"
	driver "github.com/go-sql-driver/mysql"
)

// cut says when commitCutter drops a connection.
type cut int32

const (
	cutNever cut = iota
	// cutBeforeCommit drops the connection instead of forwarding COMMIT:
	// the server never commits.
	cutBeforeCommit
	// cutAfterCommit forwards COMMIT and drops the connection instead of
	// forwarding the server's answer: the server committed, the client
	// never learns it.
	cutAfterCommit
)

// commitCutter is a TCP proxy in front of the test server that, when
// armed, drops the client's connection around its next COMMIT: the
// "connection lost during COMMIT" that leaves a writer not knowing whether
// its commit is stored.
type commitCutter struct {
	ln     net.Listener
	target string
	mode   atomic.Int32
	wg     sync.WaitGroup
}

// newCommitCutter starts a proxy to target, stopped when the test ends.
func newCommitCutter(t *testing.T, target string) *commitCutter {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &commitCutter{ln: ln, target: target}
	p.wg.Go(p.serve)
	t.Cleanup(func() {
		ln.Close()
		p.wg.Wait()
	})
	return p
}

// arm makes the proxy cut the next COMMIT it sees, once.
func (p *commitCutter) arm(c cut) { p.mode.Store(int32(c)) }

func (p *commitCutter) serve() {
	for {
		client, err := p.ln.Accept()
		if err != nil {
			return
		}
		server, err := net.Dial("tcp", p.target)
		if err != nil {
			client.Close()
			continue
		}
		p.wg.Go(func() { p.relay(client, server) })
	}
}

// relay forwards one connection. It reads the client's side packet by
// packet (a 3-byte little-endian length, a sequence byte, the payload) to
// spot COMMIT, a COM_QUERY (0x03) whose text is "COMMIT", and copies the
// server's side as it comes: the protocol is request-response, so once
// COMMIT is forwarded the next bytes from the server are its answer.
func (p *commitCutter) relay(client, server net.Conn) {
	defer client.Close()
	defer server.Close()
	var dropAnswer atomic.Bool
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, 32<<10)
		for {
			n, err := server.Read(buf)
			if n > 0 && dropAnswer.Load() {
				client.Close()
				return
			}
			if n > 0 {
				if _, err := client.Write(buf[:n]); err != nil {
					return
				}
			}
			if err != nil {
				client.Close()
				return
			}
		}
	}()
	header := make([]byte, 4)
	for {
		if _, err := io.ReadFull(client, header); err != nil {
			break
		}
		payload := make([]byte, int(header[0])|int(header[1])<<8|int(header[2])<<16)
		if _, err := io.ReadFull(client, payload); err != nil {
			break
		}
		if bytes.Equal(payload, append([]byte{0x03}, "COMMIT"...)) {
			switch cut(p.mode.Swap(int32(cutNever))) {
			case cutBeforeCommit:
				server.Close()
				<-done
				return
			case cutAfterCommit:
				dropAnswer.Store(true)
			}
		}
		if _, err := server.Write(append(header, payload...)); err != nil {
			break
		}
	}
	server.Close()
	<-done
}

// proxied returns an executor on a fresh database, connected through a
// commitCutter, and one connected directly.
func proxied(t *testing.T) (through *commitCutter, x, direct evento.Executor) {
	dsn := freshDatabase(t)
	cfg, err := driver.ParseDSN(dsn)
	if err != nil {
		t.Fatal(err)
	}
	p := newCommitCutter(t, cfg.Addr)
	cfg.Addr = p.ln.Addr().String()
	return p, openDSN(t, cfg.FormatDSN()), openDSN(t, dsn)
}

// The connection drops after the server committed but before the writer
// heard back: Append fails, the events are stored, and appending the same
// commit again reports evento.ErrAlreadyAppended instead of storing it
// twice or calling it a version conflict.
func TestRetryAfterLostCommitAnswerIsAlreadyAppended(t *testing.T) {
	ctx := context.Background()
	p, x, direct := proxied(t)
	mustAppend(t, x, newCommit("t", "a", 0, 1))

	c := newCommit("t", "a", 1, 3)
	p.arm(cutAfterCommit)
	err := x.Append(ctx, c)
	if err == nil {
		t.Fatal("Append succeeded although the answer to COMMIT was lost")
	}
	if errors.Is(err, evento.ErrAlreadyAppended) || errors.Is(err, evento.ErrVersionConflict) {
		t.Fatalf("lost answer reported as %v", err)
	}
	t.Logf("Append with the COMMIT answer lost: %v", err)
	if n := len(readAll(t, direct, evento.Query{})); n != 4 {
		t.Fatalf("%d events stored, want 4: the server committed", n)
	}

	err = x.Append(ctx, c)
	if !errors.Is(err, evento.ErrAlreadyAppended) {
		t.Fatalf("retry: err = %v, want ErrAlreadyAppended", err)
	}
	if errors.Is(err, evento.ErrVersionConflict) {
		t.Error("the retry also matches ErrVersionConflict")
	}
	// The retry is recognised after other writers moved the aggregate on.
	mustAppend(t, direct, newCommit("t", "a", 4, 1))
	if err := x.Append(ctx, c); !errors.Is(err, evento.ErrAlreadyAppended) {
		t.Errorf("retry after a later commit: err = %v, want ErrAlreadyAppended", err)
	}
	all := readAll(t, direct, evento.Query{})
	if len(all) != 5 {
		t.Fatalf("%d events stored after the retries, want 5", len(all))
	}
	for i, e := range c.Events {
		if all[1+i].ID != e.ID {
			t.Errorf("position %d holds %s, want the commit's event %d", 2+i, all[1+i].ID, i)
		}
	}
}

// The connection drops before COMMIT reached the server: Append fails,
// nothing is stored (the server rolled back and released the counter), and
// the retry stores the commit once.
func TestRetryAfterCommitNeverSentStoresOnce(t *testing.T) {
	ctx := context.Background()
	p, x, direct := proxied(t)

	c := newCommit("t", "a", 0, 2)
	p.arm(cutBeforeCommit)
	if err := x.Append(ctx, c); err == nil {
		t.Fatal("Append succeeded although COMMIT never reached the server")
	}
	if n := len(readAll(t, direct, evento.Query{})); n != 0 {
		t.Fatalf("%d events stored, want 0: the server never committed", n)
	}
	if !c.Events[0].Position.IsZero() {
		t.Errorf("a failed Append set Position %v", c.Events[0].Position)
	}

	// Another writer is not held up by the abandoned transaction.
	mustAppend(t, direct, newCommit("t", "other", 0, 1))
	mustAppend(t, x, c)
	all := readAll(t, direct, evento.Query{})
	if len(all) != 3 || all[1].ID != c.Events[0].ID || all[2].ID != c.Events[1].ID {
		t.Fatalf("stored %v, want the other writer's event and then the commit's two", positions(all))
	}
	if c.Events[0].Position.Seq != 2 || c.Events[1].Position.Seq != 3 {
		t.Errorf("commit at positions %v, want [2 3]", positions(c.Events))
	}
}
