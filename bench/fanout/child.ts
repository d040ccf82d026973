import { type ChildProcess, spawn } from "node:child_process";

/** A message to or from a bench child process: `type` says what it is, the rest is its payload. */
export interface ChildMessage {
  type: string;
  [key: string]: unknown;
}

/**
 * A TypeScript child process (run through tsx) spoken to over Node's IPC channel: `request` sends a
 * message and resolves with the child's next message of the answering type. Children run apart from
 * the bench process so that each side's CPU and memory are its own.
 */
export class BenchChild {
  private readonly child: ChildProcess;
  private readonly waiting = new Map<string, { resolve(m: ChildMessage): void; reject(e: Error): void }>();
  private exited: Error | null = null;

  constructor(script: string, options: { nodeFlags?: string[]; env?: Record<string, string> } = {}) {
    this.child = spawn(process.execPath, [...(options.nodeFlags ?? []), "--import", "tsx", script], {
      stdio: ["ignore", "inherit", "inherit", "ipc"],
      env: { ...process.env, ...options.env },
    });
    this.child.on("message", (message: ChildMessage) => {
      if (message.type === "error") {
        for (const waiter of this.waiting.values()) waiter.reject(new Error(String(message.message)));
        this.waiting.clear();
        return;
      }
      const waiter = this.waiting.get(message.type);
      this.waiting.delete(message.type);
      waiter?.resolve(message);
    });
    this.child.on("exit", (code, signal) => {
      this.exited = new Error(`${script} exited (${code ?? signal})`);
      for (const waiter of this.waiting.values()) waiter.reject(this.exited);
      this.waiting.clear();
    });
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  /** The child's next message of type `answer` (sending `message` first, if any). */
  request<Answer extends ChildMessage>(
    answer: string,
    message: ChildMessage | null,
    timeoutMs = 120_000,
  ): Promise<Answer> {
    if (this.exited) return Promise.reject(this.exited);
    return new Promise<Answer>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiting.delete(answer);
        reject(new Error(`no ${answer} from the child within ${timeoutMs} ms`));
      }, timeoutMs);
      this.waiting.set(answer, {
        resolve: (m) => {
          clearTimeout(timer);
          resolve(m as Answer);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      });
      if (message) this.child.send(message);
    });
  }

  /** Asks the child to stop, and kills it if it has not within `graceMs`. */
  async stop(graceMs = 15_000): Promise<void> {
    if (this.exited) return;
    const exited = new Promise<void>((resolve) => this.child.once("exit", () => resolve()));
    this.child.send({ type: "stop" });
    const timer = setTimeout(() => this.child.kill("SIGKILL"), graceMs);
    await exited;
    clearTimeout(timer);
  }
}

/** In a child: answers each message with `handle`'s result; an exception goes back as `error`. */
export function serveParent(handle: (message: ChildMessage) => Promise<ChildMessage | null>): void {
  process.on("message", (message: ChildMessage) => {
    handle(message).then(
      (answer) => {
        if (answer) process.send?.(answer);
      },
      (error: unknown) => {
        process.send?.({ type: "error", message: error instanceof Error ? error.stack : String(error) });
      },
    );
  });
  // The parent went away (crashed bench): do not linger.
  process.on("disconnect", () => process.exit(1));
}
