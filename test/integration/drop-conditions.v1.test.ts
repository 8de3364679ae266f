import { describeDropConditions } from './drop-conditions.shared';

describe('drop conditions, generation v1 (in process, real Nest, Redis when REDIS_URL is set)', () => {
  describeDropConditions('v1');
});
