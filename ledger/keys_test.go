package ledger

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestGenerateAndLoadKey(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ledger.key")
	k, err := GenerateKey(path)
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file mode = %v, %v; want 0600", fi.Mode(), err)
	}
	loaded, err := LoadKey(path)
	if err != nil || !loaded.Equal(k) {
		t.Fatalf("LoadKey = %v; want the generated key", err)
	}
	if _, err := GenerateKey(path); err == nil {
		t.Fatal("GenerateKey overwrote an existing key")
	}
	if again, _ := LoadKey(path); !again.Equal(k) {
		t.Fatal("the key changed")
	}
	pub := k.Public().(ed25519.PublicKey)
	for _, in := range [][]byte{PublicKeyPEM(pub), []byte(hex.EncodeToString(pub) + "\n")} {
		got, err := ParsePublicKey(in)
		if err != nil || !got.Equal(pub) {
			t.Fatalf("ParsePublicKey(%q) = %v", in, err)
		}
	}
}

func TestLoadKeyRejects(t *testing.T) {
	dir := t.TempDir()
	ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	ecDER, _ := x509.MarshalPKCS8PrivateKey(ec)
	secret := "sk-ant-api03-AbCdEfGhIjKlMnOpQrStUvWxYz0123456789"
	for name, content := range map[string][]byte{
		"empty":     nil,
		"not pem":   []byte(secret),
		"pub key":   PublicKeyPEM(testKey(t).Public().(ed25519.PublicKey)),
		"bad der":   pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: []byte(secret)}),
		"ecdsa key": pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: ecDER}),
	} {
		path := filepath.Join(dir, strings.ReplaceAll(name, " ", "-"))
		os.WriteFile(path, content, 0o600)
		_, err := LoadKey(path)
		if err == nil || strings.Contains(err.Error(), secret) {
			t.Errorf("LoadKey(%s) = %v; want an error without the content", name, err)
		}
	}
	if _, err := LoadKey(filepath.Join(dir, "missing")); err == nil {
		t.Error("LoadKey(missing) succeeded")
	}
	if _, err := ParsePublicKey([]byte("abcd")); err == nil {
		t.Error("ParsePublicKey(short hex) succeeded")
	}
}
