import { InvalidPositionError } from "../event-store.js";

/**
 * A global position is the event's number in the log (1, 2, 3, ...), assigned by the store in commit
 * order (see docs/global-log.md). It goes out as 16 fixed-width hex digits, so that comparing the
 * strings compares the positions and callers can treat them as opaque.
 */
const WIDTH = 16;
const MAX_POSITION = (1n << 63n) - 1n;

/** Position "before the first event": reading after it reads everything. */
export const START_POSITION = 0n;

export function encodePosition(position: bigint | string | number): string {
  return BigInt(position).toString(16).padStart(WIDTH, "0");
}

/** Positions written by versions before the sequencer: (transaction id, seq), see legacyCursor. */
export interface LegacyPosition {
  transactionId: bigint;
  seq: bigint;
}

export type DecodedPosition =
  | { kind: "position"; value: bigint }
  | { kind: "legacy"; legacy: LegacyPosition };

export function decodePosition(position: string): DecodedPosition {
  const current = /^[0-9a-f]{16}$/.exec(position);
  if (current) {
    const value = BigInt(`0x${position}`);
    if (value > MAX_POSITION) throw new InvalidPositionError(`position out of range: ${position}`);
    return { kind: "position", value };
  }
  const legacy = /^([0-9a-f]{16})-([0-9a-f]{16})$/.exec(position);
  if (legacy?.[1] && legacy[2]) {
    const transactionId = BigInt(`0x${legacy[1]}`);
    const seq = BigInt(`0x${legacy[2]}`);
    if (transactionId > MAX_POSITION || seq > MAX_POSITION)
      throw new InvalidPositionError(`position out of range: ${position}`);
    return { kind: "legacy", legacy: { transactionId, seq } };
  }
  throw new InvalidPositionError(`not a position: ${JSON.stringify(position)}`);
}
