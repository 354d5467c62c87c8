//go:build cluster

package cluster

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"
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

type issuer struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
}

func newPKI(t *testing.T, dir string) *pki {
	t.Helper()
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	write := func(name string, typ string, der []byte) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	ca, caDER := newIssuer(t, "sever cluster CA")
	rogue, _ := newIssuer(t, "a CA nobody trusts")
	p := &pki{ca: write("ca.pem", "CERTIFICATE", caDER)}
	leaf := func(iss issuer, name string, usage x509.ExtKeyUsage, certFile, keyFile string) (string, string) {
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		serial, _ := rand.Int(rand.Reader, big.NewInt(1<<62))
		tmpl := &x509.Certificate{
			SerialNumber: serial, Subject: pkix.Name{CommonName: name}, DNSNames: []string{name},
			IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
			NotBefore:   time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
			KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{usage},
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, iss.cert, &key.PublicKey, iss.key)
		if err != nil {
			t.Fatal(err)
		}
		kder, err := x509.MarshalECPrivateKey(key)
		if err != nil {
			t.Fatal(err)
		}
		return write(certFile, "CERTIFICATE", der), write(keyFile, "EC PRIVATE KEY", kder)
	}
	p.serverCert, p.serverKey = leaf(ca, frontendName, x509.ExtKeyUsageServerAuth, "frontend.pem", "frontend.key")
	p.clientCert, p.clientKey = leaf(ca, "sever", x509.ExtKeyUsageClientAuth, "client.pem", "client.key")
	p.rogueCert, p.rogueKey = leaf(rogue, "sever", x509.ExtKeyUsageClientAuth, "rogue.pem", "rogue.key")

	pair, err := tls.LoadX509KeyPair(p.clientCert, p.clientKey)
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AddCert(ca.cert)
	p.client = &tls.Config{Certificates: []tls.Certificate{pair}, RootCAs: roots, ServerName: frontendName, MinVersion: tls.VersionTLS12}
	return p
}

func newIssuer(t *testing.T, name string) (issuer, []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return issuer{cert: cert, key: key}, der
}
