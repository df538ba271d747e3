/**
 * Finds the number of requests in flight that moves the most data, instead of a fixed number:
 * throughput rises with parallel streams up to a knee and can fall after it (one lab saw it drop
 * past about 30). A hill climb on measured goodput that remembers the best setting seen: grow
 * while goodput grows, go back toward the best when it falls, hold on the plateau (probing up
 * now and then), and cut hard on throttling (503 SlowDown), timeouts or latency that balloons
 * while goodput stays flat, which mean the far end or the path is saturated.
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
const PROBE_AFTER_WINDOWS = 60;

export class ConcurrencyController {
  private limit: number;
  private readonly min: number;
  private readonly max: number;
  private readonly windowMs: number;
  private windowStart: number;
  private windowWork = 0;
  private windowLatency: number[] = [];
  private throttled = false;
  /**
   * The best goodput seen, where, and which sides of it were measured worse; the goodput fades a
   * little each window so that changed conditions can replace it.
   */
  private best?: { limit: number; goodput: number; worseSides: Set<1 | -1> };
  private baselineLatency?: number;
  private direction: 1 | -1 = 1;
  /** Windows to wait after a cut before climbing again, so one 503 burst is not chased. */
  private cooldown = 0;
  /** Windows held at a plateau; every few, a step up probes whether more now helps. */
  private heldWindows = 0;
  /** After turning back to the best setting from one side, try the other side once. */
  private exploreSide?: 1 | -1;

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
      return;
    }
    if (this.best) this.best.goodput *= 0.98;
    const best = this.best;
    if (!best || goodput > best.goodput * 1.05) {
      // Better where it already was: the path improved (or the record faded); note it and stay.
      if (best && best.limit === this.limit) {
        best.goodput = goodput;
        return;
      }
      // Better after a step: keep going the same way; the side it came from was worse.
      this.best = { limit: this.limit, goodput, worseSides: new Set(best ? [this.direction === 1 ? -1 : 1] : []) };
      this.heldWindows = 0;
      this.step(this.direction);
      return;
    }
    const ballooning = latency !== undefined && this.baselineLatency !== undefined && latency > this.baselineLatency * 4;
    if (goodput < best.goodput * 0.95) {
      if (best.limit === this.limit) {
        // Same setting, less goodput: the path changed, so measure afresh from here, both sides.
        this.best = { limit: this.limit, goodput, worseSides: new Set() };
        this.exploreSide = 1;
        return;
      }
      // Past the knee (or short of it): go back toward the best setting seen, then look once on
      // its other side if that has not been measured.
      const side = this.limit > best.limit ? 1 : -1;
      best.worseSides.add(side);
      this.direction = side === 1 ? -1 : 1;
      this.exploreSide = best.worseSides.has(this.direction) ? undefined : this.direction;
      this.step(this.direction, Math.abs(best.limit - this.limit));
      return;
    }
    if (ballooning) {
      this.cut();
      return;
    }
    if (this.exploreSide && this.limit === best.limit) {
      this.direction = this.exploreSide;
      this.exploreSide = undefined;
      this.step(this.direction);
      return;
    }
    // On the plateau near the best: hold, probing upward about once a minute in case more
    // bandwidth has become available.
    if (++this.heldWindows >= PROBE_AFTER_WINDOWS && this.limit < this.max) {
      this.heldWindows = 0;
      this.direction = 1;
      this.step(1);
    }
  }

  private step(direction: 1 | -1, atMost = Infinity): void {
    const delta = Math.min(atMost, Math.max(1, Math.round(this.limit * 0.25)));
    this.limit = clamp(this.limit + direction * delta, this.min, this.max);
    if (this.limit === this.max) this.direction = -1;
    else if (this.limit === this.min) this.direction = 1;
  }

  private cut(): void {
    this.limit = clamp(Math.floor(this.limit * 0.7), this.min, this.max);
    this.direction = 1;
    this.cooldown = 2;
    this.heldWindows = 0;
    this.exploreSide = undefined;
    // What was measured before the cut no longer holds; climb again from fresh measurements.
    this.best = undefined;
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
