import { describeDropConditions } from './drop-conditions.shared';

describe('drop conditions, generation record_access (in process, real Nest, Redis when REDIS_URL is set)', () => {
  describeDropConditions('record_access');
});
