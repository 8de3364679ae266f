import { bootstrapApiServer } from './bootstrap';
import { readExampleConfigFromEnv } from './example-config';
import { seedDemoWorkspaceIfAsked } from './seed/demo-workspace';

const main = async () => {
  const config = readExampleConfigFromEnv('server');
  const port = Number(process.env.PORT ?? 3000);
  // 0.0.0.0 in a container, so the published port reaches it.
  const host = process.env.EXAMPLE_HOST || '127.0.0.1';
  const app = await bootstrapApiServer(config, { port, host });

  console.log(
    `twenty-like API server (${config.generation}, queue ${config.messageQueueType}) on http://${host}:${port}/metadata`,
  );
  await seedDemoWorkspaceIfAsked(app);
};

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
