import { ConfigProblem } from '../config';

/**
 * Checks the standard OTEL_* variables this package honours before the SDK
 * reads them, so a bad value gives one clear line (the SDK's own diag errors
 * are silent without a diag logger) and a sane value is used instead.
 */
export interface OtelEnvSettings {
  sdkDisabled: boolean;
  protocol: 'http/protobuf' | 'http/json';
  tracesExporter: 'otlp' | 'console' | 'none';
  metricsExporter: 'otlp' | 'console' | 'none';
  metricExportIntervalMs: number;
  /** Span batching, always explicit so a bad OTEL_BSP_* value in the environment is never read by the SDK. */
  bsp: { scheduledDelayMillis: number; exportTimeoutMillis: number; maxQueueSize: number; maxExportBatchSize: number };
  /** Set when an OTLP endpoint variable is unusable: exporters then get the default URL explicitly. */
  defaultEndpointForced: boolean;
}

const SAMPLERS = [
  'always_on',
  'always_off',
  'traceidratio',
  'parentbased_always_on',
  'parentbased_always_off',
  'parentbased_traceidratio',
];
const PROTOCOLS = ['http/protobuf', 'http/json'];
const EXPORTERS = ['otlp', 'console', 'none'];
const BSP_VARS = [
  ['OTEL_BSP_SCHEDULE_DELAY', 'scheduledDelayMillis'],
  ['OTEL_BSP_EXPORT_TIMEOUT', 'exportTimeoutMillis'],
  ['OTEL_BSP_MAX_QUEUE_SIZE', 'maxQueueSize'],
  ['OTEL_BSP_MAX_EXPORT_BATCH_SIZE', 'maxExportBatchSize'],
] as const;
const ENDPOINT_VARS = [
  'OTEL_EXPORTER_OTLP_ENDPOINT',
  'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT',
  'OTEL_EXPORTER_OTLP_METRICS_ENDPOINT',
];

function shown(value: string): string {
  return JSON.stringify(value.length > 60 ? `${value.slice(0, 60)}...` : value);
}

/**
 * Returns the settings and, for each bad variable, a problem line. The
 * environment itself is never modified (it belongs to Twenty); instead the
 * values passed to the SDK are explicit wherever a bad variable could reach it.
 */
export function readOtelEnv(env: NodeJS.ProcessEnv = process.env): {
  settings: OtelEnvSettings;
  problems: ConfigProblem[];
} {
  const problems: ConfigProblem[] = [];
  const reject = (variable: string, message: string) => {
    problems.push({ variable, message });
  };

  const settings: OtelEnvSettings = {
    sdkDisabled: false,
    protocol: 'http/protobuf',
    tracesExporter: 'otlp',
    metricsExporter: 'otlp',
    metricExportIntervalMs: 60_000,
    bsp: { scheduledDelayMillis: 5_000, exportTimeoutMillis: 30_000, maxQueueSize: 2_048, maxExportBatchSize: 512 },
    defaultEndpointForced: false,
  };

  const disabled = env.OTEL_SDK_DISABLED?.trim().toLowerCase();
  if (disabled !== undefined && disabled !== '') {
    if (disabled === 'true') settings.sdkDisabled = true;
    else if (disabled !== 'false')
      reject(
        'OTEL_SDK_DISABLED',
        `OTEL_SDK_DISABLED=${shown(env.OTEL_SDK_DISABLED!)} is not a boolean; use true or false. Using false.`,
      );
  }

  for (const variable of [
    'OTEL_EXPORTER_OTLP_TRACES_PROTOCOL',
    'OTEL_EXPORTER_OTLP_METRICS_PROTOCOL',
    'OTEL_EXPORTER_OTLP_PROTOCOL',
  ]) {
    const value = env[variable]?.trim();
    if (!value) continue;
    if (!PROTOCOLS.includes(value)) {
      reject(
        variable,
        `${variable}=${shown(value)} is not supported by this package; use http/protobuf or http/json. Using http/protobuf.`,
      );
    }
  }
  const protocol = (env.OTEL_EXPORTER_OTLP_TRACES_PROTOCOL ?? env.OTEL_EXPORTER_OTLP_PROTOCOL)?.trim();
  if (protocol === 'http/json') settings.protocol = 'http/json';

  for (const [variable, key] of [
    ['OTEL_TRACES_EXPORTER', 'tracesExporter'],
    ['OTEL_METRICS_EXPORTER', 'metricsExporter'],
  ] as const) {
    const value = env[variable]?.trim().toLowerCase();
    if (!value) continue;
    if (EXPORTERS.includes(value)) settings[key] = value as OtelEnvSettings[typeof key];
    else
      reject(variable, `${variable}=${shown(env[variable]!)} is not supported; use otlp, console or none. Using otlp.`);
  }

  const sampler = env.OTEL_TRACES_SAMPLER?.trim();
  if (sampler && !SAMPLERS.includes(sampler)) {
    reject(
      'OTEL_TRACES_SAMPLER',
      `OTEL_TRACES_SAMPLER=${shown(sampler)} is not a sampler; use one of ${SAMPLERS.join(', ')}. Using parentbased_always_on.`,
    );
  }
  const samplerArg = env.OTEL_TRACES_SAMPLER_ARG?.trim();
  if (samplerArg) {
    const ratio = Number(samplerArg);
    if (!Number.isFinite(ratio) || ratio < 0 || ratio > 1) {
      reject(
        'OTEL_TRACES_SAMPLER_ARG',
        `OTEL_TRACES_SAMPLER_ARG=${shown(samplerArg)} is not a ratio between 0 and 1. Using 1.`,
      );
    }
  }

  for (const [variable, key] of BSP_VARS) {
    const value = env[variable]?.trim();
    if (!value) continue;
    const number = Number(value);
    if (!Number.isInteger(number) || number <= 0) {
      reject(variable, `${variable}=${shown(value)} is not a positive integer. Using ${settings.bsp[key]}.`);
    } else settings.bsp[key] = number;
  }
  if (settings.bsp.maxExportBatchSize > settings.bsp.maxQueueSize)
    settings.bsp.maxExportBatchSize = settings.bsp.maxQueueSize;

  const interval = env.OTEL_METRIC_EXPORT_INTERVAL?.trim();
  if (interval) {
    const number = Number(interval);
    if (!Number.isInteger(number) || number <= 0) {
      reject(
        'OTEL_METRIC_EXPORT_INTERVAL',
        `OTEL_METRIC_EXPORT_INTERVAL=${shown(interval)} is not a positive number of milliseconds. Using 60000.`,
      );
    } else settings.metricExportIntervalMs = number;
  }

  for (const variable of ENDPOINT_VARS) {
    const value = env[variable]?.trim();
    if (!value) continue;
    let ok: boolean;
    try {
      const url = new URL(value);
      ok = url.protocol === 'http:' || url.protocol === 'https:';
    } catch {
      ok = false;
    }
    if (!ok) {
      reject(
        variable,
        `${variable}=${shown(value)} is not an http(s) URL, e.g. http://localhost:4318. Using the default http://localhost:4318.`,
      );
      settings.defaultEndpointForced = true;
    }
  }

  return { settings, problems };
}
