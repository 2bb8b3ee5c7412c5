package localch

import (
	"bytes"
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Options configures Start.
type Options struct {
	// Exe is the program to run as the child; ExeArgs is its whole argv up to
	// the flags Start appends (ExeArgs[0] is the program name), e.g.
	// {"/path/journeys", "clickhouse", "child"}. The child must end up in
	// ServeChild with the --lib, --path and --config-file values.
	Exe     string
	ExeArgs []string
	// LibPath is libchdb.so (see FindLib).
	LibPath string
	// DataDir holds config.xml, users.xml, data/ and logs/. It survives
	// Stop so a second Start on it sees the same databases.
	DataDir string
	// TCPPort and HTTPPort are the native and HTTP ports on 127.0.0.1;
	// 0 picks a free one.
	TCPPort, HTTPPort int
	// Logger receives lifecycle events; nil discards them.
	Logger *slog.Logger
	// StartTimeout bounds the wait for the server to answer; 0 means 2 minutes, because
	// loading the 566 MB library takes several seconds on a busy machine.
	StartTimeout time.Duration
}

// Server is a running child ClickHouse.
type Server struct {
	cmd      *exec.Cmd
	native   string
	http     string
	dataDir  string
	log      *slog.Logger
	exited   chan struct{} // closed once the child has been reaped
	waitErr  error         // set before exited is closed
	stopOnce sync.Once
	stopErr  error
}

// portRetries is how many times Start picks new ports when ClickHouse finds
// the free ports it was given taken by someone else in the meantime.
const portRetries = 3

// Start writes the config into o.DataDir, launches the child and returns once
// the server answers on HTTP, and thus on both ports. On failure the child is killed and the error
// carries the tail of its logs.
func Start(ctx context.Context, o Options) (*Server, error) {
	if o.Exe == "" || o.LibPath == "" || o.DataDir == "" {
		return nil, errors.New("localch: Exe, LibPath and DataDir are required")
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.StartTimeout <= 0 {
		o.StartTimeout = 2 * time.Minute
	}
	dir, err := filepath.Abs(o.DataDir)
	if err != nil {
		return nil, fmt.Errorf("localch: data dir: %w", err)
	}
	o.DataDir = dir
	if o.LibPath, err = filepath.Abs(o.LibPath); err != nil {
		return nil, fmt.Errorf("localch: lib path: %w", err)
	}
	if _, err := os.Stat(o.LibPath); err != nil {
		return nil, fmt.Errorf("localch: %w", err)
	}
	for _, d := range []string{dir, filepath.Join(dir, "data"), filepath.Join(dir, "logs")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return nil, fmt.Errorf("localch: %w", err)
		}
	}
	for attempt := 1; ; attempt++ {
		s, err := start(ctx, o)
		if err == nil || attempt == portRetries || !errors.Is(err, errPickedPortTaken) {
			return s, err
		}
		o.Logger.Warn("clickhouse: a port we picked was taken meanwhile; retrying", "err", err)
	}
}

// errPickedPortTaken marks a failure worth retrying with other ports.
var errPickedPortTaken = errors.New("a port picked as free was taken before ClickHouse could bind it")

func start(ctx context.Context, o Options) (*Server, error) {
	tcp, httpPort := o.TCPPort, o.HTTPPort
	if err := pickPorts(&tcp, &httpPort); err != nil {
		return nil, err
	}
	cfgPath, err := writeConfig(o.DataDir, tcp, httpPort)
	if err != nil {
		return nil, err
	}
	childLog, err := os.OpenFile(filepath.Join(o.DataDir, "logs", "child.log"), os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
	if err != nil {
		return nil, fmt.Errorf("localch: %w", err)
	}
	defer childLog.Close() // the child has its own copy of the descriptor

	args := append([]string(nil), o.ExeArgs...)
	if len(args) == 0 {
		args = []string{o.Exe}
	}
	args = append(args,
		"--lib="+o.LibPath,
		"--path="+filepath.Join(o.DataDir, "data")+"/",
		"--config-file="+cfgPath,
	)
	cmd := &exec.Cmd{
		Path:        o.Exe,
		Args:        args,
		Dir:         o.DataDir,
		Stdout:      childLog,
		Stderr:      childLog,
		SysProcAttr: childSysProcAttr(),
	}
	began := time.Now()
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("localch: start child: %w", err)
	}
	s := &Server{
		cmd:     cmd,
		native:  net.JoinHostPort("127.0.0.1", strconv.Itoa(tcp)),
		http:    net.JoinHostPort("127.0.0.1", strconv.Itoa(httpPort)),
		dataDir: o.DataDir,
		log:     o.Logger,
		exited:  make(chan struct{}),
	}
	go func() {
		s.waitErr = cmd.Wait()
		close(s.exited)
	}()
	o.Logger.Debug("clickhouse: child started", "pid", cmd.Process.Pid, "data", o.DataDir)

	if err := s.waitReady(ctx, o.StartTimeout); err != nil {
		s.Kill()
		tail := s.logTail()
		taken := func(port int) bool {
			return strings.Contains(tail, "Address already in use: 127.0.0.1:"+strconv.Itoa(port))
		}
		if (o.TCPPort == 0 && taken(tcp)) || (o.HTTPPort == 0 && taken(httpPort)) {
			err = fmt.Errorf("%w (%w)", err, errPickedPortTaken)
		}
		return nil, fmt.Errorf("%w\n%s", err, tail)
	}
	o.Logger.Info("clickhouse: ready", "native", s.native, "http", s.http, "pid", cmd.Process.Pid,
		"startup", time.Since(began).Round(time.Millisecond))
	return s, nil
}

// waitReady polls HTTP until the server answers as ours. The process being
// alive says nothing: loading the library takes seconds and the listeners
// start after that. A plain /ping is not enough either, because with a port
// given explicitly another server may already own it, so we ask for the data
// path. ServeChild starts HTTP after TCP, so an answer means both are up.
func (s *Server) waitReady(ctx context.Context, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	client := &http.Client{Timeout: 2 * time.Second}
	defer client.CloseIdleConnections()
	want := filepath.Join(s.dataDir, "data") + "/"
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		got, err := s.dataPath(ctx, client)
		if err == nil && got == want {
			return nil
		}
		if err == nil {
			return fmt.Errorf("localch: http://%s belongs to another ClickHouse (data path %s, ours %s)", s.http, got, want)
		}
		select {
		case <-s.exited:
			return fmt.Errorf("localch: child exited before answering on http://%s: %v", s.http, s.waitErr)
		case <-ctx.Done():
			return fmt.Errorf("localch: no answer on http://%s: %w (last: %v)", s.http, context.Cause(ctx), err)
		case <-tick.C:
		}
	}
}

