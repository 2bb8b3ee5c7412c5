//go:build !cgo

package localch

import "errors"

// runCmdline needs cgo to dlopen libchdb.so; a CGO_ENABLED=0 build still
// compiles and fails only when someone asks for a local server.
func runCmdline(string, []string) error {
	return errors.New("localch: this binary was built without cgo; rebuild with CGO_ENABLED=1 to run a local ClickHouse")
}
