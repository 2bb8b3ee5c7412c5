package ingest

import (
	"bufio"
	"errors"
	"io"
	"net"
	"os"
	"testing"
	"time"
)

// tcpPair is a loopback TCP connection: the client end wrapped as the
// partition readers' connections are, and the server end.
func tcpPair(t *testing.T) (*bufferedConn, net.Conn) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, err := l.Accept()
		if err != nil {
			close(accepted)
			return
		}
		accepted <- c
	}()
	c, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	s, ok := <-accepted
	if !ok {
		t.Fatal("accept failed")
	}
	t.Cleanup(func() { c.Close(); s.Close() })
	return &bufferedConn{Conn: c, r: bufio.NewReaderSize(c, 64)}, s
}

// TestBufferedConnDeadlines checks that deferring read deadlines to the next
// socket read keeps what kafka-go relies on: a read waiting on the socket
// ends at its deadline, including one set while it waits, and a cleared
// deadline lets reads wait again.
func TestBufferedConnDeadlines(t *testing.T) {
	c, s := tcpPair(t)
	buf := make([]byte, 16)

	// Set before the read, applied when it reaches the socket.
	if err := c.SetReadDeadline(time.Now().Add(20 * time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Read(buf); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("read past its deadline: %v, want a deadline error", err)
	}

	// Moved while a read waits: it must end that read.
	if err := c.SetReadDeadline(time.Time{}); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		_, err := c.Read(buf)
		done <- err
	}()
	time.Sleep(20 * time.Millisecond) // usually on the socket by now; either way it must end
	if err := c.SetReadDeadline(time.Now()); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatalf("waiting read: %v, want a deadline error", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("a deadline set while a read waited did not end it")
	}

	// Cleared: the next read waits for data and gets all of it, partly
	// through the buffer.
	if err := c.SetReadDeadline(time.Time{}); err != nil {
		t.Fatal(err)
	}
	want := make([]byte, 200)
	for i := range want {
		want[i] = byte(i)
	}
	go func() { _, _ = s.Write(want) }()
	got := make([]byte, len(want))
	if _, err := io.ReadFull(c, got); err != nil {
		t.Fatal(err)
	}
	if string(got) != string(want) {
		t.Fatal("bytes differ")
	}

	// Buffered bytes are returned whatever the deadline says.
	if _, err := s.Write([]byte("0123456789")); err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadFull(c, buf[:4]); err != nil {
		t.Fatal(err)
	}
	if err := c.SetReadDeadline(time.Now().Add(-time.Second)); err != nil {
		t.Fatal(err)
	}
	if n, err := c.Read(buf); err != nil || string(buf[:n]) != "456789" {
		t.Fatalf("buffered read after the deadline = %q, %v", buf[:n], err)
	}
}
