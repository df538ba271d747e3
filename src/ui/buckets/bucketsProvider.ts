import * as vscode from 'vscode';
import { errorCode, explainAwsError } from '../../aws/errors';
import { listBuckets, listPage, sortObjects, type ObjectInfo, type SortOrder } from '../../s3/listing';
import { s3Arn } from '../../s3/uri';
import type { ConnectionState } from '../connectionState';
import type { AddedBuckets } from './addedBuckets';
import { FolderNode, LoadMoreNode, MessageNode, ObjectNode, type BucketsTreeNode } from './nodes';

/** What has been loaded of one folder so far: pages append here as the user asks for more. */
interface FolderListing {
  readonly folders: FolderNode[];
  readonly objects: ObjectInfo[];
  nextToken?: string;
}

const SORT_KEY = 'researchCloud.buckets.sortOrder';

/**
 * The Buckets view. Loads one page (up to 1,000 keys, S3's maximum) per folder on expand and
 * keeps it, so a prefix of millions of objects costs one request to open; "Load more…" fetches
 * the next page into the same folder.
 */
export class BucketsProvider implements vscode.TreeDataProvider<BucketsTreeNode>, vscode.Disposable {
  private readonly changed = new vscode.EventEmitter<BucketsTreeNode | undefined>();
  readonly onDidChangeTreeData = this.changed.event;
  private listings = new WeakMap<FolderNode, FolderListing>();
  private readonly subscription: vscode.Disposable;

  constructor(
    private readonly connection: ConnectionState,
    private readonly added: AddedBuckets,
    private readonly workspaceState: vscode.Memento,
  ) {
    this.subscription = connection.onDidChange(() => this.refresh());
  }

  get sortOrder(): SortOrder {
    return this.workspaceState.get<SortOrder>(SORT_KEY, 'name');
  }

  async setSortOrder(order: SortOrder): Promise<void> {
    await this.workspaceState.update(SORT_KEY, order);
    // Sorting reorders what is loaded; nothing needs fetching again.
    this.changed.fire(undefined);
  }

  getTreeItem(node: BucketsTreeNode): vscode.TreeItem {
    return node.toTreeItem();
  }

  getParent(node: BucketsTreeNode): BucketsTreeNode | undefined {
    if (node instanceof FolderNode || node instanceof ObjectNode) return node.parent;
    if (node instanceof LoadMoreNode) return node.folder;
    return undefined;
  }

  async getChildren(node?: BucketsTreeNode): Promise<BucketsTreeNode[]> {
    if (!node) return this.rootNodes();
    if (!(node instanceof FolderNode)) return [];
    let listing = this.listings.get(node);
    if (!listing) {
      try {
        listing = await this.firstPage(node);
      } catch (err) {
        return [this.listingError(node, err)];
      }
      this.listings.set(node, listing);
    }
    return this.render(node, listing);
  }

  /** Drops what is loaded below `folder` (or everywhere) and lists it again. */
  refresh(folder?: FolderNode): void {
    if (folder) this.listings.delete(folder);
    else this.listings = new WeakMap();
    this.changed.fire(folder);
  }

  setFilter(folder: FolderNode, filter: string | undefined): void {
    folder.filter = filter || undefined;
    this.refresh(folder);
  }

  async loadMore(more: LoadMoreNode): Promise<void> {
    const listing = this.listings.get(more.folder);
    if (!listing?.nextToken) return;
    const page = await this.fetchPage(more.folder, listing.nextToken);
    listing.folders.push(...page.folders);
    listing.objects.push(...page.objects);
    listing.nextToken = page.nextToken;
    this.changed.fire(more.folder);
  }

  dispose(): void {
    this.subscription.dispose();
    this.changed.dispose();
  }

