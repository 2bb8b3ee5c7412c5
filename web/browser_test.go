package web_test

import (
	"bytes"
	"context"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/journeys-analytics/journeys/aggregate"
)

// chromium returns the headless browser, failing in CI (scripts/test.sh
// installs Debian's chromium) and skipping elsewhere when it is missing.
func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") != "" {
		t.Fatal("chromium is not installed; scripts/test.sh installs it (apt-get install chromium)")
	}
	t.Skip("chromium is not installed (apt-get install chromium); CI runs this test")
	return ""
}

// browse runs headless Chromium on url with extra arguments (--dump-dom or
// --screenshot=FILE) and returns its standard output.
func browse(t *testing.T, bin, url string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 45*time.Second)
	defer cancel()
	base := []string{
		"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--hide-scrollbars", "--user-data-dir=" + t.TempDir(), "--window-size=1400,900",
	}
	cmd := exec.CommandContext(ctx, bin, append(append(base, args...), url)...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("chromium %v: %v\n%s", args, err, stderr.String())
	}
	return stdout.String()
}

// screenshot saves a screenshot of url in the test's temporary directory and,
// when JOURNEYS_KEEP_SCREENSHOTS is set, under .data/screenshots.
func screenshot(t *testing.T, bin, url, name string) {
	t.Helper()
	file := filepath.Join(t.TempDir(), name)
	browse(t, bin, url, "--screenshot="+file)
	png, err := os.ReadFile(file)
	if err != nil {
		t.Fatalf("screenshot %s: %v", name, err)
	}
	if !bytes.HasPrefix(png, []byte("\x89PNG")) || len(png) < 10_000 {
		t.Fatalf("screenshot %s: %d bytes, not a PNG of a rendered page", name, len(png))
	}
	if os.Getenv("JOURNEYS_KEEP_SCREENSHOTS") != "" {
		dir := filepath.Join("..", ".data", "screenshots")
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), png, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("screenshot kept: %s", filepath.Join(dir, name))
	}
}

// TestBrowser renders the pages in headless Chromium against a handler on
// seeded data and checks that the numbers in the browser's DOM are the
// ClickHouse views' numbers.
func TestBrowser(t *testing.T) {
	bin := chromium(t)
	fx := seeded(t, 400)
	ok, err := fx.store.ChurnAvailable(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	seedChurn(t, fx, ok)
	srv := httptest.NewServer(newHandler(t, fx))
	defer srv.Close()

	// Each Chromium start costs seconds on a small machine: one unfiltered
	// and one filtered map and two screenshots; the handler tests cover every
	// journey, filter and at-risk list without a browser.
	dom := browse(t, bin, srv.URL+"/journeys/lifecycle", "--dump-dom")
	n, nt := checkPage(t, fx, dom, aggregate.Filter{Journey: "lifecycle"})
	t.Logf("lifecycle in Chromium: %d cells, %d touchpoint counts equal ClickHouse", n, nt)
	dom = browse(t, bin, srv.URL+"/journeys/lifecycle?persona=smb_owner&from=2026-10-03", "--dump-dom")
	f := aggregate.Filter{Journey: "lifecycle", Persona: "smb_owner", From: time.Date(2026, 10, 3, 0, 0, 0, 0, time.UTC)}
	n, nt = checkPage(t, fx, dom, f)
	t.Logf("lifecycle?persona=smb_owner&from=2026-10-03 in Chromium: %d cells, %d touchpoint counts equal ClickHouse", n, nt)

	screenshot(t, bin, srv.URL+"/journeys/lifecycle", "journey-map-lifecycle.png")
	screenshot(t, bin, srv.URL+"/journeys/lifecycle/personas/smb_owner", "at-risk-smb_owner.png")
}
