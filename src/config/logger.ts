import { type Logger, pino } from "pino";

export type { Logger };

export function createLogger(level: string, name = "runstream"): Logger {
  return pino({ name, level, base: { pid: process.pid } });
}
