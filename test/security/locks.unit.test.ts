import { afterEach, describe, expect, it, vi } from "vitest";
import { RebuildLock } from "../../src/projections/rebuild-lock.js";
import { StreamReservations } from "../../src/streaming/stream-reservations.js";

describe("RebuildLock", () => {
  it("lets one rebuild per projection run, tells a second caller its progress, and frees on release", () => {
    const lock = new RebuildLock();
    const first = lock.claim(["runs"]);
    if ("busy" in first) throw new Error("the first claim must succeed");
    first.progress({ projection: "runs", replayed: 40, total: 100 });
    const second = lock.claim(["runs", "other"]);
    expect("busy" in second && second.busy).toEqual([
      expect.objectContaining({ projection: "runs", replayed: 40, total: 100 }),
    ]);
    // All or nothing: the refused claim took no projection either.
    expect(lock.status().map((running) => running.projection)).toEqual(["runs"]);
    first.release();
    expect(lock.status()).toEqual([]);
    expect("busy" in lock.claim(["runs"])).toBe(false);
  });
});

describe("StreamReservations", () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it("binds a reservation to its token and caps reservations per token", () => {
    const reservations = new StreamReservations(60_000, 2, () => {});
    const a1 = reservations.reserve("token-a") as string;
    expect(reservations.check(a1, "token-a")).toBe("ok");
    expect(reservations.check(a1, "token-b")).toBe("not-owner");
    expect(reservations.check("made-up", "token-a")).toBe("unknown");
    expect(reservations.reserve("token-a")).toEqual(expect.any(String));
    expect(reservations.reserve("token-a")).toBeNull();
    expect(reservations.reserve("token-b")).toEqual(expect.any(String));
    reservations.release(a1);
    expect(reservations.reserve("token-a")).toEqual(expect.any(String));
  });

  it("drops a reservation not connected within the TTL, keeps a connected one", () => {
    vi.useFakeTimers();
    const expired: string[] = [];
    const reservations = new StreamReservations(1_000, 5, (token) => expired.push(token));
    const idle = reservations.reserve("a") as string;
    const used = reservations.reserve("a") as string;
    reservations.connected(used);
    vi.advanceTimersByTime(1_001);
    expect(expired).toEqual([idle]);
    expect(reservations.check(idle, "a")).toBe("unknown");
    expect(reservations.check(used, "a")).toBe("ok");
    expect(reservations.countOf("a")).toBe(1);
  });
});
