import { type Logger, pino } from "pino";
import pretty from "pino-pretty";

export type { Logger };

/** Readable lines on a terminal, JSON lines (one object per line) everywhere else. */
export function createLogger(level: string, name = "runstream"): Logger {
  const options = { name, level, base: { pid: process.pid } };
  if (!process.stdout.isTTY) return pino(options);
  return pino(
    options,
    pretty({
      sync: true,
      colorize: true,
      singleLine: true,
      ignore: "pid,hostname,name",
      translateTime: "SYS:HH:MM:ss.l",
    }),
  );
}
