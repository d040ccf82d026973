/**
 * An async iterator over `produce(signal)` whose `return()` aborts `signal` at once. A generator
 * parked in an `await` only sees `return()` after that await settles; aborting first makes every
 * wait in it end now. Needed where the request's own signal never fires (single-connection SSE,
 * whose operations arrive on a POST that already got its 202).
 */
export function closableStream<T>(
  produce: (signal: AbortSignal) => AsyncGenerator<T>,
  parent?: AbortSignal,
): AsyncGenerator<T> {
  const controller = new AbortController();
  const onParentAbort = () => controller.abort();
  parent?.addEventListener("abort", onParentAbort, { once: true });
  if (parent?.aborted) controller.abort();
  const inner = produce(controller.signal);
  const close = () => {
    parent?.removeEventListener("abort", onParentAbort);
    controller.abort();
  };
  const stream: AsyncGenerator<T> = {
    next: async (...args) => {
      const result = await inner.next(...args);
      if (result.done) close();
      return result;
    },
    return: async (value) => {
      close();
      return inner.return(value as T);
    },
    throw: async (error) => {
      close();
      return inner.throw(error);
    },
    [Symbol.asyncIterator]() {
      return stream;
    },
  };
  return stream;
}