  private async rootNodes(): Promise<BucketsTreeNode[]> {
    const connection = this.connection.connection;
    const profile = connection.profileName;
    const added = this.added.list(profile).map((l) => new FolderNode(l.bucket, l.key, 'bucket', true));
    let listed: FolderNode[] = [];
    const notes: MessageNode[] = [];
    try {
      const s3 = await connection.s3();
      listed = (await listBuckets(s3)).map((b) => new FolderNode(b.name, '', 'bucket'));
    } catch (err) {
      notes.push(await this.rootError(err));
    }
    const addedNames = new Set(added.filter((a) => !a.prefix).map((a) => a.bucket));
    const buckets = [...listed.filter((b) => !addedNames.has(b.bucket)), ...added].sort((a, b) =>
      a.bucket === b.bucket ? a.prefix.localeCompare(b.prefix) : a.bucket.localeCompare(b.bucket),
    );
    // An empty list lets the view's welcome text offer "Add Bucket…".
    return [...notes, ...buckets];
  }

  private async rootError(err: unknown): Promise<MessageNode> {
    const connection = this.connection.connection;
    if (errorCode(err) === 'AccessDenied') {
      return new MessageNode(
        'Not allowed to list all buckets: add yours by name',
        'info',
        `Profile "${connection.profileName}" may not call s3:ListAllMyBuckets. Add a bucket or s3:// prefix you can read with "Add Bucket…".`,
        { command: 'researchCloud.buckets.add', title: 'Add Bucket…' },
      );
    }
    const explained = explainAwsError(err, {
      operation: 'Listing buckets',
      action: 's3:ListAllMyBuckets',
      profile: connection.profileName,
      endpoint: await connection.endpoint('s3').catch(() => undefined),
    });
    return new MessageNode(explained.message, 'error', explained.message, {
      command: 'researchCloud.switchConnection',
      title: 'Switch Profile or Region…',
    });
  }

  private async firstPage(folder: FolderNode): Promise<FolderListing> {
    return this.fetchPage(folder, undefined);
  }

  private async fetchPage(folder: FolderNode, token: string | undefined): Promise<FolderListing> {
    const s3 = await this.connection.connection.s3();
    const pageSize = vscode.workspace.getConfiguration('researchCloud').get<number>('s3.pageSize') ?? 1000;
    const page = await listPage(s3, { bucket: folder.bucket, prefix: folder.prefix, filter: folder.filter, continuationToken: token, pageSize });
    return {
      folders: page.prefixes.map((p) => new FolderNode(folder.bucket, p, 'folder', false, folder)),
      objects: page.objects,
      nextToken: page.nextToken,
    };
  }

  private render(folder: FolderNode, listing: FolderListing): BucketsTreeNode[] {
    const objects = sortObjects(listing.objects, this.sortOrder).map((o) => new ObjectNode(folder.bucket, o, folder));
    const children: BucketsTreeNode[] = [...listing.folders, ...objects];
    if (listing.nextToken) children.push(new LoadMoreNode(folder, listing.folders.length + listing.objects.length));
    if (!children.length) {
      children.push(new MessageNode(folder.filter ? `Nothing here starts with "${folder.filter}"` : 'Empty', 'info'));
    }
    return children;
  }

  private listingError(folder: FolderNode, err: unknown): MessageNode {
    const connection = this.connection.connection;
    const explained = explainAwsError(err, {
      operation: `Listing ${folder.uri}`,
      action: 's3:ListBucket',
      resource: s3Arn(folder.bucket),
      profile: connection.profileName,
    });
    const denied = errorCode(err) === 'AccessDenied';
    return new MessageNode(
      denied ? 'Not allowed to list this folder' : explained.message,
      'error',
      denied ? `${explained.message}\n\nIf you may read a prefix inside it, add that prefix with "Add Bucket…" (e.g. s3://${folder.bucket}/your/prefix/).` : explained.message,
      denied ? { command: 'researchCloud.buckets.add', title: 'Add Bucket…', arguments: [`s3://${folder.bucket}/`] } : undefined,
    );
  }
}
