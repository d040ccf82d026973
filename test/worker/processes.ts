import { type ChildProcess, spawn } from "node:child_process";
import { setTimeout as sleep } from "node:timers/promises";

/** A `--worker-only` process of runstream, with its pino log lines parsed. */
export interface WorkerProcess {
  child: ChildProcess;
  logs: Record<string, unknown>[];
  /** Resolves with the worker id once the process logged "worker started". */
  ready: Promise<string>;
  exited: Promise<number | null>;
  kill(signal?: NodeJS.Signals): Promise<void>;
}

const spawned = new Set<WorkerProcess>();

/** Starts `node --import tsx src/main.ts --worker-only` (no tsx wrapper process, so kill -9 hits the worker itself). */
export function spawnWorker(databaseUrl: string, env: Record<string, string>): WorkerProcess {
  const child = spawn(process.execPath, ["--import", "tsx", "src/main.ts", "--worker-only"], {
    env: { ...process.env, NODE_ENV: "test", LOG_LEVEL: "info", ...env, DATABASE_URL: databaseUrl },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const logs: Record<string, unknown>[] = [];
  let buffered = "";
  let stderr = "";
  child.stdout?.on("data", (chunk: Buffer) => {
    buffered += chunk.toString("utf8");
    const lines = buffered.split("\n");
    buffered = lines.pop() ?? "";
    for (const line of lines) {
      try {
        logs.push(JSON.parse(line));
      } catch {
        // Not a log line.
      }
    }
  });
  child.stderr?.on("data", (chunk: Buffer) => {
    stderr += chunk.toString("utf8");
  });
  const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
  const ready = (async () => {
    for (;;) {
      const started = logs.find((line) => line.msg === "worker started");
      if (started) return String(started.workerId);
      if (child.exitCode !== null || child.signalCode !== null) {
        throw new Error(`worker exited before starting: ${stderr.slice(-2_000)}`);
      }
      await sleep(25);
    }
  })();
  const worker: WorkerProcess = {
    child,
    logs,
    ready,
    exited,
    async kill(signal = "SIGKILL") {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      await exited;
      spawned.delete(worker);
    },
  };
  spawned.add(worker);
  return worker;
}

/** Stops every worker still running (SIGTERM, then SIGKILL after a grace period). */
export async function stopAllWorkers(graceMs = 5_000): Promise<void> {
  await Promise.all(
    [...spawned].map(async (worker) => {
      const timer = setTimeout(() => worker.child.kill("SIGKILL"), graceMs);
      await worker.kill("SIGTERM");
      clearTimeout(timer);
    }),
  );
}
