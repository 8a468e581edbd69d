//go:build !linux

package sockbatch

import (
	"net"
	"net/netip"
)

// rawSocket makes the socket's calls through package net where Linux's
// sendmmsg is not available: a batch leaves one datagram at a time.
type rawSocket struct{ udp *net.UDPConn }

type sysBatch struct{}

func newRawSocket(udp *net.UDPConn) (rawSocket, error) { return rawSocket{udp}, nil }

func (s *rawSocket) sendto(b []byte, addr netip.AddrPort) (int, error) {
	return s.udp.WriteToUDPAddrPort(b, addr)
}

func (s *rawSocket) sendmmsg(q *batch, from int) (int, error) {
	if _, err := s.sendto(q.bufs[from], q.addrs[from]); err != nil {
		return 0, err
	}
	return 1, nil
}

func (s *rawSocket) recvfrom(b []byte) (int, netip.AddrPort, error) {
	return s.udp.ReadFromUDPAddrPort(b)
}
