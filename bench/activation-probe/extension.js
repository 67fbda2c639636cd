// The activation bench's readiness signal and reporter: a status bar item shown once the extension host has started; clicked, it reports the start-up marks.
'use strict';
const vscode = require('vscode');

/** The extensions whose activate() returns startupMarks(): the measured one and the baseline. */
const MEASURED = { p2p: 'p2p-share.p2p-share', baseline: 'p2p-share-bench.activation-baseline' };

exports.activate = function activate(context) {
  const item = vscode.window.createStatusBarItem(vscode.StatusBarAlignment.Left);
  item.text = 'bench-host-ready';
  // Clicked only after the timed clicks: reading the marks must not run while they are being made.
  item.command = 'activationProbe.reportMarks';
  item.show();
  context.subscriptions.push(item, vscode.commands.registerCommand('activationProbe.reportMarks', () => {
    const report = {};
    for (const [key, id] of Object.entries(MEASURED)) report[key] = vscode.extensions.getExtension(id)?.exports?.startupMarks?.() ?? null;
    // The label is an attribute of the item's element, where the bench reads it whole.
    item.text = 'bench-marks';
    item.accessibilityInformation = { label: `bench-marks:${JSON.stringify(report)}` };
  }));
};

exports.deactivate = function deactivate() {};
