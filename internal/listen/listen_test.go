package listen

import (
	"net"
	"testing"
)

func TestOnLoopback(t *testing.T) {
	for _, tc := range []struct {
		addr net.Addr
		want bool
	}{
		{&net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 80}, true},
		{&net.TCPAddr{IP: net.IPv6loopback, Port: 80}, true},
		{&net.TCPAddr{IP: net.IPv4zero, Port: 80}, false},
		{&net.TCPAddr{IP: net.IPv4(10, 0, 0, 1), Port: 80}, false},
		{&net.UnixAddr{Name: "/run/x.sock", Net: "unix"}, true},
	} {
		if got := OnLoopback(tc.addr); got != tc.want {
			t.Errorf("OnLoopback(%v) = %v, want %v", tc.addr, got, tc.want)
		}
	}
}

func TestServerTLSMissing(t *testing.T) {
	if _, err := ServerTLS("/nonexistent/cert.pem", "/nonexistent/key.pem", ""); err == nil {
		t.Error("missing files accepted")
	}
}
