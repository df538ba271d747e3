// Puts the agent's sequenced messages back in order (shared/ssm-protocol.md §7.2).

export interface Arrival<T> {
  /** Whether to acknowledge the message. False only when it could not be kept, so the agent resends it. */
  readonly acknowledge: boolean;
  /** Messages now deliverable, in sequence order (empty for duplicates and early arrivals). */
  readonly deliverable: T[];
}

export class ReorderBuffer<T> {
  private next = 0;
  private readonly early = new Map<number, T>();

  constructor(private readonly capacity = 10_000) {}

  /** The sequence number the buffer waits for. */
  get expected(): number {
    return this.next;
  }

  get buffered(): number {
    return this.early.size;
  }

  accept(sequenceNumber: number, message: T): Arrival<T> {
    // A duplicate is acknowledged again: its first acknowledgement may be what was lost, and
    // the agent would otherwise resend it forever.
    if (sequenceNumber < this.next) return { acknowledge: true, deliverable: [] };
    if (sequenceNumber > this.next) {
      if (this.early.has(sequenceNumber)) return { acknowledge: true, deliverable: [] };
      if (this.early.size >= this.capacity) return { acknowledge: false, deliverable: [] };
      this.early.set(sequenceNumber, message);
      return { acknowledge: true, deliverable: [] };
    }
    const deliverable = [message];
    this.next++;
    for (let queued = this.early.get(this.next); queued !== undefined; queued = this.early.get(this.next)) {
      this.early.delete(this.next);
      deliverable.push(queued);
      this.next++;
    }
    return { acknowledge: true, deliverable };
  }
}
