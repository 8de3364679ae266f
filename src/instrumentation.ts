import type * as InstrumentationApi from '@opentelemetry/instrumentation';
import type { InstrumentationConfig, InstrumentationModuleDefinition } from '@opentelemetry/instrumentation';
import { readConfigFromEnv } from './config';
import { hookNestCore, NestHookStatus } from './load-hook';
import { PatchSet } from './engine/patches';
import { requireFromSdkNode } from './otel/sdk-deps';
import { CaptureIdsMode, Generation, SCOPE_NAME } from './semconv';
import { Instrumenter } from './twenty/instrumenter';
import { getActiveTelemetry, setActiveTelemetry, Telemetry } from './otel/telemetry';
import { VERSION } from './version';

const { InstrumentationBase, InstrumentationNodeModuleDefinition } = requireFromSdkNode<typeof InstrumentationApi>(
  '@opentelemetry/instrumentation',
);

/** The @nestjs/core versions whose package entry exposes NestContainer and NestFactory as the hook expects. */
export const SUPPORTED_NEST_CORE_VERSIONS = '>=10.0.0 <13';
const SUPPORTED_NEST_MAJORS = new Set([10, 11, 12]);
const REPORT_AFTER_QUIET_MS = 1_000;

export interface TwentySseInstrumentationConfig extends InstrumentationConfig {
  /** Force a Twenty generation instead of detecting it. Default: TWENTY_SSE_OTEL_GENERATION, else auto. */
  generation?: Generation | 'auto';
  /** How user, workspace-member and workspace ids appear. Default: TWENTY_SSE_OTEL_CAPTURE_IDS, else hashed. */
  captureIds?: CaptureIdsMode;
}

/** What the register entry hands over that a NodeSDK user never needs. */
export interface TwentySseInstrumentationInternals {
  /** Counts and spans go here instead of to the providers InstrumentationBase manages (the register entry's private SDK). */
  telemetry?: Telemetry;
  /** Where the startup line goes. Default: stderr. */
  log?: (line: string) => void;
}

type NestSeen = NestHookStatus | { version: string; unsupported: true };

/**
 * The instrumentation as OpenTelemetry JS expects it: put it in NodeSDK's
 * `instrumentations` or pass it to `registerInstrumentations`. It hooks the
 * `@nestjs/core` package entry (CommonJS require or ESM import, Nest 10 to
 * 12) and patches Twenty's classes as Nest registers them. Spans go to the
 * tracer provider it is given (the global one by default), counts to its
 * meter provider. `disable()` puts every patched method back exactly.
 */
export class TwentySseInstrumentation extends InstrumentationBase<TwentySseInstrumentationConfig> {
  readonly telemetry: Telemetry;
  readonly instrumenter: Instrumenter;
  private readonly corePatches = new PatchSet();
  private readonly nest: NestSeen[] = [];
  private readonly log: (line: string) => void;
  private lastReport = '';
  private pendingReport: NodeJS.Timeout | undefined;
  private factoryHooked = true;

  constructor(config: TwentySseInstrumentationConfig = {}, internals: TwentySseInstrumentationInternals = {}) {
    // Enabled only once this class's own fields exist (InstrumentationBase would enable inside super()).
    super(SCOPE_NAME, VERSION, { ...config, enabled: false });
    this.log = internals.log ?? ((line) => process.stderr.write(`[twenty-sse-otel] ${line}\n`));
    const fromEnv = readConfigFromEnv().config;
    this.telemetry =
      internals.telemetry ??
      new Telemetry({
        config: {
          enabled: true,
          generation: config.generation ?? fromEnv.generation,
          captureIds: config.captureIds ?? fromEnv.captureIds,
        },
        tracer: this.tracer,
        meter: this.meter,
        log: this.log,
      });
    this.instrumenter = new Instrumenter(this.telemetry);
    this.setConfig(config);
    if (this.getConfig().enabled) this.enable();
  }

  protected init(): InstrumentationModuleDefinition[] {
    return [
      new InstrumentationNodeModuleDefinition(
        '@nestjs/core',
        [SUPPORTED_NEST_CORE_VERSIONS],
        (exports: unknown, version?: string) =>
          this.guarded('nest-hook', () => this.patchNestCore(exports, version ?? 'unknown'), exports),
        () => this.guarded('nest-hook', () => this.corePatches.restore(), undefined),
      ),
      // Sees every other version too, so an unsupported Nest is reported instead of silently skipped.
      new InstrumentationNodeModuleDefinition('@nestjs/core', ['*'], (exports: unknown, version?: string) =>
        this.guarded('nest-hook', () => this.noticeNestCore(version), exports),
      ),
    ];
  }

