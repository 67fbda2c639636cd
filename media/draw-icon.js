// Draws media/icon.png (the 128x128 extension icon): three linked peers on a blue tile, anti-aliased, PNG via zlib.
'use strict';
const fs = require('node:fs');
const path = require('node:path');
const zlib = require('node:zlib');

const SIZE = 128;

// Signed distances in pixels: negative inside the shape.
const circle = (cx, cy, r) => (x, y) => Math.hypot(x - cx, y - cy) - r;
const segment = (ax, ay, bx, by, halfWidth) => (x, y) => {
  const dx = bx - ax;
  const dy = by - ay;
  const t = Math.max(0, Math.min(1, ((x - ax) * dx + (y - ay) * dy) / (dx * dx + dy * dy)));
  return Math.hypot(x - (ax + t * dx), y - (ay + t * dy)) - halfWidth;
};
const roundedSquare = (size, radius) => (x, y) => {
  const h = size / 2;
  const qx = Math.abs(x - h) - (h - radius);
  const qy = Math.abs(y - h) - (h - radius);
  return Math.hypot(Math.max(qx, 0), Math.max(qy, 0)) + Math.min(Math.max(qx, qy), 0) - radius;
};
/** Fraction of a pixel a shape covers: a one-pixel ramp across its edge is enough anti-aliasing. */
const coverage = (d) => Math.max(0, Math.min(1, 0.5 - d));

const mix = (a, b, t) => a + (b - a) * t;
const hex = (h) => [1, 3, 5].map((i) => parseInt(h.slice(i, i + 2), 16));

const TOP = hex('#2f86c8');
const BOTTOM = hex('#123552');
const ACCENT = hex('#4cc3ff');
const WHITE = [255, 255, 255];

const A = [64, 36];
const B = [31, 90];
const C = [97, 90];
const tile = roundedSquare(SIZE, 26);
const links = [segment(...A, ...B, 4), segment(...A, ...C, 4), segment(...B, ...C, 4)];
const nodes = [A, B, C].map(([x, y]) => circle(x, y, 16));
const cores = [A, B, C].map(([x, y]) => circle(x, y, 7));

function pixel(x, y) {
  // Sample at the pixel's centre.
  const px = x + 0.5;
  const py = y + 0.5;
  const t = (px + py) / (2 * SIZE);
  let rgb = TOP.map((c, i) => mix(c, BOTTOM[i], t));
  const over = (color, cov) => {
    rgb = rgb.map((c, i) => mix(c, color[i], cov));
  };
  over(WHITE, 0.92 * Math.max(...links.map((f) => coverage(f(px, py)))));
  over(WHITE, Math.max(...nodes.map((f) => coverage(f(px, py)))));
  over(ACCENT, Math.max(...cores.map((f) => coverage(f(px, py)))));
  const alpha = coverage(tile(px, py));
  return [...rgb.map((c) => Math.round(c)), Math.round(alpha * 255)];
}

const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});
function crc32(buf) {
  let c = 0xffffffff;
  for (const b of buf) c = CRC_TABLE[(c ^ b) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}
function chunk(type, data) {
  const len = Buffer.alloc(4);
  len.writeUInt32BE(data.length);
  const body = Buffer.concat([Buffer.from(type, 'ascii'), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(body));
  return Buffer.concat([len, body, crc]);
}

function png() {
  const raw = Buffer.alloc(SIZE * (1 + SIZE * 4));
  for (let y = 0; y < SIZE; y++) {
    const row = y * (1 + SIZE * 4);
    raw[row] = 0; // filter: none
    for (let x = 0; x < SIZE; x++) Buffer.from(pixel(x, y)).copy(raw, row + 1 + x * 4);
  }
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(SIZE, 0);
  ihdr.writeUInt32BE(SIZE, 4);
  ihdr[8] = 8; // bits per channel
  ihdr[9] = 6; // RGBA
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    chunk('IDAT', zlib.deflateSync(raw, { level: 9 })),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

const out = path.join(__dirname, 'icon.png');
fs.writeFileSync(out, png());
console.log(`wrote ${out}`);
