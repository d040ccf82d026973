import { PostgresEventStore } from "../../src/event-store/postgres/postgres-event-store.js";
import { createTestDatabase, serverUrl } from "../support/database.js";
import { describeEventStoreContract } from "./contract.js";

/** The contract on a fresh database, with a short poll interval so fallbacks show up in seconds. */
async function openOn(adminUrl?: string) {
  const db = await createTestDatabase(adminUrl);
  const store = await PostgresEventStore.create(db.pool, { pollIntervalMs: 200 });
  return {
    store,
    async cleanup() {
      await store.close();
      await db.drop();
    },
  };
}

/** `serverUrl()` names a database on the machine's server; its `postgres` database is the admin one. */
function serverAdminUrl(url: string): string {
  const admin = new URL(url);
  admin.pathname = "/postgres";
  if (!admin.username) admin.username = "postgres";
  return admin.toString();
}

describeEventStoreContract("PostgreSQL (embedded)", () => openOn());

const server = serverUrl();
if (server) describeEventStoreContract("PostgreSQL (server)", () => openOn(serverAdminUrl(server)));
