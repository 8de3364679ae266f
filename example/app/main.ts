import { bootstrapApiServer } from './bootstrap';
import { readExampleConfigFromEnv } from './example-config';
import { seedDemoWorkspaceIfAsked } from './seed/demo-workspace';

const main = async () => {
  const config = readExampleConfigFromEnv('server');
  const port = Number(process.env.PORT ?? 3000);
  const app = await bootstrapApiServer(config, { port });

  // eslint-disable-next-line no-console
  console.log(
    `twenty-like API server (${config.generation}, queue ${config.messageQueueType}) on http://127.0.0.1:${port}/metadata`,
  );
  await seedDemoWorkspaceIfAsked(app);
};

main().catch((error) => {
  // eslint-disable-next-line no-console
  console.error(error);
  process.exit(1);
});
