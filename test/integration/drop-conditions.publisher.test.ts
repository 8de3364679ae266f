import { describeDropConditions } from './drop-conditions.shared';

describe('drop conditions, generation publisher (in process, real Nest, Redis when REDIS_URL is set)', () => {
  describeDropConditions('publisher');
});
