package chaos

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Build compiles the journeys command into dir and returns the binary's path.
// The scenarios must test the program operators run, not a library call.
func Build(ctx context.Context, dir string) (string, error) {
	bin := filepath.Join(dir, "journeys")
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, "github.com/journeys-analytics/journeys/cmd/journeys")
	out, err := cmd.CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("chaos: go build: %w\n%s", err, out)
	}
	return bin, nil
}

// Proc is a child process whose output goes to a log file.
type Proc struct {
	Name    string
	LogPath string
	// HTTPAddr is the collector's /metrics address, if it serves one.
	HTTPAddr string
	cmd      *exec.Cmd
	exited   chan struct{}
	waitErr  error
}

// Start runs bin with args and env (added to ours) and returns at once.
func Start(name, logDir, bin string, args []string, env map[string]string) (*Proc, error) {
	logPath := filepath.Join(logDir, name+".log")
	f, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	defer f.Close() // the child has its own descriptor
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = f, f
	cmd.Env = os.Environ()
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	// A test that dies must not leave collectors running.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	fmt.Fprintf(f, "=== chaos: start %s %s\n", bin, strings.Join(args, " "))
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("chaos: start %s: %w", name, err)
	}
	p := &Proc{Name: name, LogPath: logPath, cmd: cmd, exited: make(chan struct{})}
	go func() {
		p.waitErr = cmd.Wait()
		close(p.exited)
	}()
	return p, nil
}

// PID is the process id.
func (p *Proc) PID() int { return p.cmd.Process.Pid }

// Kill sends SIGKILL, as a crash would, and waits until the process is gone.
func (p *Proc) Kill() {
	_ = p.cmd.Process.Kill()
	<-p.exited
}

// Terminate sends SIGTERM and waits up to limit for the process to exit. It
// returns how long the exit took and the exit error; a process still running
// at the limit is killed and reported.
func (p *Proc) Terminate(limit time.Duration) (time.Duration, error) {
	began := time.Now()
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.exited:
		return time.Since(began), p.waitErr
	case <-time.After(limit):
		p.Kill()
		return time.Since(began), fmt.Errorf("chaos: %s still running %s after SIGTERM; killed", p.Name, limit)
	}
}

// Exited reports whether the process has ended, and how.
func (p *Proc) Exited() (bool, error) {
	select {
	case <-p.exited:
		return true, p.waitErr
	default:
		return false, nil
	}
}

// RSS is the process's resident set size in bytes, from /proc.
func (p *Proc) RSS() (int64, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", p.PID()))
	if err != nil {
		return 0, err
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		if rest, ok := strings.CutPrefix(s.Text(), "VmRSS:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			return kb << 10, err
		}
	}
	return 0, errors.New("chaos: no VmRSS in /proc status")
}

// Tail returns the last n lines of the process's log, for failure messages.
func (p *Proc) Tail(n int) string {
	b, err := os.ReadFile(p.LogPath)
	if err != nil {
		return err.Error()
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// StartBroker runs `journeys dev-broker` and returns it with its address.
// Retention is unbounded: the replay scenario reads everything again.
func StartBroker(ctx context.Context, logDir, bin string, partitions int, topics ...string) (*Proc, []string, error) {
	p, err := Start("broker", logDir, bin, []string{"dev-broker", "--listen", "127.0.0.1:0",
		"--partitions", strconv.Itoa(partitions), "--topics", strings.Join(topics, ","), "--retention-bytes", "-1"}, nil)
	if err != nil {
		return nil, nil, err
	}
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		b, _ := os.ReadFile(p.LogPath)
		for _, l := range strings.Split(string(b), "\n") {
			if rest, ok := strings.CutPrefix(l, "dev-broker addrs="); ok {
				return p, strings.Split(strings.TrimSpace(rest), ","), nil
			}
		}
		if done, err := p.Exited(); done {
			return nil, nil, fmt.Errorf("chaos: dev-broker exited: %v\n%s", err, p.Tail(20))
		}
		time.Sleep(50 * time.Millisecond)
	}
	p.Kill()
	return nil, nil, fmt.Errorf("chaos: dev-broker printed no address\n%s", p.Tail(20))
}

// FreeAddr returns 127.0.0.1:port of a port free right now.
func FreeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}

// Metric scrapes one unlabelled (or first-labelled) sample of name from a
// Prometheus text endpoint, summing samples across labels.
func Metric(ctx context.Context, addr, name string) (float64, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/metrics", nil)
	if err != nil {
		return 0, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, err
	}
	var sum float64
	found := false
	for _, l := range strings.Split(string(body), "\n") {
		if !strings.HasPrefix(l, name) || (len(l) > len(name) && l[len(name)] != ' ' && l[len(name)] != '{') {
			continue
		}
		f := strings.Fields(l)
		v, err := strconv.ParseFloat(f[len(f)-1], 64)
		if err != nil {
			return 0, err
		}
		sum += v
		found = true
	}
	if !found {
		return 0, fmt.Errorf("chaos: metric %s not exposed", name)
	}
	return sum, nil
}
