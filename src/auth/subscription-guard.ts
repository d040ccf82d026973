import type { ExecutionResult } from "graphql";
import { isAsyncIterable, type Plugin } from "graphql-yoga";
import type pg from "pg";
import type { GraphQLContext } from "../api/context.js";
import type { AppContext } from "../app/app-context.js";
import type { Logger } from "../config/logger.js";
import { tooManySubscriptions, unauthenticated } from "./auth-errors.js";
import { invalidTokenIds } from "./token-store.js";

type Stream = AsyncIterableIterator<ExecutionResult>;

/**
 * Open subscriptions per API token: at most `maxPerToken` at once (in this process), and each ends
 * with UNAUTHENTICATED within `recheckMs` once its token is revoked. One query per tick checks the
 * tokens of all open streams together, whatever their number.
 */
export class SubscriptionGuard {
  private readonly open = new Map<string, Set<() => void>>();
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly pool: pg.Pool,
    private readonly logger: Logger,
    private readonly maxPerToken: number,
    private readonly recheckMs: number,
  ) {}

  /**
   * Registers a stream of the token; null when the token already has the most allowed. Returns how
   * to leave. Used by `guard` and by delivery paths that hold no iterator (the SSE fan-out).
   */
  hold(tokenId: string, onRevoked: () => void): (() => void) | null {
    let streams = this.open.get(tokenId);
    if ((streams?.size ?? 0) >= this.maxPerToken) return null;
    if (!streams) {
      streams = new Set();
      this.open.set(tokenId, streams);
    }
    streams.add(onRevoked);
    this.timer ??= setInterval(() => void this.recheck(), this.recheckMs).unref();
    return () => {
      streams.delete(onRevoked);
      if (streams.size === 0 && this.open.get(tokenId) === streams) this.open.delete(tokenId);
      if (this.open.size === 0) this.stop();
    };
  }

  private async recheck(): Promise<void> {
    let invalid: string[];
    try {
      invalid = await invalidTokenIds(this.pool, [...this.open.keys()]);
    } catch (error) {
      // A database outage does not end the streams: they are checked again on the next tick.
      this.logger.warn({ err: error }, "could not re-check the tokens of open streams");
      return;
    }
    for (const tokenId of invalid) for (const revoke of [...(this.open.get(tokenId) ?? [])]) revoke();
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  /**
   * The stream, counted against its token and ended when the token is revoked; or the refusal. Its
   * slot is given back when it ends, is returned, or `signal` (its request's) aborts, whichever comes
   * first: a client gone before anyone pulled or returned the stream (Yoga sends nothing to a
   * response already closed, so nobody ever does) must not hold a slot until the process ends.
   */
  guard(tokenId: string, inner: Stream, signal?: AbortSignal): Stream | ExecutionResult {
    let revoke = () => {};
    const revoked = new Promise<"revoked">((resolve) => {
      revoke = () => resolve("revoked");
    });
    const leave = this.hold(tokenId, () => revoke());
    if (!leave) {
      void inner.return?.();
      return { errors: [tooManySubscriptions(this.maxPerToken)] };
    }
    let finished = false;
    const finish = () => {
      if (finished) return;
      finished = true;
      signal?.removeEventListener("abort", clientGone);
      leave();
    };
    const clientGone = () => {
      finish();
      void inner.return?.();
    };
    if (signal?.aborted) clientGone();
    else signal?.addEventListener("abort", clientGone, { once: true });
    const stream: Stream = {
      async next() {
        if (finished) return { done: true, value: undefined };
        const next = await Promise.race([inner.next(), revoked]);
        if (next === "revoked") {
          finish();
          void inner.return?.();
          return { done: false, value: { errors: [unauthenticated("The API token was revoked.")] } };
        }
        if (next.done) finish();
        return next;
      },
      async return(value) {
        finish();
        await inner.return?.(value);
        return { done: true, value: undefined };
      },
      async throw(error) {
        finish();
        if (inner.throw) return inner.throw(error);
        throw error;
      },
      [Symbol.asyncIterator]() {
        return stream;
      },
    };
    return stream;
  }
}

const guards = new WeakMap<AppContext, SubscriptionGuard>();

/** The process's one guard per application context (the API's plugins and the SSE fan-out share it). */
export function subscriptionGuardFor(app: AppContext): SubscriptionGuard {
  let guard = guards.get(app);
  if (!guard) {
    guard = new SubscriptionGuard(
      app.db.pool,
      app.logger.child({ component: "auth" }),
      app.config.MAX_SUBSCRIPTIONS_PER_TOKEN,
      app.config.AUTH_RECHECK_MS,
    );
    guards.set(app, guard);
  }
  return guard;
}

export const useSubscriptionGuard = (guard: SubscriptionGuard): Plugin<GraphQLContext> => ({
  onSubscribe() {
    return {
      onSubscribeResult({ args, result, setResult }) {
        if (!isAsyncIterable(result)) return;
        const { caller, request } = args.contextValue;
        setResult(guard.guard(caller.tokenId, result as Stream, request?.signal));
      },
    };
  },
});
