package sockbatch

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strconv"
	"sync"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// rawSocket makes the socket's sendto, sendmmsg and recvfrom calls with
// RawSyscall, outside the Go scheduler's system-call state. The socket is
// non-blocking (the runtime's poller waits for it through RawConn), so no
// call can block, and nothing is lost by not telling the scheduler; what is
// gained is that the call does not wake the runtime's sysmon thread. That
// thread sleeps whenever every P is idle and entersyscall wakes it: an SFU
// idles between packets, and in a webinar run sysmon's wake-ups took about a
// fifth of the server's CPU (docs/benchmarks.md).
type rawSocket struct {
	rc    syscall.RawConn
	inet6 bool       // AF_INET6 socket: IPv4 peers are written as v4-mapped
	zones *sync.Map  // interface index -> name, for link-local peers
	ops   *sync.Pool // of *rawOp
}

func newRawSocket(udp *net.UDPConn) (rawSocket, error) {
	rc, err := udp.SyscallConn()
	if err != nil {
		return rawSocket{}, fmt.Errorf("sockbatch: %w", err)
	}
	s := rawSocket{rc: rc, zones: new(sync.Map), ops: newOpPool()}
	var serr error
	if err := rc.Control(func(fd uintptr) {
		var sa unix.Sockaddr
		sa, serr = unix.Getsockname(int(fd))
		_, s.inet6 = sa.(*unix.SockaddrInet6)
	}); err != nil {
		return rawSocket{}, fmt.Errorf("sockbatch: %w", err)
	}
	if serr != nil {
		return rawSocket{}, fmt.Errorf("sockbatch: getsockname: %w", serr)
	}
	return s, nil
}

// sockaddr is room for either family's socket address, aligned for both
// (the larger, struct sockaddr_in6, viewed as sockaddr_in for IPv4).
type sockaddr unix.RawSockaddrInet6

// put writes addr into sa for a socket of the given family and returns its
// length, or 0 if the family cannot reach addr.
func (sa *sockaddr) put(addr netip.AddrPort, inet6 bool) uint32 {
	ip := addr.Addr()
	port := addr.Port()
	if !inet6 {
		if !ip.Is4() && !ip.Is4In6() {
			return 0
		}
		r := (*unix.RawSockaddrInet4)(unsafe.Pointer(sa))
		*r = unix.RawSockaddrInet4{Family: unix.AF_INET, Addr: ip.Unmap().As4()}
		p := (*[2]byte)(unsafe.Pointer(&r.Port))
		p[0], p[1] = byte(port>>8), byte(port)
		return unix.SizeofSockaddrInet4
	}
	r := (*unix.RawSockaddrInet6)(unsafe.Pointer(sa))
	*r = unix.RawSockaddrInet6{Family: unix.AF_INET6, Addr: ip.As16(), Scope_id: zoneIndex(ip.Zone())}
	p := (*[2]byte)(unsafe.Pointer(&r.Port))
	p[0], p[1] = byte(port>>8), byte(port)
	return unix.SizeofSockaddrInet6
}

// addrPort reads a socket address the kernel wrote; zones caches the
// names of link-local peers' interfaces (nil: look each up).
func (sa *sockaddr) addrPort(zones *sync.Map) (netip.AddrPort, bool) {
	switch (*unix.RawSockaddr)(unsafe.Pointer(sa)).Family {
	case unix.AF_INET:
		r := (*unix.RawSockaddrInet4)(unsafe.Pointer(sa))
		p := (*[2]byte)(unsafe.Pointer(&r.Port))
		return netip.AddrPortFrom(netip.AddrFrom4(r.Addr), uint16(p[0])<<8|uint16(p[1])), true
	case unix.AF_INET6:
		r := (*unix.RawSockaddrInet6)(unsafe.Pointer(sa))
		p := (*[2]byte)(unsafe.Pointer(&r.Port))
		// A dual-stack socket reports IPv4 peers v4-mapped; unmap them so
		// that the same peer has one address either way.
		ip := netip.AddrFrom16(r.Addr).Unmap()
		if r.Scope_id != 0 && ip.Is6() {
			ip = ip.WithZone(zoneName(zones, r.Scope_id))
		}
		return netip.AddrPortFrom(ip, uint16(p[0])<<8|uint16(p[1])), true
	}
	return netip.AddrPort{}, false
}

// zoneIndex and zoneName convert an IPv6 zone (a link-local peer's
// interface) between its name, as package net writes it, and the index a
// socket address carries; an unknown name is taken as a number, as net does.
func zoneIndex(zone string) uint32 {
	if zone == "" {
		return 0
	}
	if ifi, err := net.InterfaceByName(zone); err == nil {
		return uint32(ifi.Index)
	}
	n, _ := strconv.ParseUint(zone, 10, 32)
	return uint32(n)
}

func zoneName(cache *sync.Map, index uint32) string {
	if cache != nil {
		if name, ok := cache.Load(index); ok {
			return name.(string)
		}
	}
	name := strconv.FormatUint(uint64(index), 10)
	if ifi, err := net.InterfaceByIndex(int(index)); err == nil {
		name = ifi.Name
	}
	if cache != nil {
		cache.Store(index, name)
	}
	return name
}

var errUnreachableFamily = errors.New("sockbatch: address family not reachable from this socket")

