// Typed access to the p2p.* settings: reads and checks them, keeps the last good values, writes them back.
import * as os from 'node:os';
import * as vscode from 'vscode';
import { osUserName } from '../common/os-user';
import { P2PError } from '../protocol/errors';
import {
  P2PSettings,
  SETTINGS_SECTION,
  SETTING_NAMES,
  SettingDefaults,
  SettingKey,
  SettingKeys,
  SettingName,
  SettingProblem,
  SettingsEnvironment,
  parseSettings,
} from './view-model/settings-parse';

export { SettingKeys, SettingDefaults };
export type { P2PSettings, SettingKey, SettingName, SettingProblem };

export interface SettingsChange {
  /** Settings whose checked value changed. */
  changed: ReadonlySet<SettingName>;
  settings: P2PSettings;
}

export function settingsEnvironment(): SettingsEnvironment {
  const folder = vscode.workspace.workspaceFolders?.find((f) => f.uri.scheme === 'file');
  return { homeDir: os.homedir(), workspaceFolder: folder?.uri.fsPath, userName: osUserName() };
}

function same(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

/**
 * The checked settings. A value that fails its check is reported once (until it changes) and the last
 * good value stays in force, so a typo never stops a running peer.
 */
export class Settings implements vscode.Disposable {
  private values: P2PSettings;
  /** key -> the raw value already reported as bad, so one typo gives one notification. */
  private readonly reported = new Map<SettingName, string>();
  private readonly changeEmitter = new vscode.EventEmitter<SettingsChange>();
  private readonly subscription: vscode.Disposable;
  readonly onDidChange = this.changeEmitter.event;

  constructor(private readonly report: (problem: SettingProblem) => void) {
    this.values = this.read(undefined);
    this.subscription = vscode.Disposable.from(
      vscode.workspace.onDidChangeConfiguration((e) => {
        if (e.affectsConfiguration(SETTINGS_SECTION)) this.reload();
      }),
      // A relative p2p.downloadFolder starts at the first workspace folder.
      vscode.workspace.onDidChangeWorkspaceFolders(() => this.reload()),
    );
  }

  get current(): P2PSettings {
    return this.values;
  }

  /** Re-reads everything (workspace folders may have changed the base of a relative folder). */
  reload(): void {
    const before = this.values;
    this.values = this.read(before);
    const changed = new Set(SETTING_NAMES.filter((n) => !same(before[n], this.values[n])));
    if (changed.size > 0) this.changeEmitter.fire({ changed, settings: this.values });
  }

  private read(previous: P2PSettings | undefined): P2PSettings {
    const config = vscode.workspace.getConfiguration();
    const raw: Partial<Record<SettingName, unknown>> = {};
    for (const name of SETTING_NAMES) raw[name] = config.get(SettingKeys[name]);
    const { settings, problems } = parseSettings(raw, settingsEnvironment(), previous);
    const bad = new Set(problems.map((p) => p.name));
    for (const name of SETTING_NAMES) if (!bad.has(name)) this.reported.delete(name);
    for (const p of problems) {
      const shown = JSON.stringify(raw[p.name]) ?? 'undefined';
      if (this.reported.get(p.name) === shown) continue;
      this.reported.set(p.name, shown);
      this.report(p);
    }
    return settings;
  }

  /**
   * Saves a value where it takes effect: the workspace when the workspace already overrides the key
   * (writing the user settings would change nothing), else the user settings.
   */
  async write(name: SettingName, value: unknown): Promise<void> {
    const key = SettingKeys[name];
    const config = vscode.workspace.getConfiguration();
    const where = config.inspect(key);
    const target =
      where?.workspaceFolderValue !== undefined && vscode.workspace.workspaceFolders?.length
        ? vscode.ConfigurationTarget.WorkspaceFolder
        : where?.workspaceValue !== undefined
          ? vscode.ConfigurationTarget.Workspace
          : vscode.ConfigurationTarget.Global;
    try {
      if (target === vscode.ConfigurationTarget.WorkspaceFolder) {
        await vscode.workspace.getConfiguration(undefined, vscode.workspace.workspaceFolders![0].uri).update(key, value, target);
      } else {
        await config.update(key, value, target);
      }
    } catch (e) {
      throw new P2PError('BAD_SETTING', `could not save ${key}: ${e instanceof Error ? e.message : String(e)}`, e);
    }
    this.reload();
  }

  dispose(): void {
    this.subscription.dispose();
    this.changeEmitter.dispose();
  }
}

/** Opens the Settings editor filtered to one setting (or to every P2P setting). */
export function openSettings(key?: SettingKey): Thenable<unknown> {
  return vscode.commands.executeCommand('workbench.action.openSettings', key ?? `@ext:p2p-share.p2p-share`);
}
