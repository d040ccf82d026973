import type { RebuildProgress } from "./rebuild.js";

/** A rebuild running in this process: who asked, since when, and how far it got. */
export interface RunningRebuild {
  projection: string;
  startedAt: Date;
  replayed: number;
  total: number;
}

export interface RebuildClaim {
  /** Records progress reported by the rebuild (see rebuildProjections' onProgress). */
  progress(progress: RebuildProgress): void;
  release(): void;
}

/**
 * One rebuild at a time per projection (in this process): a second caller is told at once that it is
 * running, with its progress, instead of queueing another multi-second, memory-heavy replay behind it.
 * (Across processes rebuild.ts serialises with an advisory lock; there a second caller waits.)
 */
export class RebuildLock {
  private readonly running = new Map<string, RunningRebuild>();

  /** Claims every projection named, or none: the rebuilds already running among them. */
  claim(projections: readonly string[]): RebuildClaim | { busy: RunningRebuild[] } {
    const busy = projections.flatMap((name) => {
      const running = this.running.get(name);
      return running ? [{ ...running }] : [];
    });
    if (busy.length > 0) return { busy };
    const startedAt = new Date();
    const mine = projections.map((projection) => ({ projection, startedAt, replayed: 0, total: 0 }));
    for (const entry of mine) this.running.set(entry.projection, entry);
    return {
      progress: ({ projection, replayed, total }) => {
        const entry = mine.find((candidate) => candidate.projection === projection);
        if (entry) Object.assign(entry, { replayed, total });
      },
      release: () => {
        for (const entry of mine)
          if (this.running.get(entry.projection) === entry) this.running.delete(entry.projection);
      },
    };
  }

  status(): RunningRebuild[] {
    return [...this.running.values()].map((entry) => ({ ...entry }));
  }
}

/** The process's rebuilds (the API's mutation; the CLI runs in a process of its own). */
export const rebuildLock = new RebuildLock();
