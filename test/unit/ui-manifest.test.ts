// package.json's contributions agree with the ids, settings and defaults the code defines once.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Commands, ContextKeys, ContextValues, Views } from '../../src/extension/view-model/ids';
import { SettingDefaults, SettingKeys, SettingName } from '../../src/extension/view-model/settings-parse';

// Tests run from out/test/unit; the manifest is at the repository root.
const ROOT = path.resolve(__dirname, '..', '..', '..');
const manifest = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8'));
const contributes = manifest.contributes;

describe('ui manifest', () => {
  it('contributes exactly the commands of ids.ts, each in category P2P', () => {
    const ids = contributes.commands.map((c: { command: string }) => c.command).sort();
    assert.deepEqual(ids, Object.values(Commands).sort());
    for (const c of contributes.commands) assert.equal(c.category, 'P2P', c.command);
  });

  it('names every command the brief names, with its title', () => {
    const titles = Object.fromEntries(contributes.commands.map((c: { command: string; title: string }) => [c.command, c.title]));
    assert.equal(titles['p2p.registerFile'], 'Register File');
    assert.equal(titles['p2p.deregisterFile'], 'De-register File');
    assert.equal(titles['p2p.download'], 'Download');
    assert.equal(titles['p2p.refresh'], 'Refresh');
    assert.equal(titles['p2p.quitSharing'], 'Quit Sharing');
    assert.equal(titles['p2p.setPeerName'], 'Set Peer Name');
    assert.equal(titles['p2p.connect'], 'Connect to Index Server');
    assert.equal(titles['p2p.startLocalServer'], 'Start Local Index Server');
    assert.equal(titles['p2p.stopLocalServer'], 'Stop Local Index Server');
    assert.equal(titles['p2p.showLog'], 'Show Log');
  });

  it('has the activity-bar container and both views', () => {
    assert.deepEqual(contributes.viewsContainers.activitybar, [{ id: Views.container, title: 'P2P', icon: 'media/p2p.svg' }]);
    const views = contributes.views[Views.container].map((v: { id: string; name: string }) => [v.id, v.name]);
    assert.deepEqual(views, [
      [Views.online, 'Online Content'],
      [Views.shares, 'My Shares'],
    ]);
  });

  it('activates only on its views and commands, never on "*"', () => {
    assert.ok(!manifest.activationEvents.includes('*'));
    assert.ok(!manifest.activationEvents.includes('onStartupFinished'));
    for (const e of manifest.activationEvents) assert.match(e, /^onView:p2p\./);
  });

  it('refers in menus only to contributed commands, context keys and contextValues of ids.ts', () => {
    const known = new Set(Object.values(Commands) as string[]);
    const values = new Set(Object.values(ContextValues) as string[]);
    // Every p2p.* name in a when clause is a context key or a view id.
    const names = new Set([...Object.values(ContextKeys), Views.online, Views.shares] as string[]);
    for (const [menu, entries] of Object.entries(contributes.menus) as [string, { command: string; when?: string }[]][]) {
      for (const e of entries) {
        assert.ok(known.has(e.command), `${menu}: ${e.command}`);
        for (const m of (e.when ?? '').matchAll(/viewItem == ([\w.]+)/g)) assert.ok(values.has(m[1]), `${menu}: ${m[1]}`);
        for (const m of (e.when ?? '').matchAll(/\bp2p\.\w+/g)) assert.ok(names.has(m[0]), `${menu}: ${m[0]}`);
      }
    }
    for (const w of contributes.viewsWelcome) {
      for (const m of (w.when ?? '').matchAll(/\bp2p\.\w+/g)) assert.ok(names.has(m[0]), `welcome: ${m[0]}`);
      for (const m of w.contents.matchAll(/\(command:([\w.]+)/g)) {
        assert.ok(known.has(m[1]) || m[1].startsWith('workbench.'), `welcome link ${m[1]}`);
      }
    }
  });

  it('hides the status menu from the palette and de-register while nothing is shared', () => {
    const palette = Object.fromEntries(contributes.menus.commandPalette.map((e: { command: string; when: string }) => [e.command, e.when]));
    assert.equal(palette[Commands.statusMenu], 'false');
    assert.equal(palette[Commands.deregisterFile], ContextKeys.hasShares);
    assert.equal(palette[Commands.stopLocalServer], ContextKeys.localServerRunning);
  });

  it('declares every setting with the default the code uses', () => {
    const props = contributes.configuration.properties;
    assert.deepEqual(Object.keys(props).sort(), Object.values(SettingKeys).sort());
    for (const name of Object.keys(SettingKeys) as SettingName[]) {
      assert.deepEqual(props[SettingKeys[name]].default, SettingDefaults[name], name);
      assert.ok(props[SettingKeys[name]].markdownDescription || props[SettingKeys[name]].description, `${name} has a description`);
    }
    assert.equal(props['p2p.refreshIntervalSeconds'].minimum, 2);
    assert.equal(props['p2p.listenPort'].minimum, 0);
    assert.equal(props['p2p.listenPort'].maximum, 65535);
  });

  it('ships an icon and the media it names', () => {
    assert.ok(fs.existsSync(path.join(ROOT, manifest.icon)));
    assert.ok(fs.existsSync(path.join(ROOT, 'media', 'p2p.svg')));
    const png = fs.readFileSync(path.join(ROOT, manifest.icon));
    assert.equal(png.readUInt32BE(16), 128);
    assert.equal(png.readUInt32BE(20), 128);
  });
});
