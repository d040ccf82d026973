import net from "node:net";

/**
 * A TCP proxy in front of PostgreSQL that a test can break: `down()` cuts every open connection and
 * refuses new ones (the database is "gone" for whatever uses the proxy), `up()` lets them through
 * again. Only the code under test goes through it, so other test files on the same server are untouched.
 */
export interface FaultyProxy {
  port: number;
  /** `url` with host and port replaced by the proxy's. */
  urlFor(url: string): string;
  down(): Promise<void>;
  up(): Promise<void>;
  readonly connections: number;
  close(): Promise<void>;
}

export async function startFaultyProxy(targetHost: string, targetPort: number): Promise<FaultyProxy> {
  const sockets = new Set<net.Socket>();
  let server: net.Server;
  let port = 0;
  let isUp = false;

  const listen = () =>
    new Promise<void>((resolve, reject) => {
      server = net.createServer((client) => {
        const upstream = net.connect(targetPort, targetHost);
        for (const socket of [client, upstream]) {
          sockets.add(socket);
          socket.on("close", () => sockets.delete(socket));
          socket.on("error", () => undefined);
        }
        client.pipe(upstream).pipe(client);
        client.on("close", () => upstream.destroy());
        upstream.on("close", () => client.destroy());
      });
      server.once("error", reject);
      server.listen(port, "127.0.0.1", () => {
        port = (server.address() as net.AddressInfo).port;
        isUp = true;
        resolve();
      });
    });
  const stopListening = () =>
    new Promise<void>((resolve) => {
      isUp = false;
      server.close(() => resolve());
      for (const socket of sockets) socket.destroy();
    });

  await listen();
  return {
    get port() {
      return port;
    },
    get connections() {
      return sockets.size / 2;
    },
    urlFor(url) {
      const parsed = new URL(url);
      parsed.host = `127.0.0.1:${port}`;
      return parsed.toString();
    },
    down: () => (isUp ? stopListening() : Promise.resolve()),
    up: () => (isUp ? Promise.resolve() : listen()),
    close: () => (isUp ? stopListening() : Promise.resolve()),
  };
}
