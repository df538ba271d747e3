import * as vscode from 'vscode';

/**
 * The Cluster view's place in the container. It has no nodes yet, so VS Code shows the view's
 * welcome text from package.json; the cluster feature replaces this provider.
 */
export function registerClusterPlaceholder(): vscode.Disposable {
  return vscode.window.registerTreeDataProvider<vscode.TreeItem>('researchCloud.cluster', {
    getTreeItem: (item) => item,
    getChildren: () => [],
  });
}
