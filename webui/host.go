package webui

import (
	"net"
	"net/http"
	"strings"
)

// HostGuard refuses, with 421 Misdirected Request, every request whose Host
// header is not a loopback name ("localhost", 127.0.0.0/8, ::1) or one of
// allowed (host names or IPs, with or without a port; compared without the
// port and case-insensitively).
//
// It defends a server that answers without authentication on loopback (`sever
// dev`) against DNS rebinding: a page on evil.example re-points its own name at
// 127.0.0.1, and the browser then sends it the dev UI's pages as same-origin
// responses. The Host header still says evil.example, which is what this checks.
func HostGuard(allowed []string, next http.Handler) http.Handler {
	set := make(map[string]bool, len(allowed))
	for _, h := range allowed {
		set[hostOnly(h)] = true
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if host := hostOnly(r.Host); !loopbackHost(host) && !set[host] {
			// Plain text: the error page's template is not worth rendering for a
			// request that is most likely from a hostile page.
			w.Header().Set("Content-Type", "text/plain; charset=utf-8")
			w.Header().Set("X-Content-Type-Options", "nosniff")
			w.Header().Set("Cache-Control", "no-store")
			w.WriteHeader(http.StatusMisdirectedRequest)
			_, _ = w.Write([]byte("421 misdirected request: this server answers only requests addressed to " +
				"localhost or a loopback IP (or a host it is configured to allow), not to the host this request named. " +
				"Open it through http://127.0.0.1:<port>/ or add the name to the allowed hosts.\n"))
			return
		}
		next.ServeHTTP(w, r)
	})
}

// hostOnly is h without its port, lowercased; IPv6 brackets are removed.
func hostOnly(h string) string {
	h = strings.ToLower(strings.TrimSpace(h))
	if host, _, err := net.SplitHostPort(h); err == nil {
		return host
	}
	return strings.TrimSuffix(strings.TrimPrefix(h, "["), "]")
}

// loopbackHost reports whether host (without port) can only mean this machine.
// Only the literal name "localhost" counts among names: browsers resolve it to
// loopback themselves, so no DNS answer can re-point it.
func loopbackHost(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
