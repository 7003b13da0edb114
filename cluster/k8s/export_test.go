package k8s

// TestConfig is testConfig, for the external tests.
var TestConfig = testConfig
