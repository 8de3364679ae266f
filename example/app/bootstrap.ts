import 'reflect-metadata';

import { type INestApplication, type INestApplicationContext, type LogLevel } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { type NestExpressApplication } from '@nestjs/platform-express';

import { AuthTokenService } from '../twenty/engine/core-modules/auth/auth-token.service';

import { AppModule } from './app.module';
import { type ExampleConfig } from './example-config';
import { QueueWorkerModule } from './queue-worker/queue-worker.module';

const loggerLevels = (): LogLevel[] | false =>
  process.env.EXAMPLE_LOG_LEVELS === 'none'
    ? false
    : ((process.env.EXAMPLE_LOG_LEVELS ?? 'error,warn').split(',') as LogLevel[]);

// Twenty's main.ts: NestFactory.create(AppModule) then listen.
export const bootstrapApiServer = async (
  config: ExampleConfig,
  { port, host = '127.0.0.1' }: { port: number; host?: string },
): Promise<INestApplication> => {
  const app = await NestFactory.create<NestExpressApplication>(AppModule.forRoot(config), {
    logger: loggerLevels(),
    bufferLogs: false,
  });

  app.enableShutdownHooks();
  // Before init, so it runs ahead of the Yoga handler the GraphQL module mounts.
  app.use(app.get(AuthTokenService).createMiddleware());
  await app.listen(port, host);

  return app;
};

// Twenty's queue-worker.ts: an application context, no HTTP. Also used for the
// `client` context, whose config keeps the job consumers out.
export const bootstrapQueueWorker = async (config: ExampleConfig): Promise<INestApplicationContext> => {
  const app = await NestFactory.createApplicationContext(QueueWorkerModule.forRoot(config), {
    logger: loggerLevels(),
  });

  app.enableShutdownHooks();
  await app.init();

  return app;
};