// dataPath is where the server on s.http keeps its data.
func (s *Server) dataPath(ctx context.Context, client *http.Client) (string, error) {
	q := url.Values{"query": {"SELECT path FROM system.disks WHERE name = 'default'"}}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+s.http+"/?"+q.Encode(), nil)
	if err != nil {
		return "", err
	}
	resp, err := client.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if err != nil {
		return "", err
	}
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("HTTP %s: %s", resp.Status, bytes.TrimSpace(body))
	}
	return string(bytes.TrimSpace(body)), nil
}

// NativeAddr is the host:port of the native protocol (clickhouse-go's default).
func (s *Server) NativeAddr() string { return s.native }

// HTTPAddr is the host:port of the HTTP interface.
func (s *Server) HTTPAddr() string { return s.http }

// PID is the child's process id.
func (s *Server) PID() int { return s.cmd.Process.Pid }

// DataDir is the absolute data directory the server runs on.
func (s *Server) DataDir() string { return s.dataDir }

// Stop asks ClickHouse to shut down (SIGTERM) and waits; when ctx ends first
// it kills the child and says so. Stop is idempotent; after Kill it returns nil.
func (s *Server) Stop(ctx context.Context) error {
	s.stopOnce.Do(func() {
		select {
		case <-s.exited:
			s.stopErr = s.exitErr()
			return
		default:
		}
		began := time.Now()
		_ = s.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-s.exited:
			s.stopErr = s.exitErr()
			s.log.Info("clickhouse: stopped", "pid", s.PID(), "took", time.Since(began).Round(time.Millisecond))
		case <-ctx.Done():
			_ = s.cmd.Process.Kill()
			<-s.exited
			s.stopErr = fmt.Errorf("localch: pid %d ignored SIGTERM until %v; killed", s.PID(), context.Cause(ctx))
		}
	})
	return s.stopErr
}

// exitErr reports an exit that was not the clean one Stop asks for.
func (s *Server) exitErr() error {
	if s.waitErr == nil || s.killed() {
		return nil
	}
	return fmt.Errorf("localch: child exited: %w\n%s", s.waitErr, s.logTail())
}

func (s *Server) killed() bool {
	var ee *exec.ExitError
	if !errors.As(s.waitErr, &ee) {
		return false
	}
	ws, ok := ee.Sys().(syscall.WaitStatus)
	return ok && ws.Signaled() && ws.Signal() == syscall.SIGKILL
}

// Kill ends the child with SIGKILL, with no shutdown at all, as a crash
// would, and returns once it is gone so the same DataDir can be reused.
func (s *Server) Kill() {
	_ = s.cmd.Process.Kill()
	<-s.exited
}

// Wait blocks until the child exits and returns how it exited.
func (s *Server) Wait() error {
	<-s.exited
	return s.waitErr
}

// Done is closed when the child has exited.
func (s *Server) Done() <-chan struct{} { return s.exited }

// logTail is what a person needs to see why the child failed: the end of the
// child's own output (library load errors) and of ClickHouse's error log.
func (s *Server) logTail() string {
	var b strings.Builder
	for _, name := range []string{"child.log", "clickhouse.err.log"} {
		p := filepath.Join(s.dataDir, "logs", name)
		t := tailFile(p, 20)
		if t == "" {
			continue
		}
		fmt.Fprintf(&b, "--- tail of %s ---\n%s\n", p, t)
	}
	return strings.TrimRight(b.String(), "\n")
}

