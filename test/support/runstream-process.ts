import { type ChildProcess, spawn } from "node:child_process";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";

/**
 * runstream started as a user starts it: what `npm start` / `npm run admin` run, the code compiled
 * into .build/ by scripts/build.mjs (so a test sees what only the compiled layout breaks: module URLs
 * of step threads and pipelines, paths found from a module's own file), from any working directory,
 * with its JSON log lines parsed. Nothing is inherited from the test's own database settings: without
 * DATABASE_URL in `env`, the process takes the embedded default path.
 */
export const ROOT = fileURLToPath(new URL("../..", import.meta.url));

let built: Promise<void> | undefined;
/** Runs scripts/build.mjs once per test process, as the npm scripts do before they start. */
function buildOnce(): Promise<void> {
  built ??= new Promise<void>((resolve, reject) => {
    const build = spawn(process.execPath, [`${ROOT}/scripts/build.mjs`], { cwd: ROOT, stdio: "inherit" });
    build.on("exit", (code) =>
      code === 0 ? resolve() : reject(new Error(`scripts/build.mjs exited ${code}`)),
    );
  });
  return built;
}

export interface RunstreamProcess {
  child: ChildProcess;
  pid: number;
  logs: Record<string, unknown>[];
  stdout(): string;
  stderr(): string;
  /** Resolves with the first log line whose msg matches; rejects when the process exits first. */
  waitForLog(msg: string | RegExp, timeoutMs?: number): Promise<Record<string, unknown>>;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  kill(signal?: NodeJS.Signals): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

const started = new Set<RunstreamProcess>();

export interface SpawnOptions {
  cwd: string;
  env?: Record<string, string>;
}

/** `script` is the source, relative to the repository: "src/main.ts" or "src/admin/cli.ts". */
export async function spawnRunstream(
  script: string,
  args: string[],
  options: SpawnOptions,
): Promise<RunstreamProcess> {
  await buildOnce();
  const compiled = script.replace(/^src\//, ".build/").replace(/\.ts$/, ".js");
  const env: Record<string, string | undefined> = { ...process.env, LOG_LEVEL: "info", ...options.env };
  if (!options.env?.DATABASE_URL) delete env.DATABASE_URL;
  if (!options.env?.DATA_DIR) delete env.DATA_DIR;
  const child = spawn(process.execPath, ["--enable-source-maps", `${ROOT}/${compiled}`, ...args], {
    cwd: options.cwd,
    env,
    stdio: ["ignore", "pipe", "pipe"],
  });
  const logs: Record<string, unknown>[] = [];
  let out = "";
  let err = "";
  let partial = "";
  child.stdout?.on("data", (chunk: Buffer) => {
    out += chunk;
    partial += chunk;
    const lines = partial.split("\n");
    partial = lines.pop() ?? "";
    for (const line of lines) {
      if (!line.startsWith("{")) continue;
      try {
        logs.push(JSON.parse(line));
      } catch {
        // Not a log line.
      }
    }
  });
  child.stderr?.on("data", (chunk: Buffer) => {
    err += chunk;
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on("exit", (code, signal) => resolve({ code, signal })),
  );
  const proc: RunstreamProcess = {
    child,
    pid: child.pid as number,
    logs,
    stdout: () => out,
    stderr: () => err,
    async waitForLog(msg, timeoutMs = 60_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const line = logs.find((candidate) =>
          typeof msg === "string" ? candidate.msg === msg : msg.test(String(candidate.msg)),
        );
        if (line) return line;
        if (child.exitCode !== null || child.signalCode !== null) {
          throw new Error(
            `${script} exited (${child.exitCode ?? child.signalCode}) before "${msg}": ${err.slice(-2_000)}${out.slice(-2_000)}`,
          );
        }
        if (Date.now() > deadline)
          throw new Error(`timed out waiting for "${msg}" from ${script}: ${err.slice(-2_000)}`);
        await sleep(25);
      }
    },
    exited,
    async kill(signal = "SIGKILL") {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      const result = await exited;
      started.delete(proc);
      return result;
    },
  };
  started.add(proc);
  return proc;
}

/** Kills (SIGKILL) every process spawned here that is still running. */
export async function killAllRunstreamProcesses(): Promise<void> {
  await Promise.all([...started].map((proc) => proc.kill("SIGKILL")));
}
