// Every command id, view id, context key and tree-item contextValue of the extension, defined once.

/** Command ids; package.json contributes exactly these (test/unit/ui-manifest.test.ts checks it). */
export const Commands = {
  registerFile: 'p2p.registerFile',
  deregisterFile: 'p2p.deregisterFile',
  download: 'p2p.download',
  refresh: 'p2p.refresh',
  quitSharing: 'p2p.quitSharing',
  setPeerName: 'p2p.setPeerName',
  connect: 'p2p.connect',
  startLocalServer: 'p2p.startLocalServer',
  stopLocalServer: 'p2p.stopLocalServer',
  showLog: 'p2p.showLog',
  statusMenu: 'p2p.statusMenu',
  /** The next page of the Online Content view (list or search). */
  loadMore: 'p2p.loadMore',
  /** Online Content: show content whose name contains a text. */
  search: 'p2p.search',
  clearSearch: 'p2p.clearSearch',
  /** The Delete key in My Shares: de-registers the rows selected there. */
  deregisterSelected: 'p2p.deregisterSelected',
  shareFolder: 'p2p.shareFolder',
  downloadTo: 'p2p.downloadTo',
  copyName: 'p2p.copyName',
  copySha256: 'p2p.copySha256',
  revealInExplorer: 'p2p.revealInExplorer',
  openContainingFolder: 'p2p.openContainingFolder',
} as const;

export type CommandId = (typeof Commands)[keyof typeof Commands];

export const Views = {
  container: 'p2p',
  online: 'p2p.online',
  shares: 'p2p.shares',
} as const;

/** Keys set with the setContext command; package.json when clauses read them. */
export const ContextKeys = {
  /** 'connecting' | 'connected' | 'unreachable' | 'stopped' */
  state: 'p2p.state',
  hasShares: 'p2p.hasShares',
  localServerRunning: 'p2p.localServerRunning',
  /** Online Content shows a search's hits instead of the list. */
  onlineSearch: 'p2p.onlineSearch',
} as const;

/** TreeItem.contextValue per role; menus key on these with `viewItem == ...`. */
export const ContextValues = {
  content: 'content',
  /** A content only classic peers share (all-zero hash): shown, but offers no Download. */
  classicContent: 'content.classic',
  source: 'source',
  classicSource: 'source.classic',
  share: 'share',
  /** A search hit: one version of a content. */
  hit: 'hit',
  classicHit: 'hit.classic',
  loadMore: 'more',
  searchHeader: 'search',
  notice: 'notice',
} as const;

/** Id of the Getting Started walkthrough (contributes.walkthroughs). */
export const WALKTHROUGH_ID = 'p2p.gettingStarted';

/** Name of the LogOutputChannel that receives the engine's log and every error's details. */
export const LOG_CHANNEL_NAME = 'P2P';

/** Id of the status bar item (users can hide it by this id). */
export const STATUS_ITEM_ID = 'p2p.status';
