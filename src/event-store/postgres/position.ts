/**
 * A global position is (transaction id, sequence number). Encoded as two fixed-width hex numbers so
 * that comparing the strings compares the positions, and callers can treat it as opaque.
 */
export interface PgPosition {
  transactionId: bigint;
  seq: bigint;
}

const WIDTH = 16;
const MAX_BIGINT = 2n ** 63n - 1n;

export function encodePosition(transactionId: bigint | string, seq: bigint | string | number): string {
  const hex = (value: bigint) => value.toString(16).padStart(WIDTH, "0");
  return `${hex(BigInt(transactionId))}-${hex(BigInt(seq))}`;
}

export class InvalidPositionError extends Error {
  override name = "InvalidPositionError";
}

export function decodePosition(position: string): PgPosition {
  const match = /^([0-9a-f]{16})-([0-9a-f]{16})$/.exec(position);
  if (!match?.[1] || !match[2]) throw new InvalidPositionError(`not a position: ${JSON.stringify(position)}`);
  const decoded = { transactionId: BigInt(`0x${match[1]}`), seq: BigInt(`0x${match[2]}`) };
  // Both parts are PostgreSQL bigints: a larger one is no position the store could ever have written.
  if (decoded.transactionId > MAX_BIGINT || decoded.seq > MAX_BIGINT) {
    throw new InvalidPositionError(`position out of range: ${match[0]}`);
  }
  return decoded;
}

export const START_POSITION: PgPosition = { transactionId: 0n, seq: 0n };
