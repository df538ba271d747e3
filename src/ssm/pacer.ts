// A token bucket for outgoing data messages: the service reportedly closes websockets that send
// much more than ~1000 data messages a second (shared/ssm-protocol.md §7.4).

export class Pacer {
  private tokens: number;
  private updatedAt: number;

  constructor(
    private readonly messagesPerSecond: number,
    private readonly burst: number,
    private readonly now: () => number,
  ) {
    this.tokens = burst;
    this.updatedAt = now();
  }

  /** Takes a token if there is one. */
  tryTake(): boolean {
    this.refill();
    if (this.tokens < 1) return false;
    this.tokens--;
    return true;
  }

  /** Milliseconds until the next token, 0 if one is available. */
  waitMs(): number {
    this.refill();
    return this.tokens >= 1 ? 0 : Math.ceil(((1 - this.tokens) * 1000) / this.messagesPerSecond);
  }

  private refill(): void {
    const now = this.now();
    this.tokens = Math.min(this.burst, this.tokens + ((now - this.updatedAt) * this.messagesPerSecond) / 1000);
    this.updatedAt = now;
  }
}
