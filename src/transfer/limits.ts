import { AbortWatch } from '../core/abortWatch';
import { throwIfAborted } from '../core/progress';

/**
 * A counting semaphore whose size can change while it is in use: the one pool of requests in
 * flight that files and parts share, resized by the concurrency controller.
 */
export class RequestLimiter {
  private inFlight = 0;
  private readonly waiting: Waiter[] = [];
  private readonly watch = new AbortWatch<Waiter>((waiter, reason) => dropWaiter(this.waiting, waiter, reason));

  constructor(private limit: number) {}

  get active(): number {
    return this.inFlight;
  }

  get size(): number {
    return this.limit;
  }

  resize(limit: number): void {
    this.limit = Math.max(1, Math.floor(limit));
    this.wake();
  }

  /** Waits for a slot; the returned function gives it back (call it exactly once). */
  async acquire(signal?: AbortSignal): Promise<() => void> {
    throwIfAborted(signal);
    // wake() takes the slot for a waiter before letting it go, so none is handed out twice.
    if (this.inFlight < this.limit && !this.waiting.length) this.inFlight++;
    else await wait(this.waiting, this.watch, 0, signal);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.inFlight--;
      this.wake();
    };
  }

  private wake(): void {
    while (this.inFlight < this.limit && this.waiting.length) {
      this.inFlight++;
      const next = this.waiting.shift()!;
      this.watch.delete(next.signal, next);
      next.go();
    }
  }
}

/**
 * Bounds the bytes read from disk and not yet sent, so a 100 GB file or a million small ones
 * never hold more than the budget in memory. A single request larger than the whole budget is
 * let through when nothing else is held, so it cannot wait forever.
 */
export class ByteBudget {
  private used = 0;
  private readonly queue: Waiter[] = [];
  private readonly watch = new AbortWatch<Waiter>((waiter, reason) => {
    dropWaiter(this.queue, waiter, reason);
    // Those behind a big request that gave up may fit now.
    this.wake();
  });
  peak = 0;

  constructor(readonly capacity: number) {}

  /** Frees bytes held for later use (idle buffers) when a request does not fit. */
  reclaim?: () => void;

  get waiting(): boolean {
    return this.queue.length > 0;
  }

  async acquire(bytes: number, signal?: AbortSignal): Promise<() => void> {
    throwIfAborted(signal);
    if (!this.fits(bytes) && !this.queue.length) this.reclaim?.();
    if (this.fits(bytes) && !this.queue.length) this.reserve(bytes);
    else await wait(this.queue, this.watch, bytes, signal); // wake() reserves the bytes before it lets this waiter go
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.used -= bytes;
      this.wake();
    };
  }

  private fits(bytes: number): boolean {
    return this.used + bytes <= this.capacity || this.used === 0;
  }

  private reserve(bytes: number): void {
    this.used += bytes;
    this.peak = Math.max(this.peak, this.used);
  }

  private wake(): void {
    // First come, first served: a big part waiting is not overtaken forever by small files.
    while (this.queue.length && this.fits(this.queue[0].bytes)) {
      const next = this.queue.shift()!;
      this.watch.delete(next.signal, next);
      this.reserve(next.bytes);
      next.go();
    }
  }
}

interface Waiter {
  readonly bytes: number;
  readonly signal?: AbortSignal;
  readonly go: () => void;
  readonly fail: (reason: unknown) => void;
}

function wait(queue: Waiter[], watch: AbortWatch<Waiter>, bytes: number, signal?: AbortSignal): Promise<void> {
  return new Promise((go, fail) => {
    const waiter = { bytes, signal, go, fail };
    queue.push(waiter);
    watch.add(signal, waiter);
  });
}

function dropWaiter(queue: Waiter[], waiter: Waiter, reason: unknown): void {
  const at = queue.indexOf(waiter);
  if (at < 0) return;
  queue.splice(at, 1);
  waiter.fail(reason);
}

/** A buffer and its bytes of the budget, released together. */
export interface BufferLease {
  readonly buffer: Buffer;
  readonly release: () => void;
}

/**
 * The buffers that parts and mid-sized files are read into, reused between reads with their
 * bytes still counted in the budget. Allocating a fresh 8 MiB buffer per part left resident
 * memory well above the budget until the garbage collector caught up; reused buffers that the
 * budget did not count let parts and files together go past it. Idle buffers are given up as
 * soon as the budget is short.
 */
export class BufferPool {
  private readonly idle = new Map<number, BufferLease[]>();

  constructor(private readonly budget: ByteBudget) {
    budget.reclaim = () => this.drop();
  }

  /** A buffer of `capacity` bytes: an idle one, or a new one once the budget has room. */
  async lease(capacity: number, signal?: AbortSignal): Promise<BufferLease> {
    const reused = this.idle.get(capacity)?.pop();
    if (reused) return reused;
    const release = await this.budget.acquire(capacity, signal);
    // Of its own ArrayBuffer, never a slice of Node's shared pool: it is lent to reader threads.
    return { buffer: Buffer.allocUnsafeSlow(capacity), release };
  }

  /**
   * Returns a lease once nothing reads its buffer. `buffer` is the same memory back from a
   * reader thread; undefined if it never came back (a cancelled read), which frees the bytes.
   */
  giveBack(lease: BufferLease, buffer: Buffer | undefined): void {
    if (!buffer?.length || this.budget.waiting) {
      lease.release();
      return;
    }
    const list = this.idle.get(buffer.length) ?? [];
    list.push({ buffer, release: lease.release });
    this.idle.set(buffer.length, list);
  }

  private drop(): void {
    for (const list of this.idle.values()) for (const lease of list.splice(0)) lease.release();
  }
}
