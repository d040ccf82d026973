import { type DestinationStream, type Logger, pino } from "pino";
import pretty from "pino-pretty";
import { REDACTED, redactSecrets } from "./redact.js";

export type { Logger };

/**
 * Every logger of the process: structured secrets are censored by path, and every written line is
 * scrubbed. Readable lines on a terminal (pino-pretty), JSON lines everywhere else.
 */
export function createLogger(level: string, name = "runstream", destination?: DestinationStream): Logger {
  const options = {
    name,
    level,
    base: { pid: process.pid },
    redact: {
      paths: [
        "authorization",
        "*.authorization",
        "headers.authorization",
        "*.headers.authorization",
        "secret",
      ],
      censor: REDACTED,
    },
    hooks: { streamWrite: redactSecrets },
  };
  if (destination) return pino(options, destination);
  if (!process.stdout.isTTY) return pino(options);
  const terminal = pretty({
    sync: true,
    colorize: true,
    singleLine: true,
    ignore: "pid,hostname,name",
    translateTime: "SYS:HH:MM:ss.l",
  });
  return pino(options, terminal);
}
