package localch

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

// ServeChild is the child side of Start: it loads libPath and runs ClickHouse
// in this process with the clickhouse-local options args (Start passes
// --path and --config-file), serving the HTTP and native ports of the
// config until SIGTERM or SIGINT, then shuts the engine down and returns nil.
// It returns the library's error if it cannot load or start.
//
// chdb has no server entry point, so we start the listeners from SQL and keep
// the command line alive with a query that reads a pipe nobody writes to.
// Closing the write end on a signal makes that query end, and chdb then runs
// its normal shutdown; left to the Go runtime, SIGTERM would end the process
// with none.
func ServeChild(libPath string, args []string) error {
	r, w, err := os.Pipe()
	if err != nil {
		return fmt.Errorf("localch: keep-alive pipe: %w", err)
	}
	defer r.Close()

	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT)
	defer signal.Stop(sigs)
	done := make(chan struct{})
	asked := make(chan bool, 1) // whether a signal ended the server
	go func() {
		select {
		case <-sigs:
			asked <- true
		case <-done:
			asked <- false
		}
		w.Close()
	}()

	argv := make([]string, 0, len(args)+3)
	argv = append(argv, "clickhouse")
	argv = append(argv, args...)
	argv = append(argv, "--multiquery", serveQuery(fmt.Sprintf("/dev/fd/%d", r.Fd())))
	err = runCmdline(libPath, argv)
	close(done)
	if err != nil {
		return err
	}
	// A failing statement (a port in use, say) ends the command line with no
	// error from the library; it only printed the message to stderr.
	if !<-asked {
		return errors.New("localch: ClickHouse stopped without being asked to; its message is above and in its error log")
	}
	return nil
}

// serveQuery starts both listeners, then blocks reading keepAlive until EOF.
// HTTP starts last: Start takes an HTTP answer to mean both ports are up.
func serveQuery(keepAlive string) string {
	return "SYSTEM START LISTEN TCP; SYSTEM START LISTEN HTTP; " +
		"SELECT count() FROM file('" + keepAlive + "', 'LineAsString') FORMAT Null"
}

// ServeChildArgs is ServeChild for a child started by Start: it reads the
// --lib, --path and --config-file arguments that Start appends to ExeArgs.
// A test binary that re-executes itself as the child calls it from TestMain.
func ServeChildArgs(args []string) error {
	fs := flag.NewFlagSet("clickhouse child", flag.ContinueOnError)
	lib := fs.String("lib", "", "path of libchdb.so")
	path := fs.String("path", "", "data directory")
	cfg := fs.String("config-file", "", "server configuration file")
	if err := fs.Parse(args); err != nil {
		return err
	}
	return ServeChild(*lib, []string{"--path=" + *path, "--config-file=" + *cfg})
}

// ServeChildIfRequested turns the current process into a ClickHouse child
// when the environment variable env is set, and exits when it ends: a test
// binary calls it first thing in TestMain, and Start re-executes that binary
// with env set, so the tests need no journeys binary.
func ServeChildIfRequested(env string) {
	if os.Getenv(env) == "" {
		return
	}
	if err := ServeChildArgs(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	os.Exit(0)
}
