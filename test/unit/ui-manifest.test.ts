// package.json's contributions agree with the ids, settings and defaults the code defines once.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Commands, ContextKeys, ContextValues, Views, WALKTHROUGH_ID } from '../../src/extension/view-model/ids';
import { SettingDefaults, SettingKeys, SettingName } from '../../src/extension/view-model/settings-parse';

// Tests run from out/test/unit; the manifest is at the repository root.
const ROOT = path.resolve(__dirname, '..', '..', '..');
const nls: Record<string, string> = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.nls.json'), 'utf8'));
/** The manifest as VS Code shows it in English: every "%key%" replaced from package.nls.json. */
function localised(value: unknown): unknown {
  if (typeof value === 'string') {
    const m = /^%([^%]+)%$/.exec(value);
    if (!m) return value;
    assert.ok(m[1] in nls, `package.nls.json has no "${m[1]}"`);
    return nls[m[1]];
  }
  if (Array.isArray(value)) return value.map(localised);
  if (value && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, localised(v)]));
  return value;
}
const raw = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8'));
const manifest = localised(raw) as typeof raw;
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

  it('takes every user-facing manifest string from package.nls.json, and every nls key is used', () => {
    const used = new Set<string>();
    const walk = (v: unknown): void => {
      if (typeof v === 'string') for (const m of v.matchAll(/^%([^%]+)%$/g)) used.add(m[1]);
      else if (Array.isArray(v)) v.forEach(walk);
      else if (v && typeof v === 'object') Object.values(v).forEach(walk);
    };
    walk(raw);
    assert.deepEqual([...used].sort(), Object.keys(nls).sort());
    for (const c of raw.contributes.commands) assert.match(c.title, /^%.+%$/, c.command);
    for (const v of raw.contributes.viewsWelcome) assert.match(v.contents, /^%.+%$/, v.view);
  });

  it('binds Delete in My Shares to de-register the selection, only while the view has focus and no input does', () => {
    const [binding] = contributes.keybindings.filter((k: { command: string }) => k.command === Commands.deregisterSelected);
    assert.equal(binding.key, 'delete');
    assert.equal(binding.when, `focusedView == ${Views.shares} && !inputFocus`);
  });

  it('offers Share Folder on Explorer folders and the row helpers in the views', () => {
    const explorer = contributes.menus['explorer/context'].map((e: { command: string; when: string }) => [e.command, e.when]);
    assert.deepEqual(explorer.find(([c]: string[]) => c === Commands.shareFolder), [Commands.shareFolder, 'explorerResourceIsFolder && resourceScheme == file']);
    const items = contributes.menus['view/item/context'].map((e: { command: string; when: string }) => `${e.command} ${e.when}`);
    for (const c of [Commands.copyName, Commands.copySha256, Commands.revealInExplorer, Commands.openContainingFolder]) {
      assert.ok(items.some((i: string) => i.startsWith(`${c} view == ${Views.shares}`)), c);
    }
    for (const c of [Commands.downloadTo, Commands.copyName, Commands.copySha256]) {
      assert.ok(items.some((i: string) => i.startsWith(`${c} view == ${Views.online}`)), c);
    }
  });

  it('ships the walkthrough and every media file it names, each let into the .vsix', () => {
    const ignore = fs.readFileSync(path.join(ROOT, '.vscodeignore'), 'utf8').split('\n');
    const [walkthrough] = contributes.walkthroughs;
    assert.equal(walkthrough.id, WALKTHROUGH_ID);
    assert.ok(walkthrough.steps.length >= 3);
    for (const step of walkthrough.steps) {
      const file = step.media.markdown;
      assert.ok(fs.existsSync(path.join(ROOT, file)), file);
      assert.ok(ignore.includes(`!${file}`), `.vscodeignore lets ${file} in`);
    }
    assert.ok(ignore.includes('!package.nls.json'));
  });

  it('ships an icon and the media it names', () => {
    assert.ok(fs.existsSync(path.join(ROOT, manifest.icon)));
    assert.ok(fs.existsSync(path.join(ROOT, 'media', 'p2p.svg')));
    const png = fs.readFileSync(path.join(ROOT, manifest.icon));
    assert.equal(png.readUInt32BE(16), 128);
    assert.equal(png.readUInt32BE(20), 128);
  });

  it("shows in the README only images the .vsix ships, by relative paths (vsce runs with --no-rewrite-relative-links)", () => {
    const readme = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8');
    const ignore = fs.readFileSync(path.join(ROOT, '.vscodeignore'), 'utf8').split('\n');
    const images = [...readme.matchAll(/!\[[^\]]*\]\(([^)\s]+)\)/g)].map((m) => m[1]);
    assert.ok(images.length >= 4, `the README shows ${images.length} screenshots`);
    for (const img of images) {
      // The details page resolves a relative path inside the installed extension; anything else would need a repository URL.
      assert.match(img, /^docs\/images\/[\w-]+\.png$/, img);
      assert.ok(fs.existsSync(path.join(ROOT, img)), `${img} is missing`);
    }
    assert.ok(ignore.includes('!docs/**'), '.vscodeignore must let docs/images into the .vsix');
  });
});
