import * as vscode from 'vscode';
import { formatBytes, formatDate } from '../../core/format';
import type { ObjectInfo } from '../../s3/listing';
import { baseName, formatS3Uri } from '../../s3/uri';

/** A bucket, or a folder (prefix) inside one: the nodes that list children page by page. */
export class FolderNode {
  /** Prefix filter typed by the user, narrowing this folder's listing server-side. */
  filter?: string;

  constructor(
    readonly bucket: string,
    /** '' for a bucket's top, else ending in '/'. */
    readonly prefix: string,
    readonly kind: 'bucket' | 'folder',
    /** Added by the user by name rather than found by ListBuckets. */
    readonly added = false,
    readonly parent?: FolderNode,
  ) {}

  get id(): string {
    return `${this.kind}:${this.bucket}/${this.prefix}${this.added ? ':added' : ''}`;
  }

  get uri(): string {
    return formatS3Uri(this.bucket, this.prefix);
  }

  toTreeItem(): vscode.TreeItem {
    const label = this.kind === 'bucket' ? (this.prefix ? `${this.bucket}/${this.prefix}` : this.bucket) : baseName(this.prefix);
    const item = new vscode.TreeItem(label, vscode.TreeItemCollapsibleState.Collapsed);
    item.id = this.id;
    item.iconPath = new vscode.ThemeIcon(this.kind === 'bucket' ? 'database' : 'folder');
    item.description = this.filter ? `filter: ${this.filter}*` : undefined;
    item.tooltip = this.uri + (this.filter ? `\nFiltered to names starting with "${this.filter}"` : '');
    item.contextValue = [this.kind, this.added ? 'added' : '', this.filter ? 'filtered' : ''].filter(Boolean).join('.');
    return item;
  }
}

export class ObjectNode {
  constructor(
    readonly bucket: string,
    readonly object: ObjectInfo,
    readonly parent: FolderNode,
  ) {}

  get key(): string {
    return this.object.key;
  }

  get uri(): string {
    return formatS3Uri(this.bucket, this.object.key);
  }

  toTreeItem(): vscode.TreeItem {
    const item = new vscode.TreeItem(baseName(this.object.key) || this.object.key, vscode.TreeItemCollapsibleState.None);
    item.id = `object:${this.bucket}/${this.object.key}`;
    // The resource URI lets the file icon theme pick an icon by extension.
    item.resourceUri = vscode.Uri.from({ scheme: 's3', authority: this.bucket, path: `/${this.object.key}` });
    item.iconPath = vscode.ThemeIcon.File;
    const storageClass = this.object.storageClass ?? 'STANDARD';
    item.description = [formatBytes(this.object.size), formatDate(this.object.lastModified), storageClass].join(' · ');
    item.tooltip = new vscode.MarkdownString(
      [
        `**${this.uri}**`,
        `Size: ${formatBytes(this.object.size)} (${this.object.size.toLocaleString('en-US')} bytes)`,
        `Last modified: ${this.object.lastModified?.toISOString() ?? 'unknown'}`,
        `Storage class: ${storageClass}`,
      ].join('\n\n'),
    );
    item.contextValue = 'object';
    item.command = { command: 'researchCloud.s3.open', title: 'Open Read-Only', arguments: [this] };
    return item;
  }
}

export class LoadMoreNode {
  constructor(readonly folder: FolderNode, readonly loaded: number) {}

  toTreeItem(): vscode.TreeItem {
    const item = new vscode.TreeItem('Load more…', vscode.TreeItemCollapsibleState.None);
    item.id = `more:${this.folder.id}:${this.loaded}`;
    item.iconPath = new vscode.ThemeIcon('ellipsis');
    item.description = `${this.loaded.toLocaleString('en-US')} shown`;
    item.contextValue = 'loadMore';
    item.command = { command: 'researchCloud.buckets.loadMore', title: 'Load More', arguments: [this] };
    return item;
  }
}

/** A line of text in the tree: an error, an empty folder, a hint. */
export class MessageNode {
  constructor(
    readonly text: string,
    readonly icon: 'error' | 'info' | 'warning',
    readonly tooltip?: string,
    readonly command?: vscode.Command,
  ) {}

  toTreeItem(): vscode.TreeItem {
    const item = new vscode.TreeItem(this.text, vscode.TreeItemCollapsibleState.None);
    item.iconPath = new vscode.ThemeIcon(this.icon);
    item.tooltip = this.tooltip ?? this.text;
    item.contextValue = 'message';
    item.command = this.command;
    return item;
  }
}

export type BucketsTreeNode = FolderNode | ObjectNode | LoadMoreNode | MessageNode;

/** The S3 nodes commands act on, from a clicked node and the tree's selection. */
export type S3Node = FolderNode | ObjectNode;

export function isS3Node(node: unknown): node is S3Node {
  return node instanceof FolderNode || node instanceof ObjectNode;
}
