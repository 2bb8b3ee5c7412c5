//go:build cgo

package localch

/*
#cgo LDFLAGS: -ldl
#include <dlfcn.h>
#include <stdlib.h>
#include <string.h>

// libchdb.so ships no header; these two signatures are its stable C ABI.
typedef struct chdb_result chdb_result;
typedef chdb_result *(*localch_query_cmdline)(int, char **);
typedef const char *(*localch_result_error)(chdb_result *);

// localch_serve returns NULL on success or a malloc'd message the caller frees.
static char *localch_serve(const char *lib, int argc, char **argv) {
	void *h = dlopen(lib, RTLD_NOW | RTLD_LOCAL);
	if (!h) return strdup(dlerror());
	localch_query_cmdline q = (localch_query_cmdline)dlsym(h, "chdb_query_cmdline");
	localch_result_error e = (localch_result_error)dlsym(h, "chdb_result_error");
	if (!q || !e) return strdup("libchdb: chdb_query_cmdline or chdb_result_error not exported");
	chdb_result *r = q(argc, argv);
	if (!r) return strdup("libchdb: chdb_query_cmdline returned no result");
	const char *err = e(r);
	return err ? strdup(err) : NULL;
}
*/
import "C"

import (
	"errors"
	"fmt"
	"unsafe"
)

// runCmdline loads lib and runs one clickhouse-local command line in this
// process. It returns only when that command line finishes.
func runCmdline(lib string, argv []string) error {
	clib := C.CString(lib)
	defer C.free(unsafe.Pointer(clib))
	cargv := make([]*C.char, len(argv)+1) // NULL-terminated like a real argv
	for i, a := range argv {
		cargv[i] = C.CString(a)
	}
	defer func() {
		for _, p := range cargv[:len(argv)] {
			C.free(unsafe.Pointer(p))
		}
	}()
	// cargv lives in Go memory; passing it is allowed because it holds only C pointers.
	msg := C.localch_serve(clib, C.int(len(argv)), (**C.char)(unsafe.Pointer(&cargv[0])))
	if msg == nil {
		return nil
	}
	defer C.free(unsafe.Pointer(msg))
	return fmt.Errorf("localch: %w", errors.New(C.GoString(msg)))
}
