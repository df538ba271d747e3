import { FolderNode, isS3Node, ObjectNode, type S3Node } from '../buckets/nodes';

/**
 * VS Code passes a tree command the clicked node and, when several are selected, all of them.
 * Commands treat one and many alike through this.
 */
export function selectedNodes(clicked: unknown, selected: unknown): S3Node[] {
  const all = Array.isArray(selected) && selected.length ? selected : [clicked];
  return all.filter(isS3Node);
}

export function selectedObjects(clicked: unknown, selected: unknown): ObjectNode[] {
  return selectedNodes(clicked, selected).filter((n): n is ObjectNode => n instanceof ObjectNode);
}

export function folderOf(node: unknown): FolderNode | undefined {
  if (node instanceof FolderNode) return node;
  if (node instanceof ObjectNode) return node.parent;
  return undefined;
}

/** The key (object) or prefix (folder, bucket) a node stands for. */
export function keyOf(node: S3Node): string {
  return node instanceof ObjectNode ? node.key : node.prefix;
}
