package main

import (
	"fmt"
	"log/slog"
	"net"
	"net/http"

	"github.com/prometheus/exporter-toolkit/web"
)

// checkWebConfig fails start-up on a web config file that cannot be used,
// instead of leaving a collector running with no reachable /metrics.
func checkWebConfig(file string) error {
	if file == "" {
		return nil
	}
	if err := web.Validate(file); err != nil {
		return fmt.Errorf("http.web_config_file %s: %w", file, err)
	}
	return nil
}

// serveHTTP serves srv on ln: plain HTTP when webConfigFile is "", else with
// the TLS, basic auth and response headers of that Prometheus
// exporter-toolkit web config file (re-read on every new connection, so
// rotated certificates and changed passwords apply without a restart). Use it
// for every HTTP server of journeys, so one file secures them all.
func serveHTTP(ln net.Listener, srv *http.Server, webConfigFile string, log *slog.Logger) error {
	if webConfigFile == "" {
		return srv.Serve(ln)
	}
	return web.Serve(ln, srv, &web.FlagConfig{WebConfigFile: &webConfigFile}, log)
}
