import { randomUUID } from "node:crypto";

interface Reservation {
  /** The API token (its id) that made the reservation: the only one that may use it. */
  ownerTokenId: string;
  connected: boolean;
  expiry: NodeJS.Timeout | undefined;
}

export type ReservationCheck = "ok" | "unknown" | "not-owner";

/**
 * Single-connection stream reservations (graphql-sse's PUT /graphql/stream) and who owns them. A
 * reservation belongs to the API token that made it: every later request naming it (the GET that
 * connects, each POST adding an operation, each DELETE) must come from the same token. One that is not
 * connected within `ttlMs` is dropped (`onExpired` frees the library's side), and a token holds at most
 * `maxPerToken` reservations (connected or not) at once.
 */
export class StreamReservations {
  private readonly reservations = new Map<string, Reservation>();
  private readonly perToken = new Map<string, number>();

  constructor(
    private readonly ttlMs: number,
    private readonly maxPerToken: number,
    private readonly onExpired: (streamToken: string) => void,
  ) {}

  /** A new, unguessable stream token owned by `ownerTokenId`; null when the token has too many. */
  reserve(ownerTokenId: string): string | null {
    const count = this.perToken.get(ownerTokenId) ?? 0;
    if (count >= this.maxPerToken) return null;
    const streamToken = randomUUID();
    const expiry = setTimeout(() => {
      if (this.reservations.get(streamToken)?.connected === false) {
        this.release(streamToken);
        this.onExpired(streamToken);
      }
    }, this.ttlMs).unref();
    this.reservations.set(streamToken, { ownerTokenId, connected: false, expiry });
    this.perToken.set(ownerTokenId, count + 1);
    return streamToken;
  }

  check(streamToken: string, callerTokenId: string): ReservationCheck {
    const reservation = this.reservations.get(streamToken);
    if (!reservation) return "unknown";
    return reservation.ownerTokenId === callerTokenId ? "ok" : "not-owner";
  }

  /** The owner's GET connected: the reservation no longer expires (it ends with its stream). */
  connected(streamToken: string): void {
    const reservation = this.reservations.get(streamToken);
    if (!reservation) return;
    reservation.connected = true;
    clearTimeout(reservation.expiry);
  }

  /** The stream ended or expired: it no longer counts against its token. */
  release(streamToken: string): void {
    const reservation = this.reservations.get(streamToken);
    if (!reservation) return;
    clearTimeout(reservation.expiry);
    this.reservations.delete(streamToken);
    const left = (this.perToken.get(reservation.ownerTokenId) ?? 1) - 1;
    if (left > 0) this.perToken.set(reservation.ownerTokenId, left);
    else this.perToken.delete(reservation.ownerTokenId);
  }

  get size(): number {
    return this.reservations.size;
  }

  /** Reservations of one token (for tests and metrics). */
  countOf(ownerTokenId: string): number {
    return this.perToken.get(ownerTokenId) ?? 0;
  }
}
