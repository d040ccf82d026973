import { type Json, jsonByteLength } from "../shared/json.js";

/** A step's output after the configured limit (MAX_STEP_OUTPUT_BYTES): cut outputs say so. */
export interface LimitedOutput {
  output: Json;
  truncated: boolean;
  message?: string;
}

/**
 * Last resort for any output over the limit: keeps a prefix of its JSON text as a preview, so the
 * stored output is small and clearly marked instead of silently incomplete.
 */
export function limitJson(output: Json, maxBytes: number): LimitedOutput {
  const text = JSON.stringify(output);
  const bytes = Buffer.byteLength(text, "utf8");
  if (bytes <= maxBytes) return { output, truncated: false };
  const message = `output of ${bytes} bytes exceeds the limit of ${maxBytes} bytes (MAX_STEP_OUTPUT_BYTES); only a preview of its JSON text is kept`;
  let length = Math.max(0, Math.min(text.length, maxBytes - 100));
  for (;;) {
    const cut: Json = { truncated: true, originalBytes: bytes, preview: text.slice(0, length) };
    if (jsonByteLength(cut) <= maxBytes) return { output: cut, truncated: true, message };
    if (length === 0) return { output: null, truncated: true, message };
    length = Math.floor(length * 0.9);
  }
}

/**
 * Fits an output built around a list: `build(kept)` renders the first `kept` items in full (and the
 * rest summarised or left out). Finds the largest `kept` that fits, and says what was cut.
 */
export function fitList(
  count: number,
  maxBytes: number,
  build: (kept: number) => Json,
  noun: string,
): LimitedOutput {
  const whole = build(count);
  if (jsonByteLength(whole) <= maxBytes) return { output: whole, truncated: false };
  let low = 0;
  let high = count - 1;
  while (low < high) {
    const middle = (low + high + 1) >> 1;
    if (jsonByteLength(build(middle)) <= maxBytes) low = middle;
    else high = middle - 1;
  }
  const output = build(low);
  if (jsonByteLength(output) > maxBytes) return limitJson(output, maxBytes);
  return {
    output,
    truncated: true,
    message: `output cut to the limit of ${maxBytes} bytes (MAX_STEP_OUTPUT_BYTES): ${count - low} of ${count} ${noun} left out`,
  };
}
