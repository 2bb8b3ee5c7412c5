//go:build !linux

package localch

import "syscall"

// childSysProcAttr: only Linux has a parent-death signal; elsewhere a child
// can outlive a parent that is killed.
func childSysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Setpgid: true}
}
