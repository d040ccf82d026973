import { afterAll, beforeAll, inject } from "vitest";

/**
 * Where the KurrentDB (EventStoreDB) suites find a server, decided when their file is collected:
 * - `EVENTSTORE_URL` when the run was started with it (a server you run, or CI's service container);
 * - otherwise a throwaway container started with @testcontainers/kurrentdb, when a Docker engine is
 *   reachable (`KURRENTDB_IMAGE` picks the image, as in docker-compose.yml);
 * - otherwise nowhere: the suites report one skipped test that says why, unless
 *   `TEST_KURRENTDB=required` (CI's KurrentDB job), where that is a failure rather than a skip.
 */
export type KurrentDbTarget =
  | { kind: "server"; url: string }
  | { kind: "container"; image: string }
  | { kind: "none"; reason: string };

const DEFAULT_IMAGE = "docker.kurrent.io/kurrent-latest/kurrentdb:latest";
/** An image pull plus the node's start can take minutes on a cold machine. */
const CONTAINER_START_MS = 300_000;

export async function kurrentDbTarget(): Promise<KurrentDbTarget> {
  const target = await findTarget();
  if (target.kind === "none" && process.env.TEST_KURRENTDB === "required") {
    throw new Error(`TEST_KURRENTDB=required, but there is no KurrentDB: ${target.reason}`);
  }
  return target;
}

async function findTarget(): Promise<KurrentDbTarget> {
  const url = inject("eventStoreUrl");
  if (url) return { kind: "server", url };
  if (process.env.TEST_KURRENTDB === "off") return { kind: "none", reason: "TEST_KURRENTDB=off" };
  const { getContainerRuntimeClient } = await import("testcontainers");
  try {
    await getContainerRuntimeClient();
  } catch (error) {
    return {
      kind: "none",
      reason: `EVENTSTORE_URL is not set and no Docker engine is reachable (${(error as Error).message})`,
    };
  }
  return { kind: "container", image: process.env.KURRENTDB_IMAGE ?? DEFAULT_IMAGE };
}

/** A label for suite names: where the server is. */
export const targetLabel = (target: Exclude<KurrentDbTarget, { kind: "none" }>): string =>
  target.kind === "server"
    ? new URL(target.url.replace(/^[a-z+]+:/, "http:")).host
    : `container ${target.image.split("/").at(-1)}`;

/**
 * Registers hooks that start the container (or just use the server) before the file's tests and stop
 * it after; the returned function gives the connection string once they ran.
 */
export function useKurrentDb(target: Exclude<KurrentDbTarget, { kind: "none" }>): () => string {
  let url = target.kind === "server" ? target.url : "";
  let stop = async () => {};
  if (target.kind === "container") {
    beforeAll(async () => {
      const { KurrentDbContainer } = await import("@testcontainers/kurrentdb");
      const container = await new KurrentDbContainer(target.image).start();
      url = container.getConnectionString();
      stop = async () => {
        await container.stop();
      };
    }, CONTAINER_START_MS);
    afterAll(() => stop(), 60_000);
  }
  return () => {
    if (!url) throw new Error("KurrentDB is not started yet: call the getter inside hooks or tests");
    return url;
  };
}
