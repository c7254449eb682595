package orgclient

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"
)

// TrustPEMFile returns a TLS configuration that trusts only the certificates of caFile (PEM), or nil
// (the system's roots) when caFile is empty: how pgforce reaches a Pub/Sub API whose certificate is
// not publicly signed.
func TrustPEMFile(caFile string) (*tls.Config, error) {
	if caFile == "" {
		return nil, nil
	}
	raw, err := os.ReadFile(caFile)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(raw) {
		return nil, fmt.Errorf("%s holds no PEM certificate", caFile)
	}
	return &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}, nil
}
