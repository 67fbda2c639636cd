// The activation bench's readiness signal: a status bar item shown once the extension host has finished starting up.
'use strict';
const vscode = require('vscode');

exports.activate = function activate(context) {
  const item = vscode.window.createStatusBarItem(vscode.StatusBarAlignment.Left);
  item.text = 'bench-host-ready';
  item.show();
  context.subscriptions.push(item);
};

exports.deactivate = function deactivate() {};
