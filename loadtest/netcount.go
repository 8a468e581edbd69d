package loadtest

import (
	"net"
	"sync/atomic"

	"github.com/pion/transport/v5"
	"github.com/pion/transport/v5/stdnet"
)

// countingNet is the network the bots' ICE agents use: the operating
// system's, with every UDP datagram read counted, so that the load test
// knows how many bits the server sent to the bots (SRTP and SRTCP with their
// overhead, plus STUN and DTLS) without touching the bot library.
// botSocketBuffer is the receive buffer asked for each bot socket.
const botSocketBuffer = 4 << 20

type countingNet struct {
	transport.Net
	bytes   atomic.Uint64
	packets atomic.Uint64
}

func newCountingNet() (*countingNet, error) {
	n, err := stdnet.NewNet()
	if err != nil {
		return nil, err
	}
	return &countingNet{Net: n}, nil
}

func (c *countingNet) add(n int) {
	if n > 0 {
		c.bytes.Add(uint64(n))
		c.packets.Add(1)
	}
}

// ListenUDP implements transport.Net.
func (c *countingNet) ListenUDP(network string, laddr *net.UDPAddr) (transport.UDPConn, error) {
	conn, err := c.Net.ListenUDP(network, laddr)
	if err != nil {
		return nil, err
	}
	// Many bots share the load generator's CPU: a larger receive buffer
	// keeps a moment of starvation in the generator from showing up as
	// loss attributed to the server (the kernel caps it at rmem_max).
	_ = conn.SetReadBuffer(botSocketBuffer)
	return &countingUDPConn{UDPConn: conn, n: c}, nil
}

// ListenPacket implements transport.Net.
func (c *countingNet) ListenPacket(network, address string) (net.PacketConn, error) {
	conn, err := c.Net.ListenPacket(network, address)
	if err != nil {
		return nil, err
	}
	return &countingPacketConn{PacketConn: conn, n: c}, nil
}

type countingUDPConn struct {
	transport.UDPConn
	n *countingNet
}

func (u *countingUDPConn) Read(b []byte) (int, error) {
	n, err := u.UDPConn.Read(b)
	u.n.add(n)
	return n, err
}

func (u *countingUDPConn) ReadFrom(b []byte) (int, net.Addr, error) {
	n, a, err := u.UDPConn.ReadFrom(b)
	u.n.add(n)
	return n, a, err
}

func (u *countingUDPConn) ReadFromUDP(b []byte) (int, *net.UDPAddr, error) {
	n, a, err := u.UDPConn.ReadFromUDP(b)
	u.n.add(n)
	return n, a, err
}

func (u *countingUDPConn) ReadMsgUDP(b, oob []byte) (int, int, int, *net.UDPAddr, error) {
	n, oobn, flags, a, err := u.UDPConn.ReadMsgUDP(b, oob)
	u.n.add(n)
	return n, oobn, flags, a, err
}

type countingPacketConn struct {
	net.PacketConn
	n *countingNet
}

func (p *countingPacketConn) ReadFrom(b []byte) (int, net.Addr, error) {
	n, a, err := p.PacketConn.ReadFrom(b)
	p.n.add(n)
	return n, a, err
}
