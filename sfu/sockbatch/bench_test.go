package sockbatch

import (
	"fmt"
	"runtime"
	"syscall"
	"testing"
)

// threadCPU is the calling thread's CPU time: on loopback the kernel's
// delivery to the receiver runs in the sender's system call, so this is
// what a send costs the SFU.
func threadCPU() int64 {
	var ru syscall.Rusage
	_ = syscall.Getrusage(1 /* RUSAGE_THREAD */, &ru)
	return ru.Utime.Nano() + ru.Stime.Nano()
}

// BenchmarkWrite sends 1200-byte datagrams to 8 loopback receivers one by
// one (fanout 1: sendto) or gathered under a hold (sendmmsg), and reports
// the sending thread's CPU per datagram.
func BenchmarkWrite(b *testing.B) {
	for _, fanout := range []int{1, 3, 8, 20} {
		b.Run(fmt.Sprintf("fanout=%d", fanout), func(b *testing.B) {
			c := newConn(b, "udp4", "127.0.0.1:0")
			sinks := make([]*sink, 8)
			for i := range sinks {
				sinks[i] = newSink(b)
				go func() { // drain, so that receive buffers never fill
					for range sinks[i].got {
					}
				}()
			}
			p := packet(0, 0)
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			t0 := threadCPU()
			b.ResetTimer()
			for i := 0; i < b.N; i += fanout {
				if fanout > 1 {
					c.Hold()
				}
				for k := 0; k < fanout; k++ {
					c.WriteToAddrPort(p, sinks[(i+k)%len(sinks)].addr)
				}
				if fanout > 1 {
					c.Release()
				}
			}
			b.StopTimer()
			b.ReportMetric(float64(threadCPU()-t0)/float64(b.N), "cpu-ns/datagram")
		})
	}
}
