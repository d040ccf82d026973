import { test } from "vitest";
import { EsdbEventStore } from "../../src/event-store/esdb/esdb-event-store.js";
import { kurrentDbTarget, targetLabel, useKurrentDb } from "../support/kurrentdb.js";
import { describeEventStoreContract } from "./contract.js";

/**
 * The shared contract on KurrentDB/EventStoreDB: against EVENTSTORE_URL when set (for example the
 * compose node: esdb://localhost:2113?tls=false), else in a container when Docker is reachable (see
 * test/support/kurrentdb.ts). The contract uses unique stream names per test, so a shared, long-lived
 * server works; nothing is deleted afterwards.
 */
const target = await kurrentDbTarget();

if (target.kind === "none") {
  test("KurrentDB contract suite", (context) => context.skip(target.reason));
} else {
  const url = useKurrentDb(target);
  describeEventStoreContract(
    `KurrentDB (${targetLabel(target)})`,
    async () => {
      const store = EsdbEventStore.connect(url());
      return { store, cleanup: () => store.close() };
    },
    { globallyUniqueEventIds: false },
  );
}
