/**
 * Reading a file a spec names: regular files only. A FIFO, a device or a
 * directory is refused without blocking (the file is opened non-blocking and
 * checked on its descriptor, so nothing can swap it in between), and errors
 * name the file and what it is, never what it holds.
 */
import { closeSync, constants, fstatSync, openSync, readFileSync, readSync, type Stats } from 'node:fs';
import { DataError } from '../errors.js';

/** What a path is, for messages: "a directory", "a FIFO", ... */
export function kindOf(st: Stats): string {
  return st.isDirectory() ? 'a directory' : st.isFIFO() ? 'a FIFO' : st.isCharacterDevice() || st.isBlockDevice() ? 'a device' : st.isSocket() ? 'a socket' : 'not a regular file';
}

/** How a read failure is worded: the default names the file first (`data.csv: cannot read: ENOENT`). */
export type Unreadable = (problem: string) => string;

/**
 * Opens a regular file for reading and runs `use` on its descriptor and
 * size; throws a DataError (with the error code, e.g. ENOENT) when the path
 * cannot be opened or is not a regular file.
 */
export function withRegularFile<T>(file: string, use: (fd: number, size: number) => T, unreadable: Unreadable = (p) => `${file}: ${p}`): T {
  let fd: number;
  try {
    // O_NONBLOCK: opening a FIFO for reading would otherwise wait for a writer.
    fd = openSync(file, constants.O_RDONLY | (constants.O_NONBLOCK ?? 0));
  } catch (e) {
    throw new DataError(unreadable(`cannot read: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`), { cause: e });
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) throw new DataError(unreadable(`not a regular file (${kindOf(st)})`));
    return use(fd, st.size);
  } finally {
    closeSync(fd);
  }
}

/** The whole of a regular file. */
export function readRegularFile(file: string, unreadable?: Unreadable): Buffer {
  return withRegularFile(file, (fd) => readFileSync(fd), unreadable);
}

/** Up to `bytes` bytes from the start of a regular file, and the file's size. */
export function readRegularPrefix(file: string, bytes: number): { head: Buffer; size: number } {
  return withRegularFile(file, (fd, size) => {
    const buf = Buffer.alloc(Math.min(bytes, size));
    const n = buf.length ? readSync(fd, buf, 0, buf.length, 0) : 0;
    return { head: buf.subarray(0, n), size };
  });
}
