package mls

import "conclave/e2ee/mls/internal/tls"

// tlsWriterForTest gives tests a tls.Writer without importing the package
// in every file.
type tlsWriterForTest struct{ tls.Writer }
