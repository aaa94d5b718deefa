/**
 * The kernelspec logos (logo-32x32.png, logo-64x64.png), drawn and PNG-encoded here so the repo
 * ships no binaries: a causal attention pattern — the lower triangle of an 8×8 grid in Viridis, on a
 * dark rounded square. The PNG writer is the minimal one: RGBA 8-bit, one zlib IDAT, CRC-32.
 */
import { deflateSync } from "node:zlib";

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

export function crc32(buf: Uint8Array): number {
  let c = 0xffffffff;
  for (let i = 0; i < buf.length; i++) c = CRC_TABLE[(c ^ buf[i]!) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

function chunk(type: string, data: Buffer): Buffer {
  const len = Buffer.alloc(4);
  len.writeUInt32BE(data.length);
  const body = Buffer.concat([Buffer.from(type, "ascii"), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(body));
  return Buffer.concat([len, body, crc]);
}

/** Encode `rgba` (width·height·4 bytes, row-major) as a PNG file. */
export function encodePng(width: number, height: number, rgba: Uint8Array): Buffer {
  if (rgba.length !== width * height * 4) throw new Error(`encodePng: expected ${width * height * 4} bytes, got ${rgba.length}`);
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr.set([8, 6, 0, 0, 0], 8); // 8-bit, RGBA, deflate, no filter method variants, no interlace
  const raw = Buffer.alloc(height * (width * 4 + 1));
  for (let y = 0; y < height; y++) {
    raw[y * (width * 4 + 1)] = 0; // filter type "None"
    raw.set(rgba.subarray(y * width * 4, (y + 1) * width * 4), y * (width * 4 + 1) + 1);
  }
  const signature = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  return Buffer.concat([signature, chunk("IHDR", ihdr), chunk("IDAT", deflateSync(raw)), chunk("IEND", Buffer.alloc(0))]);
}

const VIRIDIS = [[68, 1, 84], [59, 82, 139], [33, 145, 140], [94, 201, 98], [253, 231, 37]];

function viridis(t: number): number[] {
  const x = t * (VIRIDIS.length - 1);
  const i = Math.min(Math.floor(x), VIRIDIS.length - 2);
  return VIRIDIS[i]!.map((a, k) => Math.round(a + (x - i) * (VIRIDIS[i + 1]![k]! - a)));
}

/** The logo's pixels at `size`×`size`. */
export function logoPixels(size: number): Uint8Array {
  const px = new Uint8Array(size * size * 4);
  const r = size * 0.18; // corner radius
  const pad = size / 8;
  const cell = (size - 2 * pad) / 8;
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      const cx = Math.max(r - x - 0.5, x + 0.5 - (size - r), 0);
      const cy = Math.max(r - y - 0.5, y + 0.5 - (size - r), 0);
      const inside = cx * cx + cy * cy <= r * r;
      let rgb = [30, 30, 46];
      const i = Math.floor((y - pad) / cell);
      const j = Math.floor((x - pad) / cell);
      const gap = (x - pad) % cell < cell * 0.12 || (y - pad) % cell < cell * 0.12;
      if (i >= 0 && i < 8 && j >= 0 && j <= i && !gap) rgb = viridis((i - j) / 7 === 0 ? 1 : 1 - (i - j) / 8);
      px.set([...rgb, inside ? 255 : 0], (y * size + x) * 4);
    }
  }
  return px;
}

export function logoPng(size: number): Buffer {
  return encodePng(size, size, logoPixels(size));
}
