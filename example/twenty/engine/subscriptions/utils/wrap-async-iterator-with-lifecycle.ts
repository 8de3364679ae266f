type AsyncIteratorLifecycleOptions<T> = {
  initialValue?: T;
  onHeartbeat?: () => Promise<boolean>;
  heartbeatIntervalMs?: number;
  onCleanup?: () => Promise<void>;
};

// Yields `initialValue` first, starts the heartbeat on the first `next()`,
// and runs the cleanup exactly once on done, error, return() or throw().
export function wrapAsyncIteratorWithLifecycle<T>(
  iterator: AsyncIterator<T>,
  options: AsyncIteratorLifecycleOptions<T>,
): AsyncIterableIterator<T> {
  const { initialValue, onHeartbeat, heartbeatIntervalMs, onCleanup } = options;
  let heartbeatTimer: NodeJS.Timeout | null = null;
  let initialValuePending = initialValue !== undefined;
  let cleanedUp = false;

  const startHeartbeat = () => {
    if (heartbeatTimer || !onHeartbeat || !heartbeatIntervalMs) {
      return;
    }
    // A failed heartbeat must not end the stream.
    heartbeatTimer = setInterval(() => void onHeartbeat().catch(() => undefined), heartbeatIntervalMs);
    heartbeatTimer.unref?.();
  };

  const cleanup = async () => {
    if (heartbeatTimer) {
      clearInterval(heartbeatTimer);
      heartbeatTimer = null;
    }
    if (cleanedUp) {
      return;
    }
    cleanedUp = true;
    await onCleanup?.();
  };

  return {
    async next() {
      startHeartbeat();

      if (initialValuePending) {
        initialValuePending = false;

        return { done: false, value: initialValue as T };
      }

      let result: IteratorResult<T>;

      try {
        result = await iterator.next();
      } catch (error) {
        await cleanup();
        throw error;
      }

      if (result.done) {
        await cleanup();
      }

      return result;
    },
    async return() {
      let cleanupError: unknown;

      try {
        await cleanup();
      } catch (error) {
        cleanupError = error;
      }

      const result: IteratorResult<T> = (await iterator.return?.()) ?? {
        done: true,
        value: undefined,
      };

      if (cleanupError !== undefined) {
        throw cleanupError;
      }

      return result;
    },
    async throw(error?: unknown) {
      await cleanup();
      if (iterator.throw) {
        return iterator.throw(error);
      }
      throw error;
    },
    [Symbol.asyncIterator]() {
      return this;
    },
  };
}
