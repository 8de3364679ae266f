import { PubSub } from 'graphql-subscriptions';

// Stand-in for RedisPubSub when no REDIS_URL is set. It round-trips every
// payload through JSON like RedisPubSub does, so Dates become strings and
// extra properties on arrays are lost exactly as they would be over Redis.
export class InMemoryPubSub extends PubSub {
  private readonly subscriberCounts = new Map<string, number>();

  override publish(triggerName: string, payload: unknown): Promise<void> {
    return super.publish(triggerName, JSON.parse(JSON.stringify(payload ?? null)));
  }

  override subscribe(triggerName: string, onMessage: (...args: unknown[]) => void): Promise<number> {
    this.subscriberCounts.set(triggerName, this.countSubscribers(triggerName) + 1);

    return super.subscribe(triggerName, onMessage).then((subId) => {
      this.triggerBySubId.set(subId, triggerName);

      return subId;
    });
  }

  override unsubscribe(subId: number): void {
    const triggerName = this.triggerBySubId.get(subId);

    if (triggerName) {
      this.subscriberCounts.set(triggerName, Math.max(0, this.countSubscribers(triggerName) - 1));
      this.triggerBySubId.delete(subId);
    }
    super.unsubscribe(subId);
  }

  countSubscribers(triggerName: string): number {
    return this.subscriberCounts.get(triggerName) ?? 0;
  }

  private readonly triggerBySubId = new Map<number, string>();
}