  override setConfig(config: TwentySseInstrumentationConfig = {}): void {
    super.setConfig(config);
    // setConfig runs inside super() before the telemetry exists; the constructor applies the config then.
    const telemetry = (this as { telemetry?: Telemetry }).telemetry;
    if (!telemetry) return;
    if (config.generation) telemetry.config.generation = config.generation;
    if (config.captureIds) telemetry.config.captureIds = config.captureIds;
  }

  override setTracerProvider(
    tracerProvider: Parameters<InstrumentationApi.InstrumentationBase['setTracerProvider']>[0],
  ): void {
    super.setTracerProvider(tracerProvider);
    (this as { telemetry?: Telemetry }).telemetry?.useTracer(this.tracer);
  }

  protected override _updateMetricInstruments(): void {
    (this as { telemetry?: Telemetry }).telemetry?.useMeter(this.meter);
  }

  override enable(): void {
    super.enable();
    this.instrumenter.reinstrument();
    if (!getActiveTelemetry()) setActiveTelemetry(this.telemetry);
  }

  override disable(): void {
    super.disable();
    if (this.pendingReport) clearTimeout(this.pendingReport);
    this.corePatches.restore();
    this.instrumenter.restore();
    if (getActiveTelemetry() === this.telemetry) setActiveTelemetry(undefined);
  }

  /**
   * Applies the Nest hook to `@nestjs/core` exports obtained some other way,
   * where no module hook can see Nest load (a jest module registry, a bundle).
   */
  instrumentNestCore(exports: unknown, version = 'unknown'): void {
    this.patchNestCore(exports, version);
  }

  /**
   * Prints the startup line (generation, targets found and missing, and the
   * Nest version with anything of it that could not be hooked) when it
   * changed, and refreshes the targets metric. Returns the line.
   */
  report(): string {
    const { line: targets } = this.instrumenter.report();
    const line = targets + this.nestSummary();
    if (line !== this.lastReport) this.log(line);
    this.lastReport = line;
    return line;
  }

  private nestSummary(): string {
    return this.nest
      .map((seen) => {
        if ('unsupported' in seen)
          return `; Nest ${seen.version} not hooked (supported @nestjs/core ${SUPPORTED_NEST_CORE_VERSIONS}): no class is patched`;
        if (seen.missing.length === 0) return `; Nest ${seen.version} hooked`;
        return `; Nest ${seen.version}: ${seen.missing.join(', ')} not found`;
      })
      .join('');
  }

  /** Runs `work`; a fault is counted and swallowed, and the module is handed back as it came. */
  private guarded<T>(component: string, work: () => unknown, fallback: T): T {
    try {
      work();
    } catch (error) {
      (this as { telemetry?: Telemetry }).telemetry?.fault(component, error);
    }
    return fallback;
  }

  private patchNestCore(exports: unknown, version: string): unknown {
    if (this.nest.some((seen) => seen.version === version && !('unsupported' in seen))) {
      // The same Nest seen again (its ESM namespace and CommonJS exports, or a re-enable): patch, do not re-report.
      hookNestCore(exports, version, this.hookContext());
      return exports;
    }
    const status = hookNestCore(exports, version, this.hookContext());
    this.nest.push(status);
    for (const point of [...status.found, ...status.missing]) {
      const [className, method] = point.split('.');
      this.telemetry.setTargetStatus(className, method, status.found.includes(point) ? 'found' : 'missing');
    }
    if (status.missing.some((point) => point.startsWith('NestContainer.'))) {
      // Nothing Nest registers can be patched: say so now, every Twenty target shows as missing.
      this.report();
    } else if (status.missing.length > 0) {
      // No app-ready signal: report once registrations have been quiet for a moment.
      this.factoryHooked = false;
    }
    return exports;
  }

  private noticeNestCore(version: string | undefined): void {
    const major = version === undefined ? NaN : Number.parseInt(version, 10);
    if (SUPPORTED_NEST_MAJORS.has(major)) return;
    const shown = version ?? 'unknown';
    if (this.nest.some((seen) => seen.version === shown)) return;
    this.nest.push({ version: shown, unsupported: true });
    this.telemetry.setTargetStatus('NestContainer', 'addProvider', 'missing');
    this.report();
  }

  private hookContext() {
    return {
      instrumenter: this.instrumenter,
      patches: this.corePatches,
      onAppReady: (httpServer: boolean) => {
        this.instrumenter.setHttpServer(httpServer);
        this.report();
      },
      onRegistered: () => {
        if (this.factoryHooked) return;
        if (this.pendingReport) clearTimeout(this.pendingReport);
        this.pendingReport = setTimeout(() => this.report(), REPORT_AFTER_QUIET_MS).unref();
      },
      onFault: (component: string, error: unknown) => this.telemetry.fault(component, error),
    };
  }
}
