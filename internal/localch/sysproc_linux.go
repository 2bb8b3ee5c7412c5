package localch

import "syscall"

// childSysProcAttr ties the child's life to ours: the kernel kills it when
// the thread that started it dies, so a crashed test or a SIGKILLed parent
// never leaves a server holding ports and the data directory. Its own process
// group keeps a terminal's Ctrl-C for the parent, which then stops it cleanly.
func childSysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL, Setpgid: true}
}
