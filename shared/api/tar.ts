/**
 * A gzipped ustar archive of a few files, for model downloads: what `tar
 * xzf` unpacks on any system. Written by hand because a model folder is two
 * files and the format is 512-byte blocks (POSIX.1-1988 ustar). A path
 * longer than ustar's 100-byte name field is split into its 155-byte prefix
 * field at a `/`; one that cannot be split so gets a pax extended header
 * (POSIX.1-2001), which GNU tar, bsdtar and Python's tarfile all read.
 */
import { gzipSync } from 'node:zlib';

/** One file to archive; `name` is its path inside the archive (`/`-separated, any length). */
export interface TarEntry {
  readonly name: string;
  readonly bytes: Uint8Array;
  /** Modification time, seconds since the epoch (default 0). */
  readonly mtime?: number;
}

const NAME = 100;
const PREFIX = 155;

function header(name: Buffer, prefix: Buffer, size: number, mtime: number, type: '0' | 'x'): Buffer {
  const h = Buffer.alloc(512, 0);
  name.copy(h, 0);
  const octal = (v: number, width: number) => v.toString(8).padStart(width - 1, '0') + '\0';
  h.write(octal(0o644, 8), 100, 'ascii');
  h.write(octal(0, 8), 108, 'ascii');
  h.write(octal(0, 8), 116, 'ascii');
  h.write(octal(size, 12), 124, 'ascii');
  h.write(octal(Math.floor(mtime), 12), 136, 'ascii');
  h.write('        ', 148, 'ascii'); // checksum counts as spaces while summing
  h.write(type, 156, 'ascii');
  h.write('ustar\0', 257, 'ascii');
  h.write('00', 263, 'ascii');
  prefix.copy(h, 345);
  let sum = 0;
  for (const b of h) sum += b;
  h.write(sum.toString(8).padStart(6, '0') + '\0 ', 148, 'ascii');
  return h;
}

/** `name` as ustar's (prefix, name) fields, or undefined when no `/` splits it into 155 + 100 bytes. */
function ustarSplit(path: Buffer): [Buffer, Buffer] | undefined {
  if (path.length <= NAME) return [Buffer.alloc(0), path];
  for (let i = path.length - NAME - 1; i <= PREFIX && i < path.length; i++) {
    if (i >= 0 && path[i] === 0x2f) return [path.subarray(0, i), path.subarray(i + 1)];
  }
  return undefined;
}

/** A pax record `"<len> path=<value>\n"`, whose length counts its own digits. */
function paxRecord(key: string, value: Buffer): Buffer {
  const body = Buffer.concat([Buffer.from(` ${key}=`), value, Buffer.from('\n')]);
  let len = body.length + 1;
  while (String(len).length + body.length !== len) len = String(len).length + body.length;
  return Buffer.concat([Buffer.from(String(len)), body]);
}

function padded(bytes: Uint8Array): Buffer[] {
  const pad = (512 - (bytes.byteLength % 512)) % 512;
  return pad ? [Buffer.from(bytes), Buffer.alloc(pad, 0)] : [Buffer.from(bytes)];
}

/** The archive of `entries`, gzipped. */
export function tarGz(entries: readonly TarEntry[]): Buffer {
  const parts: Buffer[] = [];
  for (const e of entries) {
    const mtime = e.mtime ?? 0;
    const path = Buffer.from(e.name, 'utf8');
    const split = ustarSplit(path);
    if (split) {
      parts.push(header(split[1], split[0], e.bytes.byteLength, mtime, '0'));
    } else {
      const pax = paxRecord('path', path);
      parts.push(header(Buffer.from('PaxHeader'), Buffer.alloc(0), pax.length, mtime, 'x'), ...padded(pax));
      parts.push(header(path.subarray(path.length - NAME), Buffer.alloc(0), e.bytes.byteLength, mtime, '0'));
    }
    parts.push(...padded(e.bytes));
  }
  parts.push(Buffer.alloc(1024, 0));
  return gzipSync(Buffer.concat(parts));
}
