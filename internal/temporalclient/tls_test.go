package temporalclient

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/sever-ir/sever/internal/testpki"
)

// frontend is a stand-in Temporal frontend: the SDK's Dial only needs
// GetSystemInfo. It checks the API key when one is expected.
type frontend struct {
	workflowservice.UnimplementedWorkflowServiceServer
	apiKey string
}

func (f *frontend) GetSystemInfo(ctx context.Context, _ *workflowservice.GetSystemInfoRequest) (*workflowservice.GetSystemInfoResponse, error) {
	if f.apiKey != "" {
		md, _ := metadata.FromIncomingContext(ctx)
		if got := md.Get("authorization"); len(got) != 1 || got[0] != "Bearer "+f.apiKey {
			return nil, status.Error(codes.Unauthenticated, "API key required")
		}
	}
	return &workflowservice.GetSystemInfoResponse{Capabilities: &workflowservice.GetSystemInfoResponse_Capabilities{}}, nil
}

// startFrontend serves TLS on loopback with the server certificate of p; with
// clientCAs, it requires and verifies a client certificate (mutual TLS).
func startFrontend(t *testing.T, p *testpki.CA, clientCAs *x509.CertPool, apiKey string) string {
	t.Helper()
	certPEM, keyPEM := p.Issue(t, "frontend.sever.test", x509.ExtKeyUsageServerAuth)
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	conf := &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	if clientCAs != nil {
		conf.ClientCAs, conf.ClientAuth = clientCAs, tls.RequireAndVerifyClientCert
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer(grpc.Creds(credentials.NewTLS(conf)))
	workflowservice.RegisterWorkflowServiceServer(srv, &frontend{apiKey: apiKey})
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(srv.Stop)
	return ln.Addr().String()
}

// writeSecret writes a PEM where a file: reference can point at it.
func writeSecret(t *testing.T, dir, name string, b []byte) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return "file:" + path
}

// TestTLS dials a TLS frontend as `sever worker` would: mutual TLS works with the
// right CA and client certificate, and fails with an error that says why with a
// wrong CA, a certificate from another CA, no certificate or a wrong server name.
// API keys go out as bearer tokens over TLS.
func TestTLS(t *testing.T) {
	dir := t.TempDir()
	good, other := testpki.NewCA(t, "sever test CA"), testpki.NewCA(t, "someone else's CA")
	pool := x509.NewCertPool()
	pool.AddCert(good.Cert)
	mtlsAddr := startFrontend(t, good, pool, "")
	keyAddr := startFrontend(t, good, nil, "cloud-api-key-0123")

	ca := writeSecret(t, dir, "ca.pem", good.PEM)
	otherCA := writeSecret(t, dir, "other-ca.pem", other.PEM)
	cert, key := good.Issue(t, "sever-worker", x509.ExtKeyUsageClientAuth)
	goodCert, goodKey := writeSecret(t, dir, "client.pem", cert), writeSecret(t, dir, "client.key", key)
	cert, key = other.Issue(t, "sever-worker", x509.ExtKeyUsageClientAuth)
	badCert, badKey := writeSecret(t, dir, "bad-client.pem", cert), writeSecret(t, dir, "bad-client.key", key)
	t.Setenv("SEVER_TEST_TEMPORAL_API_KEY", "cloud-api-key-0123")
	t.Setenv("SEVER_TEST_TEMPORAL_WRONG_KEY", "not-the-key")

	tests := []struct {
		name, addr, tls string
		apiKey          string
		wantErr         string // "" = the dial succeeds
	}{
		{name: "mutual TLS with the right CA and certificate", addr: mtlsAddr,
			tls: "ca: " + ca + "\n    client_cert: " + goodCert + "\n    client_key: " + goodKey + "\n    server_name: frontend.sever.test"},
		{name: "a CA that did not sign the frontend's certificate", addr: mtlsAddr,
			tls:     "ca: " + otherCA + "\n    client_cert: " + goodCert + "\n    client_key: " + goodKey + "\n    server_name: frontend.sever.test",
			wantErr: "not signed by temporal.tls.ca"},
		{name: "a client certificate from another CA", addr: mtlsAddr,
			tls:     "ca: " + ca + "\n    client_cert: " + badCert + "\n    client_key: " + badKey + "\n    server_name: frontend.sever.test",
			wantErr: "refused the client certificate"},
		{name: "no client certificate", addr: mtlsAddr,
			tls:     "ca: " + ca + "\n    server_name: frontend.sever.test",
			wantErr: "may require a client certificate"},
		{name: "a server name the certificate does not carry", addr: mtlsAddr,
			tls:     "ca: " + ca + "\n    client_cert: " + goodCert + "\n    client_key: " + goodKey + "\n    server_name: other.sever.test",
			wantErr: "set temporal.tls.server_name"},
		{name: "a certificate with another CA's key", addr: mtlsAddr,
			tls:     "ca: " + ca + "\n    client_cert: " + goodCert + "\n    client_key: " + badKey + "\n    server_name: frontend.sever.test",
			wantErr: "private key does not match public key"},
		{name: "API key over TLS", addr: keyAddr, apiKey: "env:SEVER_TEST_TEMPORAL_API_KEY",
			tls: "ca: " + ca + "\n    server_name: frontend.sever.test"},
		{name: "a wrong API key", addr: keyAddr, apiKey: "env:SEVER_TEST_TEMPORAL_WRONG_KEY",
			tls: "ca: " + ca + "\n    server_name: frontend.sever.test", wantErr: "API key required"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			yaml := "temporal:\n  address: " + tt.addr + "\n  namespace: sever\n  tls:\n    " + tt.tls + "\n"
			if tt.apiKey != "" {
				yaml += "  api_key: " + tt.apiKey + "\n"
			}
			cfg := parse(t, yaml)
			opts, err := Options(context.Background(), cfg, envMap{"TEMPORAL_CONFIG_FILE": filepath.Join(dir, "none.toml")})
			if err == nil {
				// Dial fails fast instead of waiting out the SDK's default timeout.
				opts.ConnectionOptions.GetSystemInfoTimeout = 10 * time.Second
				var c client.Client
				if c, err = Dial(opts); err == nil {
					c.Close()
				}
			}
			switch {
			case tt.wantErr == "" && err != nil:
				t.Fatalf("dial: %v", err)
			case tt.wantErr != "" && err == nil:
				t.Fatalf("dial succeeded, want an error containing %q", tt.wantErr)
			case tt.wantErr != "" && !strings.Contains(err.Error(), tt.wantErr):
				t.Fatalf("dial: %v, want an error containing %q", err, tt.wantErr)
			}
			if err != nil {
				t.Logf("dial: %v", err)
			}
			if err != nil && strings.Contains(err.Error(), "cloud-api-key-0123") {
				t.Fatalf("the error echoes the API key: %v", err)
			}
		})
	}
}
