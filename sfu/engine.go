package sfu

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"sync"
	"time"

	"github.com/pion/ice/v4"
	"github.com/pion/interceptor"
	"github.com/pion/interceptor/pkg/nack"
	"github.com/pion/interceptor/pkg/report"
	"github.com/pion/sdp/v3"
	"github.com/pion/webrtc/v4"

	"conclave/sfu/sockbatch"
	"conclave/sfu/turn"
)

// Codec parameters the SFU negotiates. Only these are forwarded.
var (
	opusCodec = webrtc.RTPCodecParameters{
		RTPCodecCapability: webrtc.RTPCodecCapability{
			MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2,
			SDPFmtpLine:  "minptime=10;useinbandfec=1",
			RTCPFeedback: []webrtc.RTCPFeedback{{Type: webrtc.TypeRTCPFBTransportCC}},
		},
		PayloadType: 111,
	}
	vp8Codec = webrtc.RTPCodecParameters{
		RTPCodecCapability: webrtc.RTPCodecCapability{
			MimeType: webrtc.MimeTypeVP8, ClockRate: 90000,
			RTCPFeedback: []webrtc.RTCPFeedback{
				{Type: "nack"}, {Type: "nack", Parameter: "pli"}, {Type: "ccm", Parameter: "fir"},
				{Type: webrtc.TypeRTCPFBTransportCC},
			},
		},
		PayloadType: 96,
	}
	vp8RTXCodec = webrtc.RTPCodecParameters{
		RTPCodecCapability: webrtc.RTPCodecCapability{
			MimeType: webrtc.MimeTypeRTX, ClockRate: 90000, SDPFmtpLine: "apt=96",
		},
		PayloadType: 97,
	}
)

// ErrClosed is returned by an Engine that has been closed.
var ErrClosed = errors.New("sfu: engine closed")

// Engine owns the media ports, the TURN server and the pion configuration
// shared by every PeerConnection.
type Engine struct {
	cfg     Config
	log     *slog.Logger
	udp     net.PacketConn
	batch   *sockbatch.Conn // udp, when it is a UDP socket (always, outside tests)
	tcp     net.Listener
	udpMux  ice.UDPMux
	tcpMux  ice.TCPMux
	turn    *turn.Server
	setting webrtc.SettingEngine
	ownIPs  []net.IP

	mu     sync.Mutex
	closed bool

	stats Stats
}

// NewEngine binds the media ports and starts TURN if enabled.
func NewEngine(cfg Config, log *slog.Logger) (*Engine, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	e := &Engine{cfg: cfg, log: log.With("component", "sfu")}
	ok := false
	defer func() {
		if !ok {
			e.closePorts()
		}
	}()

	udp, err := net.ListenPacket("udp", net.JoinHostPort(cfg.ListenIP, strconv.Itoa(cfg.UDPPort)))
	if err != nil {
		return nil, fmt.Errorf("sfu: listen on UDP port %d: %w", cfg.UDPPort, err)
	}
	e.udp = udp
	if uc, ok := udp.(*net.UDPConn); ok {
		// Every publisher's packets arrive on this one socket: with the
		// kernel's default buffer (about 200 KB) a moment of CPU
		// starvation overflows it and every subscriber sees the loss.
		// The kernel caps the size at net.core.rmem_max / wmem_max.
		_ = uc.SetReadBuffer(udpSocketBuffer)
		_ = uc.SetWriteBuffer(udpSocketBuffer)
		// Forwarding loops hold it around each fan-out (Batcher), so a
		// packet's copies leave in one sendmmsg.
		if e.batch, err = sockbatch.New(uc); err != nil {
			uc.Close()
			return nil, fmt.Errorf("sfu: %w", err)
		}
		udp = e.batch
		e.udp = udp
	}
	logs := pionLogs{log: e.log}
	e.udpMux = ice.NewUDPMuxDefault(ice.UDPMuxParams{UDPConn: udp, Logger: logs.NewLogger("udpmux")})
	if cfg.TCPPort >= 0 {
		tcp, err := net.Listen("tcp", net.JoinHostPort(cfg.ListenIP, strconv.Itoa(cfg.TCPPort)))
		if err != nil {
			return nil, fmt.Errorf("sfu: listen on TCP port %d: %w", cfg.TCPPort, err)
		}
		e.tcp = tcp
		e.tcpMux = webrtc.NewICETCPMux(logs.NewLogger("tcpmux"), tcp, 64)
	}
	e.ownIPs = ownAddresses(cfg.NAT1To1IPs)

	se := webrtc.SettingEngine{LoggerFactory: logs}
	se.SetICEUDPMux(e.udpMux)
	networks := []webrtc.NetworkType{webrtc.NetworkTypeUDP4, webrtc.NetworkTypeUDP6}
	if e.tcpMux != nil {
		se.SetICETCPMux(e.tcpMux)
		networks = append(networks, webrtc.NetworkTypeTCP4, webrtc.NetworkTypeTCP6)
	}
	se.SetNetworkTypes(networks)
	se.SetIncludeLoopbackCandidate(cfg.IncludeLoopback)
	if len(cfg.NAT1To1IPs) > 0 {
		//nolint:staticcheck // SetNAT1To1IPs is the documented knob in this pion version.
		se.SetNAT1To1IPs(cfg.NAT1To1IPs, webrtc.ICECandidateTypeHost)
	}
	// Never resolve or publish mDNS names: the SFU has a fixed address.
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	e.setting = se

	if cfg.TURN.Enabled {
		relay := net.IPv4(127, 0, 0, 1)
		if cfg.TURN.RelayIP != "" {
			relay = net.ParseIP(cfg.TURN.RelayIP)
		} else if len(cfg.NAT1To1IPs) > 0 {
			relay = net.ParseIP(cfg.NAT1To1IPs[0])
		}
		t, err := turn.Start(turn.Config{
			Port: cfg.TURN.Port, ListenIP: cfg.ListenIP, Realm: cfg.TURN.Realm,
			RelayIP: relay, AllowPeer: e.isOwnIP, Secret: cfg.TURN.Secret,
		}, e.log)
		if err != nil {
			return nil, fmt.Errorf("sfu: %w", err)
		}
		e.turn = t
	}
	ok = true
	e.log.Info("sfu: media ports open", "udp", e.UDPPort(), "tcp", e.TCPPort(), "turn", e.TURNPort())
	return e, nil
}

