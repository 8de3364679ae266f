import { bootstrapQueueWorker } from '../bootstrap';
import { readExampleConfigFromEnv } from '../example-config';

const main = async () => {
  const config = readExampleConfigFromEnv('worker');

  if (config.messageQueueType !== 'redis') {
    throw new Error('The queue worker needs REDIS_URL (MESSAGE_QUEUE_TYPE=redis)');
  }
  await bootstrapQueueWorker(config);
  // eslint-disable-next-line no-console
  console.log(`twenty-like queue worker (${config.generation}) consuming workflow-queue`);
};

main().catch((error) => {
  // eslint-disable-next-line no-console
  console.error(error);
  process.exit(1);
});
