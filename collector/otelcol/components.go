package main

import (
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/connector"
	"go.opentelemetry.io/collector/exporter"
	"go.opentelemetry.io/collector/exporter/debugexporter"
	"go.opentelemetry.io/collector/exporter/otlpexporter"
	"go.opentelemetry.io/collector/extension"
	"go.opentelemetry.io/collector/otelcol"
	"go.opentelemetry.io/collector/processor"
	"go.opentelemetry.io/collector/processor/batchprocessor"
	"go.opentelemetry.io/collector/processor/memorylimiterprocessor"
	"go.opentelemetry.io/collector/receiver"
	"go.opentelemetry.io/collector/receiver/otlpreceiver"
	"go.opentelemetry.io/collector/service/telemetry/otelconftelemetry"

	"github.com/open-telemetry/opentelemetry-collector-contrib/connector/spanmetricsconnector"
	"github.com/open-telemetry/opentelemetry-collector-contrib/exporter/loadbalancingexporter"
	"github.com/open-telemetry/opentelemetry-collector-contrib/exporter/prometheusexporter"
	"github.com/open-telemetry/opentelemetry-collector-contrib/extension/healthcheckextension"
	"github.com/open-telemetry/opentelemetry-collector-contrib/processor/tailsamplingprocessor"
)

// Every module is at one release (core v0.161.0 / stable v1.67.0 / contrib
// v0.161.0): it is the newest one where tailsamplingprocessor builds from the
// module proxy (v0.165.x needs a pkg/ottl release the proxy does not serve).

// The module strings only feed the `components` subcommand; keep them in
// step with go.mod.
const (
	coreVersion    = "v0.161.0"
	contribVersion = "v0.161.0"
	coreModule     = "go.opentelemetry.io/collector/"
	contribModule  = "github.com/open-telemetry/opentelemetry-collector-contrib/"
)

// aliased is implemented by factories that also answer to a deprecated type
// name (otlp -> otlp_grpc, spanmetrics -> span_metrics,
// loadbalancing -> load_balancing).
type aliased interface{ DeprecatedAlias() component.Type }

// modules maps every registered type, deprecated aliases included, to the Go
// module (and version) that provides it.
func modules[T component.Factory](factories map[component.Type]T, byType map[component.Type]string) map[component.Type]string {
	for t, f := range factories {
		if a, ok := any(f).(aliased); ok && a.DeprecatedAlias().String() != "" {
			byType[a.DeprecatedAlias()] = byType[t]
		}
	}
	return byType
}

func components() (otelcol.Factories, error) {
	var err error
	f := otelcol.Factories{Telemetry: otelconftelemetry.NewFactory()}

	if f.Receivers, err = otelcol.MakeFactoryMap[receiver.Factory](
		otlpreceiver.NewFactory(),
	); err != nil {
		return otelcol.Factories{}, err
	}
	f.ReceiverModules = modules(f.Receivers, map[component.Type]string{
		otlpreceiver.NewFactory().Type(): coreModule + "receiver/otlpreceiver " + coreVersion,
	})

	if f.Processors, err = otelcol.MakeFactoryMap[processor.Factory](
		memorylimiterprocessor.NewFactory(),
		batchprocessor.NewFactory(),
		tailsamplingprocessor.NewFactory(),
	); err != nil {
		return otelcol.Factories{}, err
	}
	f.ProcessorModules = modules(f.Processors, map[component.Type]string{
		memorylimiterprocessor.NewFactory().Type(): coreModule + "processor/memorylimiterprocessor " + coreVersion,
		batchprocessor.NewFactory().Type():         coreModule + "processor/batchprocessor " + coreVersion,
		tailsamplingprocessor.NewFactory().Type():  contribModule + "processor/tailsamplingprocessor " + contribVersion,
	})

	if f.Connectors, err = otelcol.MakeFactoryMap[connector.Factory](
		spanmetricsconnector.NewFactory(),
	); err != nil {
		return otelcol.Factories{}, err
	}
	f.ConnectorModules = modules(f.Connectors, map[component.Type]string{
		spanmetricsconnector.NewFactory().Type(): contribModule + "connector/spanmetricsconnector " + contribVersion,
	})

	if f.Exporters, err = otelcol.MakeFactoryMap[exporter.Factory](
		otlpexporter.NewFactory(),
		prometheusexporter.NewFactory(),
		debugexporter.NewFactory(),
		loadbalancingexporter.NewFactory(),
	); err != nil {
		return otelcol.Factories{}, err
	}
	f.ExporterModules = modules(f.Exporters, map[component.Type]string{
		otlpexporter.NewFactory().Type():          coreModule + "exporter/otlpexporter " + coreVersion,
		prometheusexporter.NewFactory().Type():    contribModule + "exporter/prometheusexporter " + contribVersion,
		debugexporter.NewFactory().Type():         coreModule + "exporter/debugexporter " + coreVersion,
		loadbalancingexporter.NewFactory().Type(): contribModule + "exporter/loadbalancingexporter " + contribVersion,
	})

	if f.Extensions, err = otelcol.MakeFactoryMap[extension.Factory](
		healthcheckextension.NewFactory(),
	); err != nil {
		return otelcol.Factories{}, err
	}
	f.ExtensionModules = modules(f.Extensions, map[component.Type]string{
		healthcheckextension.NewFactory().Type(): contribModule + "extension/healthcheckextension " + contribVersion,
	})

	return f, nil
}
