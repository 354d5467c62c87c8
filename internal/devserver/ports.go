package devserver

import (
	"errors"
	"fmt"
	"net"
	"runtime"
	"strconv"
	"syscall"
)

// hostPort joins an IP and a port, bracketing IPv6 addresses.
func hostPort(ip string, port int) string {
	return net.JoinHostPort(ip, strconv.Itoa(port))
}

// checkPortFree reports a clear error when ip:port cannot be bound. The
// check is only a best effort (another process may take the port before the
// server binds it), but it turns the common case of a second `sever dev`
// into an error instead of a crash: the UI server exits the process when its
// port is taken.
func checkPortFree(ip string, port int, role string) error {
	l, err := net.Listen("tcp", hostPort(ip, port))
	if err != nil {
		if errors.Is(err, syscall.EADDRINUSE) {
			return fmt.Errorf("port %d on %s is in use (wanted for the %s)", port, ip, role)
		}
		return fmt.Errorf("port %d on %s cannot be used for the %s: %w", port, ip, role, err)
	}
	return l.Close()
}

// freePort asks the kernel for an unused port on ip.
//
// On Linux the ephemeral range is randomised, so a port that was just
// released can be handed out again at once (for instance to the next
// freePort call, before the server had a chance to bind the first one). To
// keep it out of circulation for a while, a connection to it is opened and
// then closed from the listening side first, which leaves the port in
// TIME_WAIT: bind(:0) will not return it again for about a minute, while the
// server can still bind it explicitly because Go sets SO_REUSEADDR.
func freePort(ip string) (int, error) {
	l, err := net.Listen("tcp", hostPort(ip, 0))
	if err != nil {
		return 0, fmt.Errorf("pick a free port on %s: %w", ip, err)
	}
	defer l.Close()
	port := l.Addr().(*net.TCPAddr).Port
	if runtime.GOOS == "darwin" || runtime.GOOS == "windows" {
		// These hand out ephemeral ports sequentially; no reservation needed.
		return port, nil
	}
	client, err := net.Dial("tcp", hostPort(ip, port))
	if err != nil {
		return 0, fmt.Errorf("pick a free port on %s: %w", ip, err)
	}
	defer client.Close()
	server, err := l.Accept()
	if err != nil {
		return 0, fmt.Errorf("pick a free port on %s: %w", ip, err)
	}
	// The accepting side closes first, so it is the one left in TIME_WAIT.
	if err := server.Close(); err != nil {
		return 0, fmt.Errorf("pick a free port on %s: %w", ip, err)
	}
	return port, nil
}
