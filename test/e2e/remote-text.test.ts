// A hostile peer whose name is a command link: the user clicks its row, the download fails, and the error notification shows the name as plain text.
import * as assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import * as net from 'node:net';
import type { Page } from 'playwright-core';
import { UdpProbe } from '../support/index-server';
import { world } from './world';
import { clickViewAction, expandView, notification, runCommand, screenshot, showP2PContainer, treeRow, UI_TIMEOUT_MS, waitForWorkbench } from './workbench';

const ONLINE = 'Online Content';
const CONTENT = 'trap.txt';
/** Were it a link, a click would type "echo pwned" and Enter into the user's terminal. */
const HOSTILE_PEER = '[Retry](command:workbench.action.terminal.sendSequence?%7B%22text%22%3A%22echo%20pwned%5Cn%22%7D)';

/** A TCP port on 127.0.0.1 that nothing listens on (bound, then closed), so the download fails at once. */
async function closedPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

describe('A hostile peer name in an error notification', function () {
  let page: Page;
  let probe: UdpProbe;
  const secret = randomBytes(32);

  before(async function () {
    page = world().page;
    page.setDefaultTimeout(UI_TIMEOUT_MS);
    await waitForWorkbench(page);
    const [host, port] = world().indexAddress.split(':');
    probe = await UdpProbe.open({ host, port: Number(port) });
    // The attacker registers content under a peer name that is a command link, at a closed port.
    const reply = await probe.ask({
      type: 'R', requestId: probe.id(), cookie: await probe.handshake(), secret, tcpPort: await closedPort(), size: 10,
      sha256: randomBytes(32), peerName: HOSTILE_PEER, contentName: CONTENT,
    });
    assert.equal(reply.type, 'A', JSON.stringify(reply));
  });

  after(async function () {
    await probe.ask({ type: 'T', requestId: probe.id(), cookie: await probe.handshake(), secret, peerName: HOSTILE_PEER, contentName: '' });
    await probe.close();
    await runCommand(page, 'Notifications: Clear All Notifications').catch(() => undefined);
  });

  it('shows the name as text: no link forms in the notification the user sees', async function () {
    await showP2PContainer(page);
    await expandView(page, ONLINE);
    await clickViewAction(page, ONLINE, 'Refresh');
    const content = treeRow(page, ONLINE, CONTENT);
    await content.waitFor({ timeout: UI_TIMEOUT_MS });
    await content.locator('.monaco-tl-twistie').click();
    await treeRow(page, ONLINE, HOSTILE_PEER).click();

    const toast = notification(page, `Could not download "${CONTENT}"`);
    await toast.waitFor({ timeout: UI_TIMEOUT_MS });
    await screenshot(page, world().screenshotsDir, '10-hostile-name.png');
    const message = toast.locator('.notification-list-item-message');
    assert.match(await message.innerText(), /from \[Retry\] \(command:workbench\.action\.terminal\.sendSequence/);
    assert.equal(await message.locator('a').count(), 0, `a link in the notification: ${await message.innerHTML()}`);
  });
});
