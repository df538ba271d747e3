import * as vscode from 'vscode';
import { FolderNode, ObjectNode, type BucketsTreeNode } from './nodes';

/**
 * Dropping files or folders from the Explorer (or the desktop) onto a bucket or folder in the
 * Buckets view uploads them there; dropped on an object, they go next to it.
 */
export class DropToUpload implements vscode.TreeDragAndDropController<BucketsTreeNode> {
  readonly dropMimeTypes = ['text/uri-list', 'files'];
  readonly dragMimeTypes: string[] = [];

  constructor(private readonly uploadTo: (sources: vscode.Uri[], bucket: string, prefix: string) => Promise<void>) {}

  async handleDrop(target: BucketsTreeNode | undefined, data: vscode.DataTransfer): Promise<void> {
    const folder = target instanceof FolderNode ? target : target instanceof ObjectNode ? target.parent : undefined;
    if (!folder) return;
    const text = await data.get('text/uri-list')?.asString();
    const sources = (text ?? '')
      .split(/\r?\n/)
      .map((line) => line.trim())
      .filter((line) => line && !line.startsWith('#'))
      .map((line) => vscode.Uri.parse(line))
      .filter((uri) => uri.scheme === 'file');
    if (sources.length) await this.uploadTo(sources, folder.bucket, folder.prefix);
  }
}