// tailFile returns the last lines of path, without the numbered stack
// frames ClickHouse writes after each exception, which bury the message.
func tailFile(path string, lines int) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	const maxBytes = 64 << 10
	st, err := f.Stat()
	if err != nil {
		return ""
	}
	off := max(0, st.Size()-maxBytes)
	buf := make([]byte, st.Size()-off)
	if _, err := f.ReadAt(buf, off); err != nil && !errors.Is(err, io.EOF) {
		return ""
	}
	var kept []string
	for _, l := range strings.Split(strings.TrimRight(string(buf), "\n"), "\n") {
		if !isStackFrame(l) {
			kept = append(kept, l)
		}
	}
	return strings.Join(kept[max(0, len(kept)-lines):], "\n")
}

// isStackFrame matches lines like "12. ? @ 0x00000000182d06d7".
func isStackFrame(l string) bool {
	l = strings.TrimSpace(l)
	i := strings.IndexByte(l, '.')
	if i <= 0 {
		return false
	}
	_, err := strconv.Atoi(l[:i])
	return err == nil && strings.Contains(l, " @ 0x")
}

// pickPorts replaces each 0 with a port the kernel hands out on loopback.
// Another process can take one before the child binds it; Start retries
// when that happens.
func pickPorts(ports ...*int) error {
	for _, p := range ports {
		if *p != 0 {
			continue
		}
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return fmt.Errorf("localch: pick port: %w", err)
		}
		// Held until every port is picked, so no two picks are the same.
		defer l.Close()
		*p = l.Addr().(*net.TCPAddr).Port
	}
	return nil
}

// FindLib returns libchdb.so from $JOURNEYS_LIBCHDB or cacheDir/chdb/, where
// scripts/fetch-clickhouse.sh puts it.
func FindLib(cacheDir string) (string, error) {
	if p := os.Getenv("JOURNEYS_LIBCHDB"); p != "" {
		if _, err := os.Stat(p); err != nil {
			return "", fmt.Errorf("localch: JOURNEYS_LIBCHDB=%s: %w", p, err)
		}
		return p, nil
	}
	p := filepath.Join(cacheDir, "chdb", "libchdb.so")
	if _, err := os.Stat(p); err != nil {
		return "", fmt.Errorf("localch: libchdb.so not found at %s (and JOURNEYS_LIBCHDB is unset); run `make setup` or scripts/fetch-clickhouse.sh: %w", p, err)
	}
	return p, nil
}

// The configs are generated with encoding/xml so paths are always escaped.

type serverConfig struct {
	XMLName     xml.Name     `xml:"clickhouse"`
	ListenHost  string       `xml:"listen_host"`
	HTTPPort    int          `xml:"http_port"`
	TCPPort     int          `xml:"tcp_port"`
	Logger      loggerConfig `xml:"logger"`
	UsersConfig string       `xml:"users_config"`
}

type loggerConfig struct {
	Level    string `xml:"level"`
	Log      string `xml:"log"`
	ErrorLog string `xml:"errorlog"`
	Console  int    `xml:"console"`
	Size     string `xml:"size"`
	Count    int    `xml:"count"`
}

// usersConfig is the users.xml Start writes when none exists: the default
// user, passwordless, reachable only from loopback. Add restricted users
// to the file; Start never overwrites it.
const usersConfig = `<clickhouse>
  <profiles>
    <default/>
    <readonly><readonly>1</readonly></readonly>
  </profiles>
  <users>
    <default>
      <password></password>
      <networks><ip>127.0.0.1</ip><ip>::1</ip></networks>
      <profile>default</profile>
      <quota>default</quota>
    </default>
  </users>
  <quotas><default/></quotas>
</clickhouse>
`

func writeConfig(dir string, tcp, httpPort int) (string, error) {
	users := filepath.Join(dir, "users.xml")
	if _, err := os.Stat(users); errors.Is(err, os.ErrNotExist) {
		if err := os.WriteFile(users, []byte(usersConfig), 0o644); err != nil {
			return "", fmt.Errorf("localch: %w", err)
		}
	}
	cfg := serverConfig{
		ListenHost: "127.0.0.1",
		HTTPPort:   httpPort,
		TCPPort:    tcp,
		Logger: loggerConfig{
			Level:    "warning",
			Log:      filepath.Join(dir, "logs", "clickhouse.log"),
			ErrorLog: filepath.Join(dir, "logs", "clickhouse.err.log"),
			Size:     "100M",
			Count:    3,
		},
		UsersConfig: users,
	}
	out, err := xml.MarshalIndent(cfg, "", "  ")
	if err != nil {
		return "", fmt.Errorf("localch: config: %w", err)
	}
	p := filepath.Join(dir, "config.xml")
	if err := os.WriteFile(p, append(out, '\n'), 0o644); err != nil {
		return "", fmt.Errorf("localch: %w", err)
	}
	return p, nil
}
