import type { AppContext } from "../app/app-context.js";

export interface RunningWorker {
  id: string;
  stop(): Promise<void>;
}

// Placeholder until the worker lands (issue 6).
export async function startWorker(ctx: AppContext): Promise<RunningWorker> {
  ctx.logger.warn("the worker is not built yet");
  return { id: "none", stop: async () => undefined };
}
