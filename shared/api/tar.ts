/**
 * A gzipped ustar archive of a few files, for model downloads: what `tar
 * xzf` unpacks on any system. Written by hand because a model folder is two
 * files and the format is 512-byte blocks (POSIX.1-1988 ustar).
 */
import { gzipSync } from 'node:zlib';

/** One file to archive; `name` is its path inside the archive (ASCII, at most 100 bytes). */
export interface TarEntry {
  readonly name: string;
  readonly bytes: Uint8Array;
  /** Modification time, seconds since the epoch (default 0). */
  readonly mtime?: number;
}

function header(name: string, size: number, mtime: number): Buffer {
  const h = Buffer.alloc(512, 0);
  const nameBytes = Buffer.from(name, 'utf8');
  if (nameBytes.length > 100) throw new Error(`tar entry name longer than 100 bytes: ${name}`);
  nameBytes.copy(h, 0);
  const octal = (v: number, width: number) => v.toString(8).padStart(width - 1, '0') + '\0';
  h.write(octal(0o644, 8), 100, 'ascii');
  h.write(octal(0, 8), 108, 'ascii');
  h.write(octal(0, 8), 116, 'ascii');
  h.write(octal(size, 12), 124, 'ascii');
  h.write(octal(Math.floor(mtime), 12), 136, 'ascii');
  h.write('        ', 148, 'ascii'); // checksum counts as spaces while summing
  h.write('0', 156, 'ascii');
  h.write('ustar\0', 257, 'ascii');
  h.write('00', 263, 'ascii');
  let sum = 0;
  for (const b of h) sum += b;
  h.write(sum.toString(8).padStart(6, '0') + '\0 ', 148, 'ascii');
  return h;
}

/** The archive of `entries`, gzipped. */
export function tarGz(entries: readonly TarEntry[]): Buffer {
  const parts: Buffer[] = [];
  for (const e of entries) {
    parts.push(header(e.name, e.bytes.byteLength, e.mtime ?? 0), Buffer.from(e.bytes));
    const pad = (512 - (e.bytes.byteLength % 512)) % 512;
    if (pad) parts.push(Buffer.alloc(pad, 0));
  }
  parts.push(Buffer.alloc(1024, 0));
  return gzipSync(Buffer.concat(parts));
}
