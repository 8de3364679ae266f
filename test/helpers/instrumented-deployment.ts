import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { startTwentyLikeApp, type TwentyLikeApp } from '../../example/harness';
import { OtlpReceiver } from './otlp-receiver';
import {
  type AppBuild,
  type Deployment,
  type Generation,
  redisUrlWithDb,
  startDeployment,
  stopAllProcesses,
} from './processes';

export interface InstrumentedDeployment {
  /** Receives the OTLP/HTTP export of both processes. */
  receiver: OtlpReceiver;
  redisUrl: string;
  /** Set once beforeAll ran. */
  deployment?: Deployment;
  /** A client of the deployment (seeds, mutates, opens SSE streams); set once beforeAll ran. */
  client?: TwentyLikeApp;
}

/**
 * For one describe block: the two example processes (API server and queue
 * worker), both with the register entry, on the generation's own Redis
 * database, exporting to a local OTLP receiver; plus a client. Torn down after
 * the block.
 */
export function useInstrumentedDeployment({
  generation,
  db,
  tmpPrefix,
  otelEnv,
  build = {},
}: {
  generation: Generation;
  db: number;
  tmpPrefix: string;
  otelEnv?: Record<string, string>;
  /** Nest major and module system of the example app (Nest 11, CommonJS by default). */
  build?: AppBuild;
}): InstrumentedDeployment {
  const state: InstrumentedDeployment = { receiver: new OtlpReceiver(), redisUrl: redisUrlWithDb(db) };

  beforeAll(async () => {
    const endpoint = await state.receiver.start();
    const groundTruthFile = join(mkdtempSync(join(tmpdir(), tmpPrefix)), 'ground-truth.jsonl');
    const deployment = await startDeployment({
      generation,
      redisUrl: state.redisUrl,
      otlpEndpoint: endpoint,
      instrumentServer: true,
      instrumentWorker: true,
      groundTruthFile,
      ...build,
      ...(otelEnv ? { otelEnv } : {}),
    });
    state.deployment = deployment;
    state.client = await startTwentyLikeApp({
      generation,
      mode: 'client',
      url: deployment.url,
      redisUrl: state.redisUrl,
      groundTruthFile,
    });
  });

  afterAll(async () => {
    await state.client?.close().catch(() => undefined);
    await state.deployment?.stop();
    await stopAllProcesses();
    await state.receiver.stop();
  });

  return state;
}
