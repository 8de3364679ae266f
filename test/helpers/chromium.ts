/**
 * Headless Chromium (Debian's `chromium` package, installed by .ci/setup.sh)
 * for looking at the HTML reports as a browser renders them: the DOM after
 * the page's scripts ran, and a screenshot. Each run gets a fresh profile and
 * no network features.
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import * as zlib from 'node:zlib';

export function chromiumBinary(): string {
  for (const name of ['chromium', 'chromium-browser']) {
    for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
      if (dir !== '' && fs.existsSync(path.join(dir, name))) return path.join(dir, name);
    }
  }
  throw new Error('chromium not found on PATH: apt-get install chromium (.ci/setup.sh does it as root)');
}

const FLAGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--hide-scrollbars',
];

async function runChromium(args: string[], timeoutMs = 60_000): Promise<{ stdout: string; stderr: string }> {
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'twenty-sse-chromium-'));
  try {
    return await new Promise((resolve, reject) => {
      const child = spawn(chromiumBinary(), [...FLAGS, `--user-data-dir=${profile}`, ...args], {
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
      child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
      const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
      child.once('error', (error) => {
        clearTimeout(timer);
        reject(error);
      });
      child.once('close', (code) => {
        clearTimeout(timer);
        if (code === 0) resolve({ stdout, stderr });
        else reject(new Error(`chromium exited with ${code}: ${stderr.slice(-2000)}`));
      });
    });
  } finally {
    fs.rmSync(profile, { recursive: true, force: true });
  }
}

/** The page's DOM, serialized after it loaded and its scripts ran. */
export async function dumpDom(htmlFile: string): Promise<string> {
  const { stdout } = await runChromium(['--virtual-time-budget=3000', '--dump-dom', pathToFileURL(htmlFile).href]);
  return stdout;
}

/** A screenshot of the page's first `width` x `height` pixels. */
export async function screenshot(htmlFile: string, pngFile: string, width = 1280, height = 2400): Promise<void> {
  await runChromium([
    `--window-size=${width},${height}`,
    '--virtual-time-budget=3000',
    `--screenshot=${pngFile}`,
    pathToFileURL(htmlFile).href,
  ]);
  if (!fs.existsSync(pngFile)) throw new Error(`chromium wrote no screenshot to ${pngFile}`);
}

export interface DecodedPng {
  width: number;
  height: number;
  /** [r, g, b] of a pixel. */
  rgb(x: number, y: number): [number, number, number];
}

/** Decodes an 8-bit, non-interlaced RGB or RGBA PNG (what Chromium writes). */
export function decodePng(buffer: Buffer): DecodedPng {
  if (buffer.readUInt32BE(0) !== 0x89504e47) throw new Error('not a PNG');
  let offset = 8;
  let width = 0;
  let height = 0;
  let channels = 0;
  const data: Buffer[] = [];
  while (offset < buffer.length) {
    const length = buffer.readUInt32BE(offset);
    const type = buffer.toString('ascii', offset + 4, offset + 8);
    const body = buffer.subarray(offset + 8, offset + 8 + length);
    if (type === 'IHDR') {
      width = body.readUInt32BE(0);
      height = body.readUInt32BE(4);
      const [bitDepth, colorType, , , interlace] = [body[8], body[9], body[10], body[11], body[12]];
      if (bitDepth !== 8 || interlace !== 0 || (colorType !== 2 && colorType !== 6)) {
        throw new Error(`unsupported PNG: bit depth ${bitDepth}, color type ${colorType}, interlace ${interlace}`);
      }
      channels = colorType === 6 ? 4 : 3;
    } else if (type === 'IDAT') {
      data.push(body);
    }
    offset += 12 + length;
  }
  const raw = zlib.inflateSync(Buffer.concat(data));
  const stride = width * channels;
  const pixels = Buffer.alloc(height * stride);
  for (let y = 0; y < height; y++) {
    const filter = raw[y * (stride + 1)];
    const line = raw.subarray(y * (stride + 1) + 1, (y + 1) * (stride + 1));
    for (let i = 0; i < stride; i++) {
      const left = i >= channels ? pixels[y * stride + i - channels] : 0;
      const up = y > 0 ? pixels[(y - 1) * stride + i] : 0;
      const upLeft = y > 0 && i >= channels ? pixels[(y - 1) * stride + i - channels] : 0;
      let value = line[i];
      if (filter === 1) value += left;
      else if (filter === 2) value += up;
      else if (filter === 3) value += (left + up) >> 1;
      else if (filter === 4) {
        const estimate = left + up - upLeft;
        const [a, b, c] = [Math.abs(estimate - left), Math.abs(estimate - up), Math.abs(estimate - upLeft)];
        value += a <= b && a <= c ? left : b <= c ? up : upLeft;
      }
      pixels[y * stride + i] = value & 0xff;
    }
  }
  return {
    width,
    height,
    rgb: (x, y) => {
      const at = y * stride + x * channels;
      return [pixels[at], pixels[at + 1], pixels[at + 2]];
    },
  };
}

/** How many pixels are within `tolerance` of `color` on every channel. */
export function countColor(png: DecodedPng, color: [number, number, number], tolerance = 6): number {
  let count = 0;
  for (let y = 0; y < png.height; y++) {
    for (let x = 0; x < png.width; x++) {
      const [r, g, b] = png.rgb(x, y);
      if (
        Math.abs(r - color[0]) <= tolerance &&
        Math.abs(g - color[1]) <= tolerance &&
        Math.abs(b - color[2]) <= tolerance
      )
        count++;
    }
  }
  return count;
}
