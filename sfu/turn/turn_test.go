package turn

import (
	"io"
	"log/slog"
	"net"
	"strconv"
	"testing"
	"time"

	pionturn "github.com/pion/turn/v4"
)

func TestValidUsername(t *testing.T) {
	now := time.Unix(1_000_000, 0)
	tests := []struct {
		name string
		user string
		want bool
	}{
		{"valid", "1000060:P_abc", true},
		{"expired", "999999:P_abc", false},
		{"no label separator", "1000060", false},
		{"not a number", "soon:P_abc", false},
		{"too long", "1000060:" + string(make([]byte, 300)), false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := ValidUsername(tc.user, now); got != tc.want {
				t.Fatalf("ValidUsername(%q) = %v", tc.user, got)
			}
		})
	}
}

// TestAllocate allocates a relay on the server over loopback with issued
// credentials, and checks that wrong credentials are refused and that the
// relay refuses peers the filter does not allow.
func TestAllocate(t *testing.T) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	srv, err := Start(Config{
		ListenIP: "127.0.0.1", Realm: "conclave", RelayIP: net.IPv4(127, 0, 0, 1),
		AllowPeer: func(ip net.IP) bool { return ip.Equal(net.IPv4(127, 0, 0, 1)) },
	}, log)
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	user, pass := srv.Credentials("P_test", time.Now(), time.Minute)

	tests := []struct {
		name    string
		user    string
		pass    string
		wantErr bool
	}{
		{"issued credentials", user, pass, false},
		{"wrong password", user, "AAAA", true},
		{"expired", "1:P_test", srv.password("1:P_test"), true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			conn, err := net.ListenPacket("udp4", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			addr := net.JoinHostPort("127.0.0.1", itoa(srv.Port()))
			c, err := pionturn.NewClient(&pionturn.ClientConfig{
				STUNServerAddr: addr, TURNServerAddr: addr, Conn: conn,
				Username: tc.user, Password: tc.pass, Realm: "conclave",
				RTO: 100 * time.Millisecond,
			})
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			if err := c.Listen(); err != nil {
				t.Fatal(err)
			}
			relay, err := c.Allocate()
			if tc.wantErr {
				if err == nil {
					relay.Close()
					t.Fatal("allocation succeeded")
				}
				return
			}
			if err != nil {
				t.Fatalf("Allocate: %v", err)
			}
			defer relay.Close()
			// A peer outside the filter is refused (CreatePermission fails).
			if _, err := relay.WriteTo([]byte("x"), &net.UDPAddr{IP: net.IPv4(192, 0, 2, 1), Port: 9}); err == nil {
				t.Fatal("relay to a foreign peer was permitted")
			}
			// The SFU's own address is allowed.
			sink, err := net.ListenPacket("udp4", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			defer sink.Close()
			if _, err := relay.WriteTo([]byte("hello"), sink.LocalAddr()); err != nil {
				t.Fatalf("relay to allowed peer: %v", err)
			}
			_ = sink.SetReadDeadline(time.Now().Add(5 * time.Second))
			buf := make([]byte, 16)
			n, _, err := sink.ReadFrom(buf)
			if err != nil || string(buf[:n]) != "hello" {
				t.Fatalf("relayed read = %q, %v", buf[:n], err)
			}
		})
	}
}

func itoa(i int) string { return strconv.Itoa(i) }

// TestListenBothRetriesTakenTCPPort: with port 0 the kernel picks the UDP
// port, whose number may be held by a TCP socket; listenBoth picks again.
// Holding 4,000 loopback TCP ports (about 14% of the ephemeral range here)
// makes 40 picks almost sure to meet a taken one.
func TestListenBothRetriesTakenTCPPort(t *testing.T) {
	var held []net.Listener
	defer func() {
		for _, l := range held {
			l.Close()
		}
	}()
	for i := 0; i < 4000; i++ {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatalf("holding TCP port %d: %v", i, err)
		}
		held = append(held, l)
	}
	for i := 0; i < 40; i++ {
		udp, tcp, err := listenBoth("127.0.0.1", 0)
		if err != nil {
			t.Fatalf("pick %d: %v", i, err)
		}
		if u, p := udp.LocalAddr().(*net.UDPAddr).Port, tcp.Addr().(*net.TCPAddr).Port; u != p {
			t.Fatalf("UDP port %d, TCP port %d", u, p)
		}
		udp.Close()
		tcp.Close()
	}
	// A fixed port that is taken is an error, not another port.
	udp, tcp, err := listenBoth("127.0.0.1", held[0].Addr().(*net.TCPAddr).Port)
	if err == nil {
		udp.Close()
		tcp.Close()
		t.Fatal("a taken fixed port was accepted")
	}
}
