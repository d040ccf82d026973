import { AsyncLocalStorage } from "node:async_hooks";

/** What one HTTP request carries through everything it calls, for its log line and its errors. */
export interface RequestScope {
  requestId: string;
  operationName: string | null;
  /** Unexpected (masked) errors the request met. */
  unexpectedErrors: number;
}

const storage = new AsyncLocalStorage<RequestScope>();

export const runInRequestScope = <T>(scope: RequestScope, fn: () => T): T => storage.run(scope, fn);

/** The current request's scope; undefined outside a request (e.g. in a script building the schema). */
export const currentRequestScope = (): RequestScope | undefined => storage.getStore();
