//go:build cluster

package cluster

import (
	"crypto/tls"
	"crypto/x509"
	"os"
	"path/filepath"
	"testing"

	"github.com/sever-ir/sever/internal/testpki"
)

// frontendName is the name on the frontend's certificate; clients dial 127.0.0.1 and
// verify this name, as they would a load balancer's.
const frontendName = "frontend.sever.test"

// pki is the cluster's mutual TLS material, as PEM files: a CA, the frontend's
// certificate, a client certificate it signed (sever and Temporal's own system
// worker present it), and a client certificate from a CA the frontend does not trust.
type pki struct {
	ca, serverCert, serverKey, clientCert, clientKey, rogueCert, rogueKey string
	client                                                                *tls.Config // the harness's own clients
}

func newPKI(t *testing.T, dir string) *pki {
	t.Helper()
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	write := func(name string, data []byte) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	ca, rogue := testpki.NewCA(t, "sever cluster CA"), testpki.NewCA(t, "a CA nobody trusts")
	p := &pki{ca: write("ca.pem", ca.PEM)}
	leaf := func(iss *testpki.CA, name string, usage x509.ExtKeyUsage, certFile, keyFile string) (string, string) {
		cert, key := iss.Issue(t, name, usage)
		return write(certFile, cert), write(keyFile, key)
	}
	p.serverCert, p.serverKey = leaf(ca, frontendName, x509.ExtKeyUsageServerAuth, "frontend.pem", "frontend.key")
	p.clientCert, p.clientKey = leaf(ca, "sever", x509.ExtKeyUsageClientAuth, "client.pem", "client.key")
	p.rogueCert, p.rogueKey = leaf(rogue, "sever", x509.ExtKeyUsageClientAuth, "rogue.pem", "rogue.key")

	pair, err := tls.LoadX509KeyPair(p.clientCert, p.clientKey)
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AddCert(ca.Cert)
	p.client = &tls.Config{Certificates: []tls.Certificate{pair}, RootCAs: roots, ServerName: frontendName, MinVersion: tls.VersionTLS12}
	return p
}
