import { bootstrapQueueWorker } from '../bootstrap';
import { readExampleConfigFromEnv } from '../example-config';

const main = async () => {
  const config = readExampleConfigFromEnv('worker');

  if (config.messageQueueType !== 'redis') {
    throw new Error('The queue worker needs REDIS_URL (MESSAGE_QUEUE_TYPE=redis)');
  }
  await bootstrapQueueWorker(config);
  console.log(`twenty-like queue worker (${config.generation}) consuming workflow-queue`);
};

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
