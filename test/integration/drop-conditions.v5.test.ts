import { describeDropConditions } from './drop-conditions.shared';

describe('drop conditions, generation v5 (in process, real Nest, Redis when REDIS_URL is set)', () => {
  describeDropConditions('v5');
});
