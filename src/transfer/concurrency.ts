/**
 * Finds the number of requests in flight that moves the most data, instead of a fixed number:
 * throughput rises with parallel streams up to a knee and can fall after it (one lab saw it drop
 * past about 30). A hill climb on measured goodput: grow while goodput grows, turn back when it
 * falls, and cut hard on throttling (503 SlowDown), timeouts or latency that balloons while
 * goodput stays flat, which mean the far end or the path is saturated.
 */
export interface ControllerOptions {
  readonly initial: number;
  readonly min?: number;
  readonly max: number;
  /** Milliseconds of completions each decision looks at. */
  readonly windowMs?: number;
  /** A setting that pins the concurrency: the controller then never changes it. */
  readonly pinned?: number;
}

/** Work done by a request, in bytes: each request also costs a round trip, worth this much. */
const REQUEST_OVERHEAD_BYTES = 64 * 1024;

export class ConcurrencyController {
  private limit: number;
  private readonly min: number;
  private readonly max: number;
  private readonly windowMs: number;
  private windowStart: number;
  private windowWork = 0;
  private windowLatency: number[] = [];
  private throttled = false;
  private previousGoodput?: number;
  private baselineLatency?: number;
  private direction: 1 | -1 = 1;
  /** Windows to wait after a cut before climbing again, so one 503 burst is not chased. */
  private cooldown = 0;

  constructor(private readonly options: ControllerOptions, now: number) {
    this.min = Math.max(1, options.min ?? 1);
    this.max = Math.max(this.min, options.max);
    this.limit = clamp(options.pinned ?? options.initial, this.min, this.max);
    this.windowMs = options.windowMs ?? 1000;
    this.windowStart = now;
  }

  get concurrency(): number {
    return this.limit;
  }

  recordSuccess(bytes: number, latencyMs: number): void {
    this.windowWork += bytes + REQUEST_OVERHEAD_BYTES;
    this.windowLatency.push(latencyMs);
  }

  /** A 503 SlowDown, a throttling error or a timeout: the other end asks for less. */
  recordThrottle(): void {
    this.throttled = true;
  }

  /**
   * Call often (every completion is fine); at the end of each window it decides and returns the
   * new concurrency, which is also available as `concurrency`.
   */
  tick(now: number): number {
    if (this.options.pinned !== undefined || now - this.windowStart < this.windowMs) return this.limit;
    const goodput = (this.windowWork / (now - this.windowStart)) * 1000;
    const latency = median(this.windowLatency);
    this.decide(goodput, latency);
    this.windowStart = now;
    this.windowWork = 0;
    this.windowLatency = [];
    this.throttled = false;
    return this.limit;
  }

  private decide(goodput: number, latency: number | undefined): void {
    if (this.throttled) {
      this.cut();
      return;
    }
    if (latency !== undefined && this.baselineLatency === undefined) this.baselineLatency = latency;
    if (this.cooldown > 0) {
      this.cooldown--;
      this.previousGoodput = goodput;
      return;
    }
    const previous = this.previousGoodput;
    this.previousGoodput = goodput;
    if (previous === undefined) {
      this.step();
      return;
    }
    const flat = goodput <= previous * 1.05 && goodput >= previous * 0.95;
    const ballooning = latency !== undefined && this.baselineLatency !== undefined && latency > this.baselineLatency * 4;
    if (flat && ballooning) {
      this.cut();
      return;
    }
    if (goodput < previous * 0.95) this.direction = this.direction === 1 ? -1 : 1;
    else if (flat) return; // at the knee: hold
    this.step();
  }

  private step(): void {
    const delta = Math.max(1, Math.round(this.limit * 0.25));
    this.limit = clamp(this.limit + this.direction * delta, this.min, this.max);
    if (this.limit === this.max || this.limit === this.min) this.direction = this.limit === this.max ? -1 : 1;
  }

  private cut(): void {
    this.limit = clamp(Math.floor(this.limit * 0.7), this.min, this.max);
    this.direction = 1;
    this.cooldown = 2;
    this.previousGoodput = undefined;
  }
}

function clamp(value: number, min: number, max: number): number {
  return Math.min(max, Math.max(min, Math.round(value)));
}

function median(values: number[]): number | undefined {
  if (!values.length) return undefined;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}
