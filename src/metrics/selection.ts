/** What the Metrics panel can show: one resource, the bill, or metrics the user browsed to. */

export interface NodeRef {
  readonly instanceId: string;
  /** A readable name (the Name tag) for legends; the instance id otherwise. */
  readonly name?: string;
  readonly instanceType?: string;
}

export interface MetricRef {
  readonly namespace: string;
  readonly metricName: string;
  readonly dimensions: ReadonlyArray<{ readonly name: string; readonly value: string }>;
}

export type Selection =
  | ({ readonly kind: 'node'; readonly region?: string } & NodeRef)
  | { readonly kind: 'cluster'; readonly name: string; readonly region?: string; readonly nodes: readonly NodeRef[] }
  | { readonly kind: 'bucket'; readonly bucket: string; readonly region?: string }
  | { readonly kind: 'bill' }
  | { readonly kind: 'custom'; readonly region?: string; readonly metrics: readonly MetricRef[] };

/** Billing metrics exist only in us-east-1, whatever region the account works in. */
export const BILLING_REGION = 'us-east-1';

export function selectionTitle(selection: Selection): string {
  switch (selection.kind) {
    case 'node':
      return selection.name ? `${selection.name} (${selection.instanceId})` : selection.instanceId;
    case 'cluster':
      return `Cluster ${selection.name} · ${selection.nodes.length} node${selection.nodes.length === 1 ? '' : 's'}`;
    case 'bucket':
      return `s3://${selection.bucket}`;
    case 'bill':
      return 'Estimated charges';
    case 'custom':
      return selection.metrics.length === 1
        ? `${selection.metrics[0].namespace} · ${selection.metrics[0].metricName}`
        : `${selection.metrics.length} metrics`;
  }
}

export function selectionRegion(selection: Selection): string | undefined {
  return selection.kind === 'bill' ? BILLING_REGION : selection.region;
}

/** t2, t3, t3a and t4g earn and spend CPU credits; only they publish CPUCreditBalance. */
export function isBurstable(instanceType: string | undefined): boolean {
  return /^t\d[a-z]*\./.test(instanceType ?? '');
}

/** `i-` then 8 or 17 hex digits. */
export function isInstanceId(value: string): boolean {
  return /^i-(?:[0-9a-f]{8}|[0-9a-f]{17})$/.test(value);
}