// rawOp is one system call on the socket: its arguments, its results and
// the function RawConn runs, bound once when the op is made. Ops come from
// the socket's pool, so that a call allocates nothing (a closure over the
// arguments would escape through the RawConn interface: 3-5 allocations a
// datagram, where package net has none).
type rawOp struct {
	trap  uintptr
	buf   unsafe.Pointer // the datagram, or the mmsghdr array
	len   uintptr        // its length, or the number of headers
	sa    sockaddr
	salen uint32
	n     uintptr
	errno syscall.Errno
	run   func(fd uintptr) bool // op.call
}

// call makes the system call, retrying at once if a signal interrupted it
// (the poller is edge-triggered: a datagram already queued would not wake
// it again), and reports whether it is done, that is, would not block.
// Pointers become uintptrs inside the RawSyscall6 expressions, as the
// unsafe rules require.
func (op *rawOp) call(fd uintptr) bool {
	for {
		switch op.trap {
		case unix.SYS_SENDTO:
			op.n, _, op.errno = unix.RawSyscall6(unix.SYS_SENDTO, fd, uintptr(op.buf), op.len, 0,
				uintptr(unsafe.Pointer(&op.sa)), uintptr(op.salen))
		case unix.SYS_RECVFROM:
			op.n, _, op.errno = unix.RawSyscall6(unix.SYS_RECVFROM, fd, uintptr(op.buf), op.len, 0,
				uintptr(unsafe.Pointer(&op.sa)), uintptr(unsafe.Pointer(&op.salen)))
		case unix.SYS_SENDMMSG:
			op.n, _, op.errno = unix.RawSyscall6(unix.SYS_SENDMMSG, fd, uintptr(op.buf), op.len, 0, 0, 0)
		default:
			op.errno = unix.ENOSYS
		}
		if op.errno != unix.EINTR {
			return op.errno != unix.EAGAIN
		}
	}
}

func newOpPool() *sync.Pool {
	return &sync.Pool{New: func() any {
		op := new(rawOp)
		op.run = op.call
		return op
	}}
}

// op returns a cleared op for trap on buf; put it back with s.ops.Put.
func (s *rawSocket) op(trap uintptr, buf unsafe.Pointer, n int) *rawOp {
	op := s.ops.Get().(*rawOp)
	op.trap, op.buf, op.len, op.n, op.errno = trap, buf, uintptr(n), 0, 0
	return op
}

// do runs op through wait (the RawConn's Read or Write), which waits on
// the runtime's poller while the call would block.
func (op *rawOp) do(wait func(func(fd uintptr) bool) error, name string) (int, error) {
	if err := wait(op.run); err != nil {
		return 0, err
	}
	if op.errno != 0 {
		return 0, os.NewSyscallError(name, op.errno)
	}
	return int(op.n), nil
}

// sendto writes one datagram.
func (s *rawSocket) sendto(b []byte, addr netip.AddrPort) (int, error) {
	op := s.op(unix.SYS_SENDTO, unsafe.Pointer(unsafe.SliceData(b)), len(b))
	defer s.ops.Put(op)
	if op.salen = op.sa.put(addr, s.inet6); op.salen == 0 {
		return 0, errUnreachableFamily
	}
	return op.do(s.rc.Write, "sendto")
}

// mmsghdr is struct mmsghdr.
type mmsghdr struct {
	hdr unix.Msghdr
	len uint32
	_   [4]byte
}

// sysBatch is a batch's system-call view: headers, iovecs and addresses
// that point into its slots, rebuilt for each send.
type sysBatch struct {
	hdrs  []mmsghdr
	iovs  []unix.Iovec
	addrs []sockaddr
}

// sendmmsg writes q's datagrams from the first one, and returns how many
// the kernel took; an error concerns the datagram after those.
func (s *rawSocket) sendmmsg(q *batch, from int) (int, error) {
	sb := &q.sys
	if len(sb.hdrs) < q.n {
		sb.hdrs = make([]mmsghdr, maxBatch)
		sb.iovs = make([]unix.Iovec, maxBatch)
		sb.addrs = make([]sockaddr, maxBatch)
	}
	k := 0
	for i := from; i < q.n; i++ {
		salen := sb.addrs[k].put(q.addrs[i], s.inet6)
		if salen == 0 {
			if k == 0 {
				return 0, errUnreachableFamily
			}
			break // send those before it; the caller skips it next
		}
		b := q.bufs[i]
		sb.iovs[k].Base = unsafe.SliceData(b) // a slot: never nil, even when empty
		sb.iovs[k].SetLen(len(b))
		sb.hdrs[k] = mmsghdr{hdr: unix.Msghdr{
			Name:    (*byte)(unsafe.Pointer(&sb.addrs[k])),
			Namelen: salen,
			Iov:     &sb.iovs[k],
			Iovlen:  1,
		}}
		k++
	}
	op := s.op(unix.SYS_SENDMMSG, unsafe.Pointer(&sb.hdrs[0]), k)
	defer s.ops.Put(op)
	return op.do(s.rc.Write, "sendmmsg")
}

// recvfrom reads one datagram, waiting for it through the runtime's poller
// (and so honouring the read deadline).
func (s *rawSocket) recvfrom(b []byte) (int, netip.AddrPort, error) {
	op := s.op(unix.SYS_RECVFROM, unsafe.Pointer(unsafe.SliceData(b)), len(b))
	defer s.ops.Put(op)
	op.salen = unix.SizeofSockaddrInet6 // the kernel writes it only on success
	n, err := op.do(s.rc.Read, "recvfrom")
	if err != nil {
		return 0, netip.AddrPort{}, err
	}
	addr, ok := op.sa.addrPort(s.zones)
	if !ok {
		return 0, netip.AddrPort{}, errors.New("sockbatch: recvfrom: unknown address family")
	}
	return n, addr, nil
}