// ownAddresses lists the addresses of this host's interfaces plus the
// configured public ones: the only peers the TURN relay may reach.
func ownAddresses(extra []string) []net.IP {
	var ips []net.IP
	if addrs, err := net.InterfaceAddrs(); err == nil {
		for _, a := range addrs {
			if n, ok := a.(*net.IPNet); ok {
				ips = append(ips, n.IP)
			}
		}
	}
	for _, s := range extra {
		if ip := net.ParseIP(s); ip != nil {
			ips = append(ips, ip)
		}
	}
	return ips
}

func (e *Engine) isOwnIP(ip net.IP) bool {
	for _, o := range e.ownIPs {
		if o.Equal(ip) {
			return true
		}
	}
	return false
}

// UDPPort is the ICE UDP port actually bound.
func (e *Engine) UDPPort() int {
	if e.udp == nil {
		return 0
	}
	return e.udp.LocalAddr().(*net.UDPAddr).Port
}

// TCPPort is the ICE-TCP port actually bound, or 0 if ICE-TCP is off.
func (e *Engine) TCPPort() int {
	if e.tcp == nil {
		return 0
	}
	return e.tcp.Addr().(*net.TCPAddr).Port
}

// TURNPort is the TURN server's port, or 0 if TURN is off.
func (e *Engine) TURNPort() int {
	if e.turn == nil {
		return 0
	}
	return e.turn.Port()
}

// ICEServer is one entry of the ICE server list handed to a client.
type ICEServer struct {
	URLs       []string
	Username   string
	Credential string
}

// ICEServers returns the TURN servers (with credentials for label, valid
// for the configured lifetime) that a participant should use, or nil when
// TURN is off.
func (e *Engine) ICEServers(label string, now time.Time) []ICEServer {
	if e.turn == nil {
		return nil
	}
	host := e.cfg.TURN.Host
	if host == "" {
		switch {
		case len(e.cfg.NAT1To1IPs) > 0:
			host = e.cfg.NAT1To1IPs[0]
		case e.cfg.TURN.RelayIP != "":
			host = e.cfg.TURN.RelayIP
		default:
			host = "127.0.0.1"
		}
	}
	hp := net.JoinHostPort(host, strconv.Itoa(e.turn.Port()))
	user, pass := e.turn.Credentials(label, now, e.cfg.TURN.CredentialTTL)
	return []ICEServer{{
		URLs:     []string{"turn:" + hp + "?transport=udp", "turn:" + hp + "?transport=tcp"},
		Username: user, Credential: pass,
	}}
}

// Close stops TURN and closes the media ports. PeerConnections must be closed
// by their owners first.
func (e *Engine) Close() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return nil
	}
	e.closed = true
	return e.closePorts()
}

func (e *Engine) closePorts() error {
	var errs []error
	if e.turn != nil {
		errs = append(errs, e.turn.Close())
	}
	if e.udpMux != nil {
		errs = append(errs, e.udpMux.Close())
	} else if e.udp != nil {
		errs = append(errs, e.udp.Close())
	}
	if e.tcpMux != nil {
		errs = append(errs, e.tcpMux.Close())
	} else if e.tcp != nil {
		errs = append(errs, e.tcp.Close())
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("sfu: close: %w", err)
	}
	return nil
}

// Batcher gathers the UDP writes between Hold and Release into one system
// call (package sockbatch). Nil when the engine has no UDP socket of its
// own.
func (e *Engine) Batcher() Batcher {
	if e.batch == nil {
		return nil
	}
	return e.batch
}

