import { readFile } from "node:fs/promises";

/**
 * A process named by its pid and its start time (clock ticks since boot, /proc/<pid>/stat field 22),
 * so that a pid reused by an unrelated process after a crash is not mistaken for the one recorded.
 */
export interface ProcessIdentity {
  pid: number;
  startTime: string;
}

async function statFields(pid: number): Promise<string[] | null> {
  const stat = await readFile(`/proc/${pid}/stat`, "utf8").catch(() => null);
  if (!stat) return null;
  // The command name (field 2) may hold spaces and parentheses: fields after it start past the last ')'.
  return stat.slice(stat.lastIndexOf(")") + 2).split(" ");
}

export async function identityOf(pid: number): Promise<ProcessIdentity | null> {
  const fields = await statFields(pid);
  // Field 22 of the whole line is index 19 once pid and command are cut off; field 3 (state) is index 0.
  return fields && fields[0] !== "Z" ? { pid, startTime: fields[19] ?? "" } : null;
}

export const currentProcess = async (): Promise<ProcessIdentity> =>
  (await identityOf(process.pid)) ?? { pid: process.pid, startTime: "" };

/** True only while the very process recorded runs (same pid and same start time, not a zombie). */
export async function isRunning(identity: ProcessIdentity): Promise<boolean> {
  const now = await identityOf(identity.pid);
  return now !== null && now.startTime === identity.startTime;
}

export const sameProcess = (a: ProcessIdentity, b: ProcessIdentity): boolean =>
  a.pid === b.pid && a.startTime === b.startTime;

export async function parentPid(pid: number): Promise<number | null> {
  const fields = await statFields(pid);
  return fields ? Number.parseInt(fields[1] ?? "", 10) : null;
}

export async function commandLine(pid: number): Promise<string> {
  return (await readFile(`/proc/${pid}/cmdline`, "utf8").catch(() => "")).replaceAll("\0", " ");
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
