// The activation bench's baseline: the least an extension can do to show 1,000 rows in a tree view.
'use strict';
const vscode = require('vscode');

const ROWS = Array.from({ length: 1000 }, (_, i) => `baseline-file-${i}.dat`);
/** Wall-clock times of activate() and the first getChildren, as the P2P extension keeps its own (bench/activation.ts reads both). */
const marks = {};

exports.activate = function activate(context) {
  marks.activate = Date.now();
  context.subscriptions.push(vscode.window.createTreeView('baseline.rows', {
    treeDataProvider: {
      getTreeItem: (name) => new vscode.TreeItem(name, vscode.TreeItemCollapsibleState.None),
      getChildren: (row) => {
        if (row) return [];
        marks.firstRows ??= Date.now();
        return ROWS;
      },
    },
  }));
  return { startupMarks: () => ({ ...marks }) };
};

exports.deactivate = function deactivate() {};
