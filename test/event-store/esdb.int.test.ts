import { test } from "vitest";
import { EsdbEventStore } from "../../src/event-store/esdb/esdb-event-store.js";
import { describeEventStoreContract } from "./contract.js";

/**
 * The shared contract on EventStoreDB/KurrentDB, when EVENTSTORE_URL names a server (for example the
 * one in docker-compose.yml: esdb://localhost:2113?tls=false). The contract uses unique stream names
 * per test, so a shared, long-lived server works; nothing is deleted afterwards.
 */
const url = process.env.EVENTSTORE_URL;

if (url) {
  describeEventStoreContract(
    `EventStoreDB (${new URL(url.replace(/^[a-z+]+:/, "http:")).host})`,
    async () => {
      const store = EsdbEventStore.connect(url);
      return { store, cleanup: () => store.close() };
    },
    { globallyUniqueEventIds: false },
  );
} else {
  test("EventStoreDB contract suite", (context) => context.skip("EVENTSTORE_URL is not set"));
}
