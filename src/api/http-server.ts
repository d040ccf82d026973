import type { AppContext } from "../app/app-context.js";

export interface RunningHttpServer {
  port: number;
  close(): Promise<void>;
}

// Placeholder until the API lands (issue 4).
export async function startHttpServer(_ctx: AppContext): Promise<RunningHttpServer> {
  throw new Error("the API is not built yet");
}