// UDPSends returns the system calls that sent datagrams on the UDP socket
// and the datagrams they sent: more datagrams than calls is the batching
// at work.
func (e *Engine) UDPSends() (calls, datagrams uint64) {
	if e.batch == nil {
		return 0, 0
	}
	st := e.batch.Stats()
	return st.Calls.Load(), st.Packets.Load()
}

// MaxTracksPerPublisher is the configured per-participant track limit.
func (e *Engine) MaxTracksPerPublisher() int { return e.cfg.MaxTracksPerPublisher }

// Observer is Config.Observe, for the ReceiverConfig of each published track.
func (e *Engine) Observer() func(direction string, b []byte) { return e.cfg.Observe }

func (e *Engine) isClosed() bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.closed
}

// newPublisherAPI builds the pion API for a publisher's PeerConnection: it
// receives Opus and VP8 (with RTX and simulcast) and sends NACKs, receiver
// reports and transport-wide feedback (transportFeedback).
func (e *Engine) newPublisherAPI() (*webrtc.API, error) {
	m := &webrtc.MediaEngine{}
	if err := registerCodecs(m, true); err != nil {
		return nil, err
	}
	exts := []struct {
		uri  string
		kind webrtc.RTPCodecType
	}{
		{sdp.SDESMidURI, webrtc.RTPCodecTypeVideo},
		{sdp.SDESMidURI, webrtc.RTPCodecTypeAudio},
		{sdp.SDESRTPStreamIDURI, webrtc.RTPCodecTypeVideo},
		{sdp.SDESRepairRTPStreamIDURI, webrtc.RTPCodecTypeVideo},
		{sdp.AudioLevelURI, webrtc.RTPCodecTypeAudio},
		{sdp.TransportCCURI, webrtc.RTPCodecTypeVideo},
		{sdp.TransportCCURI, webrtc.RTPCodecTypeAudio},
	}
	for _, x := range exts {
		if err := m.RegisterHeaderExtension(webrtc.RTPHeaderExtensionCapability{URI: x.uri}, x.kind); err != nil {
			return nil, fmt.Errorf("sfu: register header extension %s: %w", x.uri, err)
		}
	}
	reg := &interceptor.Registry{}
	gen, err := nack.NewGeneratorInterceptor()
	if err != nil {
		return nil, fmt.Errorf("sfu: nack generator: %w", err)
	}
	reg.Add(gen)
	rr, err := report.NewReceiverInterceptor()
	if err != nil {
		return nil, fmt.Errorf("sfu: receiver reports: %w", err)
	}
	reg.Add(rr)
	reg.Add(newTransportFeedback())
	return webrtc.NewAPI(webrtc.WithMediaEngine(m), webrtc.WithInterceptorRegistry(reg), webrtc.WithSettingEngine(e.setting)), nil
}

// newSubscriberAPI builds the pion API for one subscriber's PeerConnection:
// it sends Opus and VP8 with the transport-wide sequence number extension.
// No interceptors: the down tracks number packets, read feedback and send
// sender reports themselves (package bwe, Subscriber.reportLoop), which
// costs a fraction of pion's per-packet interceptor chain.
func (e *Engine) newSubscriberAPI() (*webrtc.API, error) {
	m := &webrtc.MediaEngine{}
	if err := registerCodecs(m, false); err != nil {
		return nil, err
	}
	for _, kind := range []webrtc.RTPCodecType{webrtc.RTPCodecTypeVideo, webrtc.RTPCodecTypeAudio} {
		for _, uri := range []string{sdp.SDESMidURI, sdp.TransportCCURI} {
			if err := m.RegisterHeaderExtension(webrtc.RTPHeaderExtensionCapability{URI: uri}, kind); err != nil {
				return nil, fmt.Errorf("sfu: register header extension %s: %w", uri, err)
			}
		}
	}
	return webrtc.NewAPI(webrtc.WithMediaEngine(m), webrtc.WithInterceptorRegistry(&interceptor.Registry{}), webrtc.WithSettingEngine(e.setting)), nil
}

// udpSocketBuffer is the receive and send buffer asked for the media UDP
// socket.
const udpSocketBuffer = 16 << 20

const (
	initialEstimate = 2_500_000
	maxEstimate     = 20_000_000
)

func registerCodecs(m *webrtc.MediaEngine, rtx bool) error {
	if err := m.RegisterCodec(opusCodec, webrtc.RTPCodecTypeAudio); err != nil {
		return fmt.Errorf("sfu: register opus: %w", err)
	}
	v := vp8Codec
	if !rtx {
		// Towards subscribers, retransmissions go on the original SSRC.
		v.RTCPFeedback = append([]webrtc.RTCPFeedback(nil), vp8Codec.RTCPFeedback...)
	}
	if err := m.RegisterCodec(v, webrtc.RTPCodecTypeVideo); err != nil {
		return fmt.Errorf("sfu: register vp8: %w", err)
	}
	if rtx {
		if err := m.RegisterCodec(vp8RTXCodec, webrtc.RTPCodecTypeVideo); err != nil {
			return fmt.Errorf("sfu: register rtx: %w", err)
		}
	}
	return nil
}
