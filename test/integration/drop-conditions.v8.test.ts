import { describeDropConditions } from './drop-conditions.shared';

describe('drop conditions, generation v8 (in process, real Nest, Redis when REDIS_URL is set)', () => {
  describeDropConditions('v8');
});
