import type { Bars } from './bars';

/** The checksum is defined over little-endian bytes; a big-endian host reverses each 8-byte value. */
const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** FNV-1a 64 offset basis 0xcbf29ce484222325 as 16-bit limbs, least significant first. */
const OFFSET_BASIS = [0x2325, 0x8422, 0x9ce4, 0xcbf2] as const;

/**
 * Folds `bytes` into the FNV-1a 64 state `h` (four 16-bit limbs). The 64-bit multiply by the
 * prime 0x100000001b3 is h * 0x1b3 + (h << 40), done limb-wise so every intermediate stays a
 * small integer (no BigInt: ~50x slower).
 */
function fnvUpdate(h: Uint32Array, bytes: Uint8Array): void {
  let h0 = h[0] as number;
  let h1 = h[1] as number;
  let h2 = h[2] as number;
  let h3 = h[3] as number;
  for (let j = 0; j < bytes.length; j++) {
    h0 ^= bytes[j] as number;
    const t0 = h0 * 0x1b3;
    const t1 = h1 * 0x1b3 + (t0 >>> 16);
    const t2 = h2 * 0x1b3 + (h0 << 8) + (t1 >>> 16);
    const t3 = h3 * 0x1b3 + (h1 << 8) + (t2 >>> 16);
    h0 = t0 & 0xffff;
    h1 = t1 & 0xffff;
    h2 = t2 & 0xffff;
    h3 = t3 & 0xffff;
  }
  h[0] = h0;
  h[1] = h1;
  h[2] = h2;
  h[3] = h3;
}

function digest(h: Uint32Array): string {
  let out = '';
  for (let k = 3; k >= 0; k--) out += (h[k] as number).toString(16).padStart(4, '0');
  return out;
}

/** FNV-1a 64 of raw bytes as 16 lowercase hex digits (exported for tests against published vectors). */
export function fnv1a64(bytes: Uint8Array): string {
  const h = Uint32Array.from(OFFSET_BASIS);
  fnvUpdate(h, bytes);
  return digest(h);
}

function littleEndianBytes(col: Float64Array): Uint8Array {
  const view = new Uint8Array(col.buffer, col.byteOffset, col.byteLength);
  if (LITTLE_ENDIAN) return view;
  const out = new Uint8Array(view.length);
  for (let j = 0; j < view.length; j += 8) for (let b = 0; b < 8; b++) out[j + b] = view[j + 7 - b] as number;
  return out;
}

/**
 * FNV-1a 64 over the columns' IEEE-754 little-endian bytes, in the order time, open, high, low,
 * close, volume, as 16 lowercase hex digits. A published, tiny, pure-JS function (node:crypto is
 * off-limits in the engine) that other tools can reproduce: an identity/integrity check, not a
 * defence against deliberate collisions. The timeframe is not included (it is metadata).
 */
export function barsChecksum(bars: Bars): string {
  const h = Uint32Array.from(OFFSET_BASIS);
  for (const col of [bars.time, bars.open, bars.high, bars.low, bars.close, bars.volume]) fnvUpdate(h, littleEndianBytes(col));
  return digest(h);
}
