import { CAPTURE_IDS_MODES, CaptureIdsMode, ENV, GENERATIONS, Generation } from './semconv';

export interface TwentySseConfig {
  /** Patch Twenty's classes and emit telemetry. Default false: nothing is patched. */
  enabled: boolean;
  /** Force a generation instead of detecting it from the classes found. */
  generation: Generation | 'auto';
  /** How user, workspace-member and workspace ids appear in telemetry. */
  captureIds: CaptureIdsMode;
}

export const DEFAULT_CONFIG: TwentySseConfig = {
  enabled: false,
  generation: 'auto',
  captureIds: 'hashed',
};

/** A problem with one env var: one line, naming the variable, what it accepts and what is used instead. */
export interface ConfigProblem {
  variable: string;
  message: string;
}

const TRUE_VALUES = ['true', '1', 'yes', 'on'];
const FALSE_VALUES = ['false', '0', 'no', 'off', ''];

function describe(value: string): string {
  return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}...` : value);
}

/**
 * Reads the package's own env vars. Never throws: a bad value becomes a
 * problem line and the default is kept, so Twenty always boots.
 */
export function readConfigFromEnv(env: NodeJS.ProcessEnv = process.env): {
  config: TwentySseConfig;
  problems: ConfigProblem[];
} {
  const config: TwentySseConfig = { ...DEFAULT_CONFIG };
  const problems: ConfigProblem[] = [];

  const enabled = env[ENV.ENABLED];
  if (enabled !== undefined) {
    const normalized = enabled.trim().toLowerCase();
    if (TRUE_VALUES.includes(normalized)) config.enabled = true;
    else if (!FALSE_VALUES.includes(normalized)) {
      problems.push({
        variable: ENV.ENABLED,
        message: `${ENV.ENABLED}=${describe(enabled)} is not a boolean; use true or false. Instrumentation stays off.`,
      });
    }
  }

  const generation = env[ENV.GENERATION];
  if (generation !== undefined && generation.trim() !== '') {
    const normalized = generation.trim().toLowerCase();
    if (normalized === 'auto' || (GENERATIONS as readonly string[]).includes(normalized)) {
      config.generation = normalized as Generation | 'auto';
    } else {
      problems.push({
        variable: ENV.GENERATION,
        message: `${ENV.GENERATION}=${describe(generation)} is not a known generation; use auto, ${GENERATIONS.join(', ')}. Using auto.`,
      });
    }
  }

  const captureIds = env[ENV.CAPTURE_IDS];
  if (captureIds !== undefined && captureIds.trim() !== '') {
    const normalized = captureIds.trim().toLowerCase();
    if ((CAPTURE_IDS_MODES as readonly string[]).includes(normalized)) {
      config.captureIds = normalized as CaptureIdsMode;
    } else {
      problems.push({
        variable: ENV.CAPTURE_IDS,
        message: `${ENV.CAPTURE_IDS}=${describe(captureIds)} is not valid; use ${CAPTURE_IDS_MODES.join(', ')}. Using hashed.`,
      });
    }
  }

  return { config, problems };
}
