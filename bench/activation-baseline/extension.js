// The activation bench's baseline: the least an extension can do to show 1,000 rows in a tree view.
'use strict';
const vscode = require('vscode');

const ROWS = Array.from({ length: 1000 }, (_, i) => `baseline-file-${i}.dat`);

exports.activate = function activate(context) {
  context.subscriptions.push(vscode.window.createTreeView('baseline.rows', {
    treeDataProvider: {
      getTreeItem: (name) => new vscode.TreeItem(name, vscode.TreeItemCollapsibleState.None),
      getChildren: (row) => (row ? [] : ROWS),
    },
  }));
};

exports.deactivate = function deactivate() {};
