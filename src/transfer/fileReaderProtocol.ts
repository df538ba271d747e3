// The messages between the FileReaderPool (fileReader.ts) and its workers (fileReaderWorker.ts).
// Tasks and replies travel in batches: one message per batch, not per file, because posting a
// message costs about as much as reading a small file.

export interface FileVersion {
  readonly size: number;
  readonly mtimeMs: number;
}

export interface ReadTask {
  readonly id: number;
  readonly path: string;
  /** Absent: read the whole file, as long as it is at most `maxBytes`. */
  readonly offset?: number;
  /** For a range: the bytes to read from `offset`. */
  readonly length: number;
  /** For a whole file: the most it may hold (what the memory budget reserved); for a range, `length`. */
  readonly maxBytes: number;
  /** A buffer lent to the worker (transferred), at least `length` (or `maxBytes`) bytes; else the worker makes one. */
  readonly buffer?: ArrayBuffer;
  readonly crc32c: boolean;
}

export type ReadReply =
  | {
      readonly id: number;
      readonly buffer: ArrayBuffer;
      readonly bytesRead: number;
      /** fstat when the file was opened and after the read: a change in between shows here. */
      readonly before: FileVersion;
      readonly after: FileVersion;
      /** base64, as the Content-MD5 header wants it. */
      readonly md5: string;
      readonly crc32c?: number;
    }
  | { readonly id: number; readonly tooLarge: true; readonly before: FileVersion; readonly buffer?: ArrayBuffer }
  | { readonly id: number; readonly error: { message: string; code?: string; syscall?: string; path?: string } };
