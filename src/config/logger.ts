import { type DestinationStream, type Logger, pino } from "pino";
import { REDACTED, redactSecrets } from "./redact.js";

export type { Logger };

/** Every logger of the process: structured secrets are censored by path, and every written line is scrubbed. */
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
  return destination ? pino(options, destination) : pino(options);
}
