// Command otelcol-twenty-sse is a minimal OpenTelemetry Collector distribution
// for the Twenty SSE pipeline bundle. It holds only the components that the
// configs in ../otelcol-config.*.yaml use (see components.go).
package main

import (
	"os"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/confmap"
	"go.opentelemetry.io/collector/confmap/provider/envprovider"
	"go.opentelemetry.io/collector/confmap/provider/fileprovider"
	"go.opentelemetry.io/collector/confmap/provider/yamlprovider"
	"go.opentelemetry.io/collector/otelcol"
)

// version is this distribution's own version; the component versions are
// pinned in go.mod.
const version = "0.161.0-twenty-sse.1"

func main() {
	set := otelcol.CollectorSettings{
		BuildInfo: component.BuildInfo{
			Command:     "otelcol-twenty-sse",
			Description: "OpenTelemetry Collector for the Twenty SSE pipeline: otlp in; memory_limiter, batch, tail_sampling; span_metrics; otlp_grpc, load_balancing, prometheus, debug out; health_check",
			Version:     version,
		},
		Factories: components,
		ConfigProviderSettings: otelcol.ConfigProviderSettings{
			ResolverSettings: confmap.ResolverSettings{
				ProviderFactories: []confmap.ProviderFactory{
					envprovider.NewFactory(),
					fileprovider.NewFactory(),
					yamlprovider.NewFactory(),
				},
				// A bare --config path is read as a file.
				DefaultScheme: "env",
			},
		},
	}
	// cobra already prints the error; only the exit code is left to set.
	if err := otelcol.NewCommand(set).Execute(); err != nil {
		os.Exit(1)
	}
}
