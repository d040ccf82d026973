import { PrismaPg } from "@prisma/adapter-pg";
import { PrismaClient } from "../generated/prisma/client.js";

export type { PrismaClient };

export function createPrismaClient(databaseUrl: string, maxConnections = 10): PrismaClient {
  const adapter = new PrismaPg({
    connectionString: databaseUrl,
    max: maxConnections,
    // A database that does not answer fails a request within seconds instead of hanging it.
    connectionTimeoutMillis: 5_000,
  });
  return new PrismaClient({ adapter });
}
