package main

import (
	"os"
	"os/exec"
	"syscall"
	"testing"
	"time"
)

// TestProcStatReadsAChild checks the CPU and peak-RSS reading that the bench
// figures rest on, against a child that spins until killed: its reading must
// grow while it runs and never go backwards.
func TestProcStatReadsAChild(t *testing.T) {
	cmd := exec.Command("sh", "-c", "while :; do :; done")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	s0, err := procStat(cmd.Process.Pid)
	if err != nil {
		t.Fatal(err)
	}
	cpu0 := s0.cpu
	if s0.peakRSS <= 0 {
		t.Fatalf("peak RSS %d, want > 0", s0.peakRSS)
	}
	// Wait until the loop has used CPU the OS accounts in ticks.
	deadline := time.Now().Add(30 * time.Second)
	for {
		s, err := procStat(cmd.Process.Pid)
		if err != nil {
			t.Fatal(err)
		}
		cpu := s.cpu
		if cpu < cpu0 {
			t.Fatalf("CPU time went backwards: %s then %s", cpu0, cpu)
		}
		if cpu > cpu0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("CPU time of a busy child stayed %s", cpu)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestProcStatOfMissingProcess(t *testing.T) {
	cmd := exec.Command("true")
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	// Reaped: its /proc entry is gone (pids are not reused this fast).
	if _, err := procStat(cmd.Process.Pid); err == nil {
		t.Fatal("procStat of a reaped process: want an error")
	}
	if _, err := procStat(os.Getpid()); err != nil {
		t.Fatal(err)
	}
}

// TestProcStatCountsFaults touches fresh memory in this process: the minor
// fault count the bench reports must see it. The memory is a new anonymous
// mapping rather than a Go allocation, which could reuse pages the heap
// already has and so fault nothing.
func TestProcStatCountsFaults(t *testing.T) {
	const size = 64 << 20
	buf, err := syscall.Mmap(-1, 0, size, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_ANON|syscall.MAP_PRIVATE)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = syscall.Munmap(buf) }()
	before, err := procStat(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < len(buf); i += 4096 {
		buf[i] = 1
	}
	after, err := procStat(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if after.minorFaults <= before.minorFaults {
		t.Fatalf("minor faults %d then %d after touching 64 MiB of fresh memory", before.minorFaults, after.minorFaults)
	}
}

func TestPercentile(t *testing.T) {
	sorted := []float64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}
	for _, tc := range []struct {
		q    float64
		want float64
	}{{0, 1}, {0.5, 5}, {0.99, 9}, {1, 10}} {
		if got := percentile(sorted, tc.q); got != tc.want {
			t.Errorf("percentile(%g) = %g, want %g", tc.q, got, tc.want)
		}
	}
	if got := percentile(nil, 0.5); got != 0 {
		t.Errorf("percentile of nothing = %g, want 0", got)
	}
}
