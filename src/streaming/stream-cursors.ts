import type { Plugin } from "graphql-yoga";

/**
 * The cursor of the event a subscription just resolved, by GraphQL context (one per operation). The
 * resolver records it; the plugin below copies it into that result's `extensions.cursor`, where
 * every client sees it whatever it selected, and the SSE result processor writes it as the `id:` line.
 */
const cursors = new WeakMap<object, { cursor: string | null }>();

export function recordCursor(context: object, cursor: string | null): void {
  const slot = cursors.get(context);
  if (slot) slot.cursor = cursor;
  else cursors.set(context, { cursor });
}

export const useStreamCursors = (): Plugin => ({
  onSubscribe({ args }) {
    const context = args.contextValue as object;
    return {
      onSubscribeResult() {
        return {
          onNext({ result, setResult }) {
            const slot = cursors.get(context);
            if (!slot) return;
            const cursor = slot.cursor;
            slot.cursor = null;
            if (cursor !== null) setResult({ ...result, extensions: { ...result.extensions, cursor } });
          },
        };
      },
    };
  },
});

export const cursorOfResult = (result: unknown): string | null => {
  const cursor = (result as { extensions?: { cursor?: unknown } } | null)?.extensions?.cursor;
  return typeof cursor === "string" ? cursor : null;
};
